"""Retrain bottom-up networks with zoo entries and compare with their recorded accuracies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tdca import zoo
from tdca.data import load_dataset

TOLERANCE = 0.002
"""0.2 percentage points: what the zoo promises across devices (GPU-recorded, CPU-checked)."""


def verify_row(name: str, row: dict[str, Any], data_dir: str | None) -> dict[str, Any]:
    """Train a fresh network with entry ``name`` under one recorded protocol and compare."""
    m = zoo.train_with(name, row, data_dir)
    diff = max(
        abs(m["train_accuracy"] - row["train_accuracy"]),
        abs(m["test_accuracy"] - row["test_accuracy"]),
    )
    return {
        "entry": name,
        "dataset": row["dataset"],
        "train_size": row["train_size"],
        "steps": row["steps"],
        "recorded_test_accuracy": row["test_accuracy"],
        "test_accuracy": m["test_accuracy"],
        "recorded_train_accuracy": row["train_accuracy"],
        "train_accuracy": m["train_accuracy"],
        "max_abs_difference": diff,
        "ok": diff <= TOLERANCE,
    }


def verify(
    names: list[str] | None = None,
    data_dir: str | None = None,
    max_train_size: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every recorded row of the named entries (all by default), optionally only those
    trained on at most ``max_train_size`` images (a quick check). Every data set the rows
    need is loaded first, so a missing one (CIFAR-10 has no download) is said before minutes
    of training, not after; ``on_row`` sees each row as it is done."""
    todo = [
        (name, row)
        for name in names or zoo.names()
        for row in zoo.card(name)["recorded"]
        if max_train_size is None or row["train_size"] <= max_train_size
    ]
    for dataset in dict.fromkeys(row["dataset"] for _, row in todo):
        # a clear DatasetError now; the rows then read the converted cache again (well
        # under a second here, against minutes of training)
        load_dataset(dataset, data_dir)
    rows = []
    for name, row in todo:
        rows.append(verify_row(name, row, data_dir))
        if on_row is not None:
            on_row(rows[-1])
    return rows
