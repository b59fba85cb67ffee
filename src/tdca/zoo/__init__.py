"""A zoo of evolved credit networks shipped with the package.

Each entry is a credit network (``NAME.npz``, the same self-describing file ``tdca evolve``
writes) and a card (``NAME.json``): how it was made (the exact command, device,
generations, fitness curve) and the accuracies it gave, each with its protocol, next to
baselines run the same way. Use one anywhere a credit network is accepted::

    tdca train --dataset mnist --learner tdca:zoo/mnist-1000-20 --train-size 1000 --steps 20

or from Python with ``tdca.zoo.path("mnist")``. ``tests/test_zoo.py`` retrains a bottom-up
network with every entry on a CPU and checks the recorded accuracies (within 0.2 points).
Cards are written by ``results/gpu/make_zoo.py`` from the run directories under
``results/gpu``: no number on a card is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ZOO_DIR = Path(__file__).parent
PREFIX = "zoo/"
"""``tdca:zoo/NAME`` names a zoo entry wherever a credit-network path is accepted."""


def names() -> list[str]:
    """The shipped entries, sorted."""
    return sorted(p.stem for p in ZOO_DIR.glob("*.npz"))


def path(name: str) -> Path:
    """The credit-network file of an entry (a clear error listing the entries otherwise)."""
    file = ZOO_DIR / f"{name}.npz"
    if not name or "/" in name or not file.is_file():
        raise FileNotFoundError(f"no zoo entry {name!r}; the zoo has: {', '.join(names())}")
    return file


def card(name: str) -> dict[str, Any]:
    """The entry's card: provenance and recorded accuracies."""
    path(name)
    return json.loads((ZOO_DIR / f"{name}.json").read_text())


def is_zoo_reference(source: str | Path) -> bool:
    return str(source).startswith(PREFIX)


def resolve_reference(source: str | Path) -> Path:
    """``zoo/NAME`` -> the entry's file; anything else is returned unchanged."""
    if is_zoo_reference(source):
        return path(str(source)[len(PREFIX) :])
    return Path(source)


def train_with(
    name: str, row: dict[str, Any] | None = None, data_dir: str | None = None
) -> dict[str, Any]:
    """Train a fresh bottom-up network with entry ``name`` under one of its recorded
    protocols (``row`` from its card; the first by default): same data set, training-set
    size, steps, inner lr, optimizer and seed, so the result is comparable to the card."""
    from tdca.experiments.classification import make_split, train_learner

    row = card(name)["recorded"][0] if row is None else row
    split = make_split(row["dataset"], data_dir, row["train_size"])
    return train_learner(
        f"tdca:{PREFIX}{name}",
        split,
        steps=row["steps"],
        lr=row["lr"],
        seed=row["seed"],
        optimizer=row["optimizer"],
        curves=False,
    )
