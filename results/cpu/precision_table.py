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
PRECISIONS = ("default", "bfloat16-activations")
SEEDS = (0, 1, 2)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _run(precision: str, seed: int) -> dict:
    d = RUNS / f"{precision}-seed{seed}"
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
        "| precision | seed | inner lr | centre fitness | train % | test % | its start, test % "
        "| DFA at that lr, test % | s / generation (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tests: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for p in PRECISIONS:
        for s in SEEDS:
            r = _run(p, s)
            tests[p].append(r["result"]["test_accuracy"])
            sec = "–" if r["sec_per_gen"] is None else f"{r['sec_per_gen']:.2f}"
            lines.append(
                f"| {p} | {s} | {r['lr']} | {r['fitness']:.4f} "
                f"| {_pct(r['result']['train_accuracy'])} | {_pct(r['result']['test_accuracy'])} "
                f"| {_pct(r['start']['test_accuracy'])} | {_pct(r['dfa']['test_accuracy'])} "
                f"| {sec} |"
            )
    mean = {p: statistics.mean(v) for p, v in tests.items()}
    std = {p: statistics.stdev(v) for p, v in tests.items()}
    diffs = [b - a for a, b in zip(tests["default"], tests["bfloat16-activations"], strict=True)]
    lines += [
        "",
        f"Mean test accuracy over the {len(SEEDS)} seeds: default "
        f"{_pct(mean['default'])} ± {_pct(std['default'])}, bfloat16-activations "
        f"{_pct(mean['bfloat16-activations'])} ± {_pct(std['bfloat16-activations'])}; "
        f"difference (bf16 − default) {100 * (mean['bfloat16-activations'] - mean['default']):+.2f} "
        f"points (per seed: {', '.join(f'{100 * d:+.2f}' for d in diffs)}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
