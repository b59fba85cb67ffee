"""Evaluate every kept leg of the H200 MNIST 1,000/20 evolutions on this machine's CPU.

For each ``mnist-1000-20-*/legs/credit_net-gN.npz`` (or ``snapshots/``, where a run kept its
centre with ``--keep-every`` instead of running in legs) it trains a fresh 784-100-10 network on
the cell's 1,000 images for 20 steps at the run's inner lr and records
* ``validation_accuracy``: on the 5,000 training images after the cell's 1,000 (the split
  the inner lr is picked on; no run here was scored on them), so a generation count can be
  chosen without the test set;
* ``test_accuracy``: on the 10,000 test images, as on the GPU (a CPU re-run: float32
  instead of the GPU's default TF32 matmuls).
Writes ``legs/cpu-eval.json`` (or ``snapshots/``) per run (runs whose file covers every leg
are skipped).

    TDCA_DATA_DIR=../shared/data python results/gpu/h200/legs_validation.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from tdca.experiments.classification import make_split, train_learner

    splits = {
        "validation": make_split("mnist", None, 1000, validation=True),
        "test": make_split("mnist", None, 1000),
    }
    for run in sorted(HERE.glob("mnist-1000-20-*/")):
        cfg = json.loads((run / "config.json").read_text())
        kept = run / "legs" if (run / "legs").is_dir() else run / "snapshots"
        nets = sorted(
            kept.glob("credit_net-g*.npz"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1])
        )
        done = kept / "cpu-eval.json"
        if done.exists() and len(json.loads(done.read_text())) == len(nets):
            continue  # every kept leg evaluated already (delete the file to redo it)
        rows = []
        for net in nets:
            row: dict = {"generation": int(re.findall(r"\d+", net.stem)[-1])}
            for name, split in splits.items():
                m = train_learner(
                    f"tdca:{net}", split, steps=cfg["steps"], lr=cfg["lr"], curves=False
                )
                row[f"{name}_accuracy"] = m["test_accuracy"]
                row["train_accuracy"] = m["train_accuracy"]
            rows.append(row)
            print(run.name, row, flush=True)
        done.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
