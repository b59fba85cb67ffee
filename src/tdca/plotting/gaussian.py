"""Figures for the mixed-Gaussian experiment (2024 paper Fig. 2 B-F, H-I)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.numpy as jnp
import matplotlib.pyplot as plt  # the package chose the Agg backend first
import numpy as np

from tdca.plotting import save
from tdca.plotting.curves import fitness_figure
from tdca.tasks.gaussian import GaussianTask

BP_COLOUR, TDCA_COLOUR = "tab:blue", "tab:red"


def _surface(task: GaussianTask, k: int, n: int = 120) -> tuple[np.ndarray, ...]:
    g = np.linspace(*task.domain, n)
    xx, yy = np.meshgrid(g, g)
    zz = np.asarray(task.functions[k].value(jnp.asarray(np.stack([xx, yy], -1))))
    return xx, yy, zz


def _trajectory_figure(task: GaussianTask, k: int, traj: dict[str, np.ndarray], path: Path):
    xx, yy, zz = _surface(task, k)
    f = task.functions[k]
    fig = plt.figure(figsize=(11, 4.8))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.plot_surface(xx, yy, zz, cmap="viridis", alpha=0.6, linewidth=0)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.contourf(xx, yy, zz, levels=30, cmap="viridis")
    for name, colour in (("bp", BP_COLOUR), ("tdca", TDCA_COLOUR)):
        t = traj[name][:, k]
        vals = np.asarray(f.value(jnp.asarray(t)))
        ax3.plot(t[:, 0], t[:, 1], vals, "-o", color=colour, ms=2, label=name.upper())
        ax2.plot(t[:, 0], t[:, 1], "-o", color=colour, ms=2, label=name.upper())
    ax2.plot(*f.global_min, "w*", ms=12, label="global min")
    ax2.plot(*f.local_min, "wX", ms=9, label="local min")
    ax2.legend(loc="lower right", fontsize=8)
    ax3.set_title("surface"), ax2.set_title("contour")
    fig.suptitle(f"Mixed Gaussian {k + 1}: BP (blue) vs TDCA (red) from {f.start}")
    save(fig, path)


def _field_figure(task: GaussianTask, k: int, arrays: dict[str, Any], path: Path):
    xx, yy, zz = _surface(task, k)
    pts = arrays["field_points"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, name in zip(axes, ("bp", "tdca"), strict=True):
        vec = arrays[f"{name}_field"][k]
        mag = np.linalg.norm(vec, axis=-1)
        unit = vec / np.maximum(mag, 1e-12)[:, None]
        ax.contour(xx, yy, zz, levels=15, colors="0.7", linewidths=0.7)
        q = ax.quiver(
            pts[:, 0],
            pts[:, 1],
            unit[:, 0],
            unit[:, 1],
            np.log10(mag + 1e-12),
            cmap="viridis",
            scale=30,
        )
        fig.colorbar(q, ax=ax, label="log10 step length")
        ax.plot(*task.functions[k].global_min, "k*", ms=12)
        ax.plot(*task.functions[k].local_min, "kX", ms=9)
        ax.set_title(f"{name.upper()} update field (direction; colour = step length)")
        ax.set_aspect("equal")
    save(fig, path)


def plot_gaussian_run(
    out: Path,
    task: GaussianTask,
    analysis: dict[str, Any],
    arrays: dict[str, Any],
    history: list[dict[str, Any]],
) -> list[Path]:
    paths = []
    for k in range(task.num_functions):
        suffix = f"_task{k + 1}" if task.multi_task else ""
        paths.append(out / f"trajectory{suffix}.png")
        _trajectory_figure(task, k, arrays["trajectories"], paths[-1])
        paths.append(out / f"fields{suffix}.png")
        _field_figure(task, k, arrays, paths[-1])
    paths.append(out / "fitness.png")
    fitness_figure(history, paths[-1])
    return paths
