"""Which inner lr each cached small-scale evolution would start at under two rules.

The evolutions maximise minus the cross-entropy, but ``pick_inner_lr`` picks the starting
inner lr by validation *accuracy* (cross-entropy only when every rate is at chance). This
recomputes, for every run in results/small/cache/evolutions, both picks from the same
validation measurements, to show where the two rules disagree. Writes nothing; its output
is committed as results/cpu/lr-picks.txt.

Usage: TDCA_DATA_DIR=/path/to/data python results/cpu/lr_picks.py
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from tdca.experiments.classification import (
    EvolveConfig,
    build_model,
    make_split,
    make_task,
    pick_inner_lr,
    starting_point,
)

ROOT = Path(__file__).resolve().parents[2] / "results/small/cache/evolutions"

print("run | lr used | accuracy rule | cross-entropy rule | val. accuracy | val. cross-entropy")
for d in sorted(ROOT.iterdir()):
    saved = json.loads((d / "config.json").read_text())
    cfg = replace(EvolveConfig.from_dict(saved), lr=None)
    split = make_split(cfg.datasets[0], cfg.data_dir, cfg.train_size)
    strategy, beta0 = starting_point(
        cfg, make_task(split, build_model(cfg.arch, split.dataset), "zero")
    )
    sel = pick_inner_lr(strategy, beta0, cfg)
    by_ce = sel["grid"][int(np.argmin(sel["validation_cross_entropy"]))]
    accs = [round(x, 3) for x in sel["validation_accuracy"]]
    ces = [round(x, 3) for x in sel["validation_cross_entropy"]]
    print(f"{d.name} | {saved['lr']} | {sel['lr']} | {by_ce} | {accs} | {ces}", flush=True)
