"""Generic curves: evolution fitness and accuracy against inner step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt  # the package chose the Agg backend first

from tdca.plotting import save


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
    save(fig, path)


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
    save(fig, path)


def convergence_figure(
    curves: dict[str, dict[str, list[float | None]]], path: Path, title: str
) -> None:
    """The papers' Figure S1: the search centre's cross-entropy (a) and accuracy (b) per
    generation, one line per data set. A series a run did not record is left out."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for panel, (ax, key, label) in enumerate(
        zip(axes, ("loss", "accuracy"), ("cross-entropy", "accuracy"), strict=True)
    ):
        for i, (name, c) in enumerate(curves.items()):
            points = [(g, v) for g, v in zip(c["generation"], c[key], strict=True) if v is not None]
            if points:
                ax.plot(*zip(*points, strict=True), color=f"C{i}", label=name)
        ax.set_xlabel("generation")
        ax.set_ylabel(f"search centre: {label}")
        ax.set_title(f"({'ab'[panel]}) {label}")
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not recorded by these runs", ha="center", transform=ax.transAxes)
    fig.suptitle(title)
    save(fig, path)


def return_curves(
    learners: dict[str, dict[str, Any]],
    path: Path,
    title: str,
    xlabel: str = "inner step (one batch of episodes)",
    ylabel: str = "greedy return",
) -> None:
    """Greedy return (or another fitness) against inner step, mean +- std over seeds, one
    colour per learner."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (name, m) in enumerate(learners.items()):
        mean, std = np.asarray(m["curve_mean"]), np.asarray(m["curve_std"])
        steps = np.arange(len(mean))
        ax.plot(steps, mean, color=f"C{i}", label=name)
        ax.fill_between(steps, mean - std, mean + std, color=f"C{i}", alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    save(fig, path)
