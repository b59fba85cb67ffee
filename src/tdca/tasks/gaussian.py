"""Mixed-Gaussian optimisation (2022 paper Figs. 3-4; 2024 paper Fig. 2).

Each function is a wide, deep Gaussian well (the global minimum) plus a small narrow well
(a local minimum) placed between the default start point and the global one, so gradient
descent from that start stops in the local well. The "bottom-up parameters" are just the
2-D points being optimised: theta has shape (functions, points, 2), every point of every
function is updated independently, and the credit network maps a point (coordinates scaled
to [-1, 1], plus a one-hot function id in multi-task mode) straight to its (dx, dy).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from tdca.checks import is_integer


@dataclass(frozen=True)
class Well:
    centre: tuple[float, float]
    depth: float
    width: float


@dataclass(frozen=True)
class MixedGaussian:
    """f(p) = -sum_w depth_w * exp(-|p - centre_w|^2 / (2 width_w^2)); wells[0] is global."""

    wells: tuple[Well, ...]
    start: tuple[float, float]

    def value(self, p: jax.Array) -> jax.Array:
        total = jnp.zeros(p.shape[:-1])
        for w in self.wells:
            d2 = jnp.sum((p - jnp.asarray(w.centre)) ** 2, axis=-1)
            total = total - w.depth * jnp.exp(-d2 / (2.0 * w.width**2))
        return total

    def refine(self, centre: tuple[float, float], steps: int = 4000) -> np.ndarray:
        """The exact minimum near a well's centre (the other well shifts it slightly)."""
        grad = jax.grad(lambda q: self.value(q))
        lr = 0.2 * min(w.width for w in self.wells) ** 2

        def body(_, q):
            return q - lr * grad(q)

        return np.asarray(jax.lax.fori_loop(0, steps, body, jnp.asarray(centre, jnp.float32)))

    @property
    def global_min(self) -> np.ndarray:
        return self.refine(self.wells[0].centre)

    @property
    def local_min(self) -> np.ndarray:
        return self.refine(self.wells[1].centre)


DOMAIN = (-40.0, 80.0)
"""The plotted square, as in the papers' gradient-field figures."""

FUNCTION_1 = MixedGaussian(
    wells=(Well((45.0, 45.0), 1.0, 35.0), Well((0.0, 0.0), 0.6, 8.0)), start=(-25.0, -25.0)
)
FUNCTION_2 = MixedGaussian(
    wells=(Well((0.0, 55.0), 1.0, 30.0), Well((40.0, 10.0), 0.6, 8.0)), start=(60.0, -10.0)
)


@struct.dataclass
class GaussianTask:
    """Minimise one or several mixed Gaussians from points sampled over the domain."""

    functions: tuple[MixedGaussian, ...] = struct.field(pytree_node=False, default=(FUNCTION_1,))
    domain: tuple[float, float] = struct.field(pytree_node=False, default=DOMAIN)
    num_points: int = struct.field(pytree_node=False, default=64)
    name: str = struct.field(pytree_node=False, default="gaussian")

    def __post_init__(self) -> None:
        # Only static fields are checked, so a rebuild by jax.tree.map or jit (which hands
        # them back unchanged) passes too.
        if (
            not isinstance(self.functions, tuple)
            or not self.functions
            or not all(isinstance(f, MixedGaussian) for f in self.functions)
        ):
            raise ValueError(
                f"functions must be a non-empty tuple of MixedGaussian, got {self.functions!r}"
            )
        if not is_integer(self.num_points) or self.num_points < 1:
            raise ValueError(f"num_points must be an integer >= 1, got {self.num_points!r}")

    @property
    def num_functions(self) -> int:
        return len(self.functions)

    @property
    def multi_task(self) -> bool:
        return self.num_functions > 1

    @property
    def credit_input_dim(self) -> int:
        return 2 + (self.num_functions if self.multi_task else 0)

    @property
    def credit_units(self) -> tuple[int, ...]:
        return (2,)

    def init_params(self, key: jax.Array) -> jax.Array:
        lo, hi = self.domain
        shape = (self.num_functions, self.num_points, 2)
        return jax.random.uniform(key, shape, minval=lo, maxval=hi)

    def batch(self, key: jax.Array, step: jax.Array) -> None:
        return None

    def values(self, theta: jax.Array) -> jax.Array:
        """(functions, points) function values."""
        return jnp.stack([f.value(theta[i]) for i, f in enumerate(self.functions)])

    def loss(self, theta: jax.Array, batch: None) -> jax.Array:
        # A sum, not a mean: each point's gradient is then exactly grad f at that point.
        return jnp.sum(self.values(theta))

    def credit_state(self, theta: jax.Array, batch: None) -> tuple[jax.Array, None]:
        lo, hi = self.domain
        u = (theta - (lo + hi) / 2) / ((hi - lo) / 2)
        if self.multi_task:
            k = self.num_functions
            ids = jnp.broadcast_to(jnp.eye(k)[:, None, :], (*theta.shape[:-1], k))
            u = jnp.concatenate([u, ids], -1)
        return u, None

    def apply_credits(self, theta: jax.Array, aux: None, credits: list[jax.Array]) -> jax.Array:
        return credits[0]

    def fitness(self, theta: jax.Array, key: jax.Array) -> jax.Array:
        return -jnp.mean(self.values(theta))
