"""The papers' Figure S3: trajectories on the loss landscape of their principal plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt  # the package chose the Agg backend first
import numpy as np

from tdca.plotting import save


def landscape_figure(panels: list[dict[str, Any]], path: Path, title: str) -> None:
    """One contour panel per pair: ``grid`` (n, n, 2) plane coordinates, ``loss`` (n, n),
    ``paths`` {name: (steps + 1, 2) coordinates}, ``axes`` (x label, y label)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.8), squeeze=False)
    for ax, p in zip(axes[0], panels, strict=True):
        g, loss = p["grid"], np.asarray(p["loss"])
        finite = loss[np.isfinite(loss)]
        levels = np.quantile(finite, np.linspace(0, 1, 25)) if finite.size else 10
        cs = ax.contourf(g[..., 0], g[..., 1], loss, levels=np.unique(levels), cmap="viridis")
        fig.colorbar(cs, ax=ax, label="training cross-entropy")
        for i, (name, c) in enumerate(p["paths"].items()):
            c = np.asarray(c)
            ax.plot(c[:, 0], c[:, 1], "-", color=f"C{i + 1}", lw=2, label=name)
            ax.plot(*c[0], "o", color="white", ms=5)
            ax.plot(*c[-1], "*", color=f"C{i + 1}", ms=12, mec="black")
        ax.set_xlabel(p["axes"][0])
        ax.set_ylabel(p["axes"][1])
        ax.set_title(p.get("title", ""))
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(title)
    save(fig, path)


def alignment_figure(curves: dict[str, dict[str, list[float]]], path: Path, title: str) -> None:
    """Cosine with BP's direction per inner step: all parameters (solid), per layer
    (thinner), one colour per rule."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (name, c) in enumerate(curves.items()):
        c = {k: np.array(v, dtype=float) for k, v in c.items()}  # None (no angle): a gap
        steps = range(len(c["all"]))
        ax.plot(steps, c["all"], "-", color=f"C{i}", lw=2, label=f"{name}: all")
        for j, key in enumerate(k for k in c if k != "all"):
            style = ("--", ":", "-.")[j % 3]
            ax.plot(steps, c[key], style, color=f"C{i}", lw=1, label=f"{name}: {key}")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("inner step")
    ax.set_ylabel("cosine with BP's direction")
    ax.set_title(title)
    ax.legend(fontsize=7)
    save(fig, path)
