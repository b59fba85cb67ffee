"""``tdca reproduce figS3``: update trajectories on the loss landscape (the papers' Fig. S3).

MNIST, 784-100-10, the scale's full cell (as Figure S2). Three trajectories from one start:
TDCA and TDCA + diffusion (the credit networks Tables S1/S3 evolve, at the rate and inner
optimizer they were evolved for) and BP from the papers' Zero-BP start. BP runs with Adam at
every scale: under SGD its hidden-layer gradients at a start within 1e-16 of zero are
~1e-16 and it never leaves the start (Table 1's Zero-BP rows at scale small); Adam
normalises them away, and it is the optimizer the papers' BP numbers match. Its rate is
picked on validation like every baseline. Panels: TDCA with BP, TDCA with TDCA + diffusion
(the papers' two), and a control the papers lack, BP from two starts within 1e-16 of zero
(seeds 0 and 1); each on the plane of the two principal directions
(``tdca.analysis.trajectories``).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from tdca.analysis import trajectories as tr
from tdca.experiments.classification import (
    learner_parts,
    learner_setup,
    make_split,
    make_task,
)
from tdca.experiments.reproduce import Reproduction, full_cell, row
from tdca.io import read_meta
from tdca.tasks.classification import accuracy, cross_entropy

DATASET = "mnist"
ARCH = "mlp-100"
GRID_POINTS = 25  # the landscape is evaluated on GRID_POINTS x GRID_POINTS plane points
BP_OPTIMIZER = "adam"
LABELS = {
    "tdca": "TDCA",
    "tdca-diffusion": "TDCA+diffusion",
    "zero-bp": "BP",
    "zero-bp-seed1": "BP, another start",
}
# The panels: the papers' two, and a control the papers lack: BP from two starts within
# 1e-16 of zero. If those come out as orthogonal as TDCA and BP, orthogonality says
# nothing about the credit rule.
PAIRS = (("tdca", "zero-bp"), ("tdca", "tdca-diffusion"), ("zero-bp", "zero-bp-seed1"))


def trained_trajectory(
    learner: str, split: Any, steps: int, lr: float, optimizer: str, seed: int = 0
) -> dict[str, Any]:
    """One learner's trajectory (as train_learner's with this seed) and what it reached."""
    key = jax.random.PRNGKey(seed)
    model, strategy, sparams, init = learner_setup(learner, split, ARCH, key)
    task = make_task(split, model, init)
    points = tr.trajectory(
        sparams, task, key, strategy=strategy, steps=steps, optimizer=optimizer, lr=float(lr)
    )
    _, unravel = ravel_pytree(task.init_params(key))
    theta = unravel(points[-1])
    return {
        "points": points,
        "strategy": strategy,
        "sparams": sparams,
        "task": task,
        "key": key,
        "lr": lr,
        "optimizer": optimizer,
        "train_accuracy": float(accuracy(model.apply(theta, task.x), task.y)),
        "test_accuracy": float(accuracy(model.apply(theta, split.x_eval), split.y_eval)),
        "seeds": 1,
    }


def fig_s3(r: Reproduction) -> list[dict[str, Any]]:
    from tdca.plotting.landscape import alignment_figure, landscape_figure

    n, steps = full_cell(r, DATASET)
    split = make_split(DATASET, r.data_dir, n)
    runs: dict[str, dict[str, Any]] = {}
    for method, layout in (("tdca", "dense"), ("tdca-diffusion", "line:10")):
        credit, _ = r.evolution((DATASET,), ARCH, n, steps, layout)
        meta = read_meta(credit)
        runs[method] = trained_trajectory(
            f"tdca:{credit}", split, steps, float(meta["lr"]), meta.get("optimizer", "sgd")
        )
    bp = r.baseline("bp-zero", DATASET, ARCH, n, steps, optimizer=BP_OPTIMIZER)
    runs["zero-bp"] = trained_trajectory("bp-zero", split, steps, bp["lr"], BP_OPTIMIZER)
    # The control: BP against itself from another start within 1e-16 of zero (seed 1).
    runs["zero-bp-seed1"] = trained_trajectory(
        "bp-zero", split, steps, bp["lr"], BP_OPTIMIZER, seed=1
    )

    flat = {m: np.asarray(v["points"], np.float64) for m, v in runs.items()}
    origin = flat["tdca"][0]
    start_gap = max(float(np.abs(p[0] - origin).max()) for p in flat.values())
    if start_gap > 1e-6:
        raise RuntimeError(f"the trajectories do not share a start (gap {start_gap:g})")
    task = runs["tdca"]["task"]
    template = task.init_params(runs["tdca"]["key"])
    panels, compared = [], {}
    for first, other in PAIRS:
        axes = tr.plane(flat[first], flat[other])
        coords = {m: tr.project(flat[m], origin, axes) for m in (first, other)}
        grid = tr.grid_around(list(coords.values()), GRID_POINTS)
        loss = tr.loss_surface(
            lambda th: cross_entropy(task.model.apply(th, task.x), task.y),
            template,
            origin,
            axes,
            grid,
        )
        panels.append(
            {
                "grid": grid,
                "loss": loss,
                "paths": {LABELS[first]: coords[first], LABELS[other]: coords[other]},
                "axes": (
                    f"{LABELS[first]}: principal direction",
                    f"{LABELS[other]}: principal direction (orthogonalised)",
                ),
                "title": f"{LABELS[first]} and {LABELS[other]}",
            }
        )
        compared[other] = (
            {"compared_with": first}
            | tr.compare(flat[first], flat[other])
            | {
                "plane_shows": {m: round(tr.captured(flat[m], origin, axes), 4) for m in coords},
                "plane_coordinates": {m: c.round(5).tolist() for m, c in coords.items()},
            }
        )
    landscape_figure(
        panels,
        r.out / "figS3_mnist.png",
        f"MNIST, {n} images, {steps} steps (BP: the Zero-BP start, Adam at lr {bp['lr']:g})",
    )

    bp_strategy, _, _ = learner_parts("bp", task, runs["tdca"]["key"])
    alignment = {
        m: tr.gradient_alignment(
            runs[m]["strategy"],
            runs[m]["sparams"],
            bp_strategy,
            runs[m]["task"],
            runs[m]["points"],
            runs[m]["key"],
        )
        for m in ("tdca", "tdca-diffusion")
    }
    alignment_figure(
        {"TDCA": alignment["tdca"], "TDCA+diffusion": alignment["tdca-diffusion"]},
        r.out / "figS3_alignment.png",
        "each rule's direction against BP's, along its own trajectory",
    )

    rows = []
    for method, v in runs.items():
        extra: dict[str, Any] = {
            "optimizer": v["optimizer"],
            "displacement": round(float(np.linalg.norm(flat[method][-1] - origin)), 4),
        }
        if method in compared:
            extra |= compared[method]
        if method in alignment:
            a = np.array(alignment[method]["all"], dtype=float)  # None (no angle): NaN
            extra |= {
                "gradient_alignment": round(float(np.nanmean(a)), 4),
                "curve_gradient_alignment": alignment[method],
            }
        rows.append(row(DATASET, method, v, n, steps, (None, None), **extra))
    return rows
