"""Profile one generation of the benchmark configuration and list where GPU time goes.

Traces one (warm) ``Evolution.step`` with ``jax.profiler`` (Perfetto JSON), then sums the
device kernels' durations by name and prints the top ones with their share of the total,
so optimisation starts from a measurement, not a guess.

    python benchmarks/profile_generation.py --out DIR [--precision tf32|bfloat16|float32]
        [--population 64] [--examples 60000] [--steps 150] [--kernel xla|fused]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jax

from tdca.bench import PRECISIONS, BenchConfig, build, make_task
from tdca.kernels import KERNELS
from tdca.precision import matmul_precision


def kernel_table(trace_file: Path, top: int = 25) -> dict[str, Any]:
    """Total duration per kernel name from a Perfetto/Chrome trace (complete 'X' events on
    device streams; host-side Python and runtime events are left out)."""
    with gzip.open(trace_file) as f:
        data = json.loads(f.read())
    events = data["traceEvents"] if isinstance(data, dict) else data
    pids = {
        e["pid"]: e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "process_name" and "args" in e
    }
    device_pids = {p for p, n in pids.items() if "/device:" in n.lower() or "gpu" in n.lower()}
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for e in events:
        if e.get("ph") == "X" and e.get("pid") in device_pids and "dur" in e:
            totals[e["name"]] += e["dur"]
            counts[e["name"]] += 1
    total = sum(totals.values())
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return {
        "device_processes": [pids[p] for p in device_pids],
        "total_kernel_us": total,
        "kernels": [
            {"name": n[:120], "us": round(t, 1), "share": round(t / total, 4), "calls": counts[n]}
            for n, t in rows
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--precision", choices=tuple(PRECISIONS), default="tf32")
    p.add_argument("--population", type=int, default=64)
    p.add_argument("--examples", type=int, default=60_000)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--kernel", choices=KERNELS, default="xla", help="tdca's step (tdca.kernels)")
    args = p.parse_args(argv)
    cfg = BenchConfig(
        examples=args.examples, population=args.population, steps=args.steps, kernel=args.kernel
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with matmul_precision(args.precision):
        task = make_task(cfg, jax.random.PRNGKey(0))
        evo, _, beta0, _ = build(cfg, task)
        state = evo.init(jax.random.PRNGKey(0), beta0)
        for g in range(2):
            state, _ = jax.block_until_ready(evo.step(state, task, jax.random.PRNGKey(g)))
        trace_dir = args.out / f"trace-{args.precision}"
        with jax.profiler.trace(str(trace_dir), create_perfetto_trace=True):
            jax.block_until_ready(evo.step(state, task, jax.random.PRNGKey(9)))
        hlo = evo.step.lower(state, task, jax.random.PRNGKey(9)).compile().as_text()
    (args.out / f"hlo-{args.precision}.txt").write_text(hlo)
    found = sorted(trace_dir.rglob("perfetto_trace.json.gz"))
    if not found:
        print(f"no perfetto trace under {trace_dir}", file=sys.stderr)
        return 1
    table = kernel_table(found[-1])
    (args.out / f"kernels-{args.precision}.json").write_text(json.dumps(table, indent=2) + "\n")
    print(f"total device kernel time {table['total_kernel_us'] / 1e3:.1f} ms")
    for r in table["kernels"]:
        print(f"{100 * r['share']:6.2f}%  {r['us'] / 1e3:9.2f} ms  x{r['calls']:<6} {r['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
