"""The outer loop's one generation: ask PGPE for a population, train each candidate's
inner loop in parallel (``jax.vmap`` over the population axis, sharded across devices when
there are several), and tell PGPE the fitnesses.

evosax minimises, tdca's fitness is "higher is better": we hand evosax minus the fitness.
A candidate whose inner loop diverged (NaN/Inf fitness) is given a fitness just below the
worst finite one and counted, so the ES update never sees a NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from evosax.algorithms import PGPE
from evosax.core.optimizer import clipup
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from tdca.inner import InnerLoop
from tdca.tasks.base import Task

OPTIMIZERS = ("adam", "clipup", "sgd")


@dataclass(frozen=True)
class ESConfig:
    """PGPE settings. ``sigma_init`` is the initial per-parameter search std."""

    population: int = 64
    generations: int = 300
    sigma_init: float = 0.1
    learning_rate: float = 0.05
    optimizer: str = "adam"
    std_lr: float = 0.1
    std_max_change: float = 0.2
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        if self.population < 2 or self.population % 2:
            raise ValueError(
                f"population must be an even number >= 2 (PGPE samples mirrored pairs), "
                f"got {self.population}"
            )
        if self.generations < 1:
            raise ValueError(f"generations must be >= 1, got {self.generations}")
        if self.sigma_init <= 0 or self.learning_rate <= 0:
            raise ValueError("sigma_init and learning_rate must be > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")

    def make_optimizer(self) -> optax.GradientTransformation:
        if self.optimizer == "adam":
            return optax.adam(self.learning_rate)
        if self.optimizer == "clipup":
            return clipup(learning_rate=self.learning_rate, max_velocity=2 * self.learning_rate)
        return optax.sgd(self.learning_rate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def population_mesh() -> Mesh | None:
    """A 1-D mesh named ``pop`` over all devices, or None on a single device."""
    devices = jax.devices()
    return None if len(devices) == 1 else Mesh(devices, ("pop",))


class Evolution:
    """PGPE over a strategy's parameters, each candidate scored by ``inner.fitness``."""

    def __init__(self, inner: InnerLoop, template: Any, config: ESConfig) -> None:
        self.inner = inner
        self.config = config
        self.es = PGPE(config.population, solution=template, optimizer=config.make_optimizer())
        self.es_params = self.es.default_params.replace(
            std_init=config.sigma_init,
            std_lr=config.std_lr,
            std_max_change=config.std_max_change,
        )
        self.mesh = population_mesh()
        if self.mesh is not None and config.population % self.mesh.size:
            raise ValueError(
                f"population {config.population} must be divisible by the "
                f"{self.mesh.size} devices it is sharded over"
            )
        self.init = jax.jit(self._init)
        self.step = jax.jit(self._step)

    def _init(self, key: jax.Array, mean: Any) -> Any:
        return self.es.init(key, mean, self.es_params)

    def mean(self, state: Any) -> Any:
        """The search distribution's centre: the evolved strategy parameters."""
        return self.es.get_mean(state)

    def _shard(self, population: Any) -> Any:
        if self.mesh is None:
            return population
        sharding = NamedSharding(self.mesh, PartitionSpec("pop"))
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), population)

    def _step(self, state: Any, task: Task, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        k_ask, k_eval, k_tell = jax.random.split(key, 3)
        centre_fitness = self.inner.fitness(self.mean(state), task, k_eval)
        population, state = self.es.ask(k_ask, state, self.es_params)
        population = self._shard(population)
        fitness = jax.vmap(self.inner.fitness, in_axes=(0, None, None))(population, task, k_eval)
        ok = jnp.isfinite(fitness)
        worst = jnp.min(jnp.where(ok, fitness, jnp.inf))
        worst = jnp.where(jnp.isfinite(worst), worst, 0.0)
        clean = jnp.where(ok, fitness, worst - 1.0)
        state, _ = self.es.tell(k_tell, population, -clean, state, self.es_params)
        n_ok = jnp.maximum(ok.sum(), 1)
        stats = {
            "best_fitness": jnp.max(jnp.where(ok, fitness, -jnp.inf)),
            "mean_fitness": jnp.sum(jnp.where(ok, fitness, 0.0)) / n_ok,
            "centre_fitness": centre_fitness,
            "mean_sigma": jnp.mean(state.std),
            "diverged": jnp.sum(~ok),
        }
        return state, stats
