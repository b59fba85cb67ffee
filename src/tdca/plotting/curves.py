"""Generic curves: evolution fitness and accuracy against inner step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def fitness_figure(history: list[dict[str, Any]], path: Path) -> None:
    """Population mean/best and search-centre fitness per generation."""
    if not history:
        return
    g = [r["generation"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(g, [r["mean_fitness"] for r in history], label="population mean")
    ax.plot(g, [r["best_fitness"] for r in history], label="population best")
    ax.plot(g, [r["centre_fitness"] for r in history], label="search centre")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_curves(curves: dict[str, dict[str, list[float]]], path: Path, title: str) -> None:
    """Train (solid) and test (dashed) accuracy against inner step, one colour per method."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (name, c) in enumerate(curves.items()):
        colour = f"C{i}"
        steps = range(1, len(c["train"]) + 1)
        ax.plot(steps, c["train"], "-", color=colour, label=f"{name} train")
        ax.plot(steps, c["test"], "--", color=colour, label=f"{name} test")
    ax.set_xlabel("inner step")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
