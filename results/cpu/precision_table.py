"""Print the bf16-activations accuracy comparison of results/cpu/precision.sh as markdown.

Every number is read from the run directories' metrics.json / config.json / metrics.jsonl.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "results" / "cpu" / "precision"
VARIANTS = {
    "default": "default (float32 on a CPU)",
    "bfloat16-activations": "bfloat16-activations, lr picked under it",
    "bfloat16-activations-default-lr": "bfloat16-activations at the default run's lr",
}
SEEDS = (0, 1, 2)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _run(variant: str, seed: int) -> dict:
    d = RUNS / f"{variant}-seed{seed}"
    metrics = json.loads((d / "metrics.json").read_text())
    config = json.loads((d / "config.json").read_text())
    history = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    seconds = [h["seconds"] for h in history[2:] if "seconds" in h]
    return {
        "result": metrics["results"][0],
        "start": metrics["at_start"][0],
        "dfa": metrics["dfa_at_same_lr"][0],
        "lr": config["lr"],
        "fitness": metrics["evolution"]["final_centre_fitness"],
        "sec_per_gen": statistics.median(seconds) if seconds else None,
    }


def render() -> str:
    lines = [
        "| run | seed | inner lr | centre fitness | train % | test % | its start, test % "
        "| DFA at that lr, test % | s / generation (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tests: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for v, label in VARIANTS.items():
        for s in SEEDS:
            r = _run(v, s)
            tests[v].append(r["result"]["test_accuracy"])
            sec = "–" if r["sec_per_gen"] is None else f"{r['sec_per_gen']:.2f}"
            lines.append(
                f"| {label} | {s} | {r['lr']} | {r['fitness']:.4f} "
                f"| {_pct(r['result']['train_accuracy'])} | {_pct(r['result']['test_accuracy'])} "
                f"| {_pct(r['start']['test_accuracy'])} | {_pct(r['dfa']['test_accuracy'])} "
                f"| {sec} |"
            )
    lines += ["", f"Test accuracy over the {len(SEEDS)} evolution seeds (mean ± std):", ""]
    base = tests["default"]
    for v, label in VARIANTS.items():
        line = f"* {label}: {_pct(statistics.mean(tests[v]))} ± {_pct(statistics.stdev(tests[v]))}"
        if v != "default":
            diffs = [b - a for a, b in zip(base, tests[v], strict=True)]
            line += (
                f"; minus default {100 * statistics.mean(diffs):+.2f} points "
                f"(per seed: {', '.join(f'{100 * d:+.2f}' for d in diffs)})"
            )
        lines.append(line + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
