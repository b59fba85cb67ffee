"""Update trajectories of a bottom-up network, and the loss landscape around them.

The papers' Figure S3 draws the parameter trajectories of TDCA, TDCA + diffusion and BP on
the loss landscape of the plane spanned by their principal directions and reads them as
"almost orthogonal". The papers give neither the plane's origin nor how BP's different
start was handled; here every trajectory starts from the same point (the zero start TDCA is
evolved for; BP from the papers' Zero-BP start, within 1e-16 of it), so one plane through
that point shows each trajectory and the loss along it faithfully. The papers' visual claim
becomes numbers: the cosine between two methods' principal directions and between their net
displacements, next to the cosine two random directions have in as many dimensions
(about 1/sqrt(P): in 79,510 dimensions, "orthogonal" is what chance gives). Beyond the
papers: how well each rule's direction aligns with the gradient along its own trajectory.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from tdca.inner import OPTIMIZERS, InnerLoop
from tdca.tasks.base import Task


@functools.partial(jax.jit, static_argnames=("strategy", "steps", "optimizer", "lr"))
def trajectory(
    sparams: Any,
    task: Task,
    key: jax.Array,
    *,
    strategy: Any,
    steps: int,
    optimizer: str,
    lr: float,
) -> jax.Array:
    """The flattened parameters at the start and after each of ``steps`` inner steps,
    shape (steps + 1, P): the run ``train_learner`` makes with the same key."""
    theta0 = task.init_params(jax.random.split(key)[0])  # InnerLoop.run's own init key
    loop = InnerLoop(strategy, steps, optimizer=OPTIMIZERS[optimizer](lr))
    _, trace = loop.run(sparams, task, key, theta0=theta0, record=lambda t, th: ravel(th))
    return jnp.concatenate([ravel(theta0)[None], trace])


def ravel(theta: Any) -> jax.Array:
    return ravel_pytree(theta)[0]


def principal_direction(points: np.ndarray) -> np.ndarray:
    """Unit first principal direction of a trajectory (rows are points), oriented along its
    net displacement so that the sign of a cosine between two of them means something."""
    points = np.asarray(points, np.float64)
    _, _, vt = np.linalg.svd(points - points.mean(0), full_matrices=False)
    d = vt[0]
    return -d if d @ (points[-1] - points[0]) < 0 else d


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine of the angle between two vectors (0 where either is zero)."""
    u, v = np.asarray(u, np.float64).ravel(), np.asarray(v, np.float64).ravel()
    norm = np.linalg.norm(u) * np.linalg.norm(v)
    return float(u @ v / norm) if norm > 0 else 0.0


def plane(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal axes: ``first``'s principal direction, then ``second``'s with the part
    along the first removed. Two trajectories along one line span no plane: refused."""
    e1 = principal_direction(first)
    d2 = principal_direction(second)
    d2 = d2 - (d2 @ e1) * e1
    if np.linalg.norm(d2) < 1e-6:
        raise ValueError("the two trajectories run along the same line; they span no plane")
    return e1, d2 / np.linalg.norm(d2)


def project(points: np.ndarray, origin: np.ndarray, axes: tuple[np.ndarray, ...]) -> np.ndarray:
    """Coordinates (rows: points) of ``points - origin`` along each of ``axes``."""
    d = np.asarray(points, np.float64) - origin
    return np.stack([d @ a for a in axes], axis=-1)


def captured(points: np.ndarray, origin: np.ndarray, axes: tuple[np.ndarray, ...]) -> float:
    """Share of a trajectory's net displacement the plane shows (1: it lies in the plane)."""
    net = np.asarray(points[-1], np.float64) - origin
    norm = np.linalg.norm(net)
    return float(np.linalg.norm(project(net[None] + origin, origin, axes)) / norm) if norm else 1.0


def compare(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """The papers' orthogonality claim for two trajectories from one start, as numbers."""
    p = first.shape[1]
    return {
        "cos_principal": round(cosine(principal_direction(first), principal_direction(second)), 4),
        "cos_displacement": round(cosine(first[-1] - first[0], second[-1] - second[0]), 4),
        "chance_cos": round(1.0 / np.sqrt(p), 4),  # std of the cosine of random directions
    }


def grid_around(coords: list[np.ndarray], points: int, margin: float = 0.2) -> np.ndarray:
    """``points`` x ``points`` plane coordinates covering every trajectory with a margin."""
    c = np.concatenate(coords)
    lo, hi = c.min(0), c.max(0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], points)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], points)
    return np.stack(np.meshgrid(xs, ys), axis=-1)  # (points, points, 2): [row = y, col = x]


def loss_surface(
    loss: Any,
    template: Any,
    origin: np.ndarray,
    axes: tuple[np.ndarray, np.ndarray],
    grid: np.ndarray,
    chunk: int = 64,
) -> np.ndarray:
    """``loss(theta)`` at every plane point ``origin + a * axes[0] + b * axes[1]`` of
    ``grid`` (..., 2), evaluated ``chunk`` points at a time."""
    _, unravel = ravel_pytree(template)
    o = jnp.asarray(origin, jnp.float32)
    e = jnp.asarray(np.stack(axes), jnp.float32)

    @jax.jit
    def at(ab: jax.Array) -> jax.Array:
        return jax.lax.map(lambda c: loss(unravel(o + c @ e)), ab, batch_size=chunk)

    flat = jnp.asarray(grid.reshape(-1, 2), jnp.float32)
    return np.asarray(at(flat)).reshape(grid.shape[:-1])


def gradient_alignment(
    strategy: Any, sparams: Any, bp: Any, task: Task, points: jax.Array, key: jax.Array
) -> dict[str, list[float]]:
    """Cosine between the rule's update direction and BP's (minus the gradient) at each
    point of a trajectory but its last, over all parameters and per layer: whether the rule
    follows the gradient, or finds its own way (the papers' reading of Figure S3)."""
    template = task.init_params(key)
    _, unravel = ravel_pytree(template)
    k_batch = jax.random.split(key)[1]

    @jax.jit
    def one(t: jax.Array, flat: jax.Array) -> tuple[jax.Array, jax.Array]:
        theta = unravel(flat)
        batch = task.batch(k_batch, t)
        mine = strategy.direction(sparams, task, theta, batch)
        grad = bp.direction((), task, theta, batch)
        layers = [
            _cos(ravel(m), ravel(g)) for m, g in zip(mine, grad, strict=True)
        ]  # list-of-layers parameters (the MLPs)
        return _cos(ravel(mine), ravel(grad)), jnp.stack(layers)

    overall, per_layer = jax.lax.map(
        lambda a: one(*a), (jnp.arange(points.shape[0] - 1), points[:-1])
    )
    per_layer = np.asarray(per_layer)
    return {
        "all": _listed(np.asarray(overall)),
        **{f"layer{i + 1}": _listed(per_layer[:, i]) for i in range(per_layer.shape[1])},
    }


def _cos(u: jax.Array, v: jax.Array) -> jax.Array:
    """Cosine, NaN where a direction is zero (at the zero start BP's hidden-layer gradient
    is: no angle to report)."""
    norm = jnp.linalg.norm(u) * jnp.linalg.norm(v)
    return jnp.where(norm > 0, u @ v / jnp.where(norm > 0, norm, 1.0), jnp.nan)


def _listed(values: np.ndarray) -> list[float | None]:
    """Rounded, with None for NaN (JSON has no NaN)."""
    return [None if np.isnan(v) else round(float(v), 4) for v in values]
