"""docs/performance.md's CPU sections, from the run directories ``run.sh`` beside this file
writes (``results/cpu/bench/*``): each region between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` is rewritten from those files, the prose around it is kept.

    python results/cpu/bench/tables.py            # rewrite the regions
    python results/cpu/bench/tables.py --check    # exit 1 if the page differs from the files
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tdca.bench import format_table, rows_to_markdown

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
DOC = ROOT / "docs" / "performance.md"
REL = HERE.relative_to(ROOT)
SELECTED = (
    "seconds_per_generation",
    "generation_seconds",
    "compile_and_first_generation_seconds",
    "centre_score_compile_and_first_seconds",
    "centre_score_seconds",
    "centre_score_repeatable",
    "reference_seconds_per_generation",
    "reference_fitness_max_rel_diff",
    "reference_state_max_abs_diff",
    "flops_per_generation",
    "flops_per_generation_xla",
    "xla_raw_flops",
    "xla_counts_loop_trips",
    "xla_over_analytic_flops",
    "achieved_tflops",
    "peak_tflops",
    "fraction_of_peak",
    "speedup_vs_reference",
    "memory",
    "bench_wall_seconds",
    "host_load_average_1min",
)


def _json(name: str, file: str = "metrics.json") -> dict:
    return json.loads((HERE / name / file).read_text())


def _command(flags: str, name: str) -> str:
    return f"```\npython benchmarks/throughput.py {flags} --out {REL}/{name}\n```"


def _bench(name: str, flags: str, selected: bool = False) -> str:
    m = _json(name)
    parts = [_command(flags, name), format_table(m)]
    if selected:
        fields = {k: m[k] for k in SELECTED if k in m}
        parts += [
            f"Selected fields of `{REL}/{name}/metrics.json`:",
            "```json\n" + json.dumps(fields, indent=2) + "\n```",
        ]
    return "\n\n".join(parts)


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def _fits(names: tuple[str, ...]) -> str:
    """What fits 80 GB by XLA:CPU's memory analysis (``tdca.bench.memory_fit``)."""
    rows, fits = [], []
    for name in names:
        plan = _json(name, "plan.json")
        fit, cfg = plan["fits_80gb"], plan["config"]
        fits.append(fit)
        rows.append(
            {
                "plan": f"`{REL}/{name}`",
                f"largest population, one vmap, {cfg['examples']:,} examples": fit[
                    "largest_population_one_vmap"
                ],
                f"largest training set, population {cfg['population']}, one vmap": fit[
                    "largest_examples_one_vmap"
                ],
                "largest training set, one candidate at a time": fit[
                    "largest_examples_chunk_of_one"
                ],
            }
        )
    budget = fits[0]
    return (
        f"Within {budget['headroom']:.0%} of {budget['budget_bytes'] / 1e9:.0f} GB "
        "(`fits_80gb` in each plan's plan.json). `auto_chunk_size` takes the same share, but "
        "of the memory the device's allocator reports free, which under JAX's default "
        "preallocation is about 75% of the card, so on an 80 GB card it chunks below these "
        "populations:\n\n" + rows_to_markdown(rows)
    )


def regions() -> dict[str, str]:
    bf16 = _json("plan-bfloat16-activations", "plan.json")["memory"]
    f32 = _json("plan-float32", "plan.json")["memory"]
    return {
        "small-float32": _bench("small-float32", "--small --scaling --chunking", selected=True),
        "small-tf32": _bench("small-tf32", "--small --precision tf32"),
        "small-bfloat16": _bench("small-bfloat16", "--small --precision bfloat16"),
        "scaling": rows_to_markdown(_json("small-float32", "scaling.json")),
        "chunking": rows_to_markdown(_json("small-float32", "chunking.json")),
        "plan-float32": _command("--plan", "plan-float32")
        + "\n\n```json\n"
        + json.dumps(_json("plan-float32", "plan.json"), indent=2)
        + "\n```",
        "plan-bfloat16-activations": (
            "`python benchmarks/throughput.py --plan --precision bfloat16-activations --out "
            f"{REL}/plan-bfloat16-activations` gives {_mb(bf16['per_candidate'])} per "
            f"candidate against {_mb(f32['per_candidate'])} for float32 (the plan above), "
            f"and {_mb(bf16['fixed'])} fixed against {_mb(f32['fixed'])}: the fixed part "
            f"grows by {_mb(bf16['fixed'] - f32['fixed'])}, where X (60,000 x 784) takes "
            f"{_mb(60_000 * 784 * 4)} in float32 and {_mb(60_000 * 784 * 2)} in bfloat16."
        ),
        "fits-80gb": _fits(("plan-float32", "plan-bfloat16-activations")),
    }


def render(text: str) -> str:
    for name, body in regions().items():
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(\n<!-- /bench:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: no region bench:{name}")
        text = pattern.sub(lambda m, b=body: m.group(1) + b + m.group(2), text)
    return text


def main() -> int:
    old = DOC.read_text()
    new = render(old)
    if "--check" in sys.argv[1:]:
        if new != old:
            print(f"{DOC} differs from {REL}/*; run python {REL}/tables.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
