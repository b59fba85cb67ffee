"""The inner loop: a freshly initialised bottom-up network trained for M steps.

One pure function, ``run_inner_loop``: jittable, and vmappable over the strategy's
parameters (that is how a whole population is evaluated at once). Each step asks the
strategy for an update direction and hands minus that direction to an optax optimizer, so
``optax.sgd(lr)`` gives the papers' ``theta += lr * direction``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from tdca.checks import is_finite_number, is_integer, shape_mismatch
from tdca.credit.strategies.base import CreditStrategy
from tdca.tasks.base import GENERATION_STREAM, Task, Theta, for_generation

Recorder = Callable[[Task, Theta], Any]

OPTIMIZERS: dict[str, Callable[[float], optax.GradientTransformation]] = {
    "sgd": optax.sgd,
    "adam": optax.adam,
}
"""Inner-loop optimizers by name. Both act per synapse on the local rule's direction: SGD is
the papers' written rule; Adam keeps two running moments per synapse (still local) and is
what the papers' baselines behave like (BP with 150 full-batch Adam steps reproduces their
Kaiming-BP numbers, SGD does not: docs/results.md)."""


def optimizer_named(name: str) -> Callable[[float], optax.GradientTransformation]:
    """The named inner-loop optimizer's constructor (clear error for an unknown name); it
    also takes a traced rate, as a vmapped grid of rates gives it."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown inner optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def make_optimizer(name: str, lr: float) -> optax.GradientTransformation:
    """The named inner-loop optimizer at ``lr`` (clear error for an unknown name)."""
    make = optimizer_named(name)
    if not (is_finite_number(lr) and lr > 0):
        raise ValueError(f"inner learning rate must be a finite number > 0, got {lr!r}")
    return make(lr)


def _check_shaped_like(
    tree: Any,
    make: Callable[[jax.Array], Any],
    key: jax.Array,
    what: str,
    *,
    broadcast: bool = True,
    hint: str = "built for another network?",
) -> None:
    """``tree`` has the shapes ``make(key)`` gives (or, with ``broadcast``, shapes that
    broadcast to them); checked while tracing, so free. Parameters or a start built for
    another architecture are named, not met as a broadcasting error inside the local rule
    or, where shapes happen to chain (BP on a narrower network), not met at all."""
    try:
        made = jax.eval_shape(make, key)
    except Exception:  # an init that cannot be traced (numpy seeded from the key): unchecked
        return
    mismatch = shape_mismatch(tree, made, broadcast=broadcast)
    if mismatch is not None:
        raise ValueError(
            f"{what} not shaped as this inner loop's strategy and task need: {mismatch} ({hint})"
        )


@dataclass(frozen=True)
class InnerLoop:
    """M steps of ``strategy`` on ``task`` with ``optimizer`` (default: SGD at ``lr``)."""

    strategy: CreditStrategy
    steps: int
    lr: float = 0.1
    optimizer: optax.GradientTransformation | None = None
    # The fitness is the mean of the task's fitness after each of the last ``fitness_last``
    # steps (1: after step M only, the papers' choice). With 2 or more, a rule whose inner
    # loop oscillates and happens to peak at step M is no longer rewarded for the peak.
    # Cost: K - 1 more fitness evaluations per candidate (only the last K steps record).
    fitness_last: int = 1

    def __post_init__(self) -> None:
        for name in ("steps", "fitness_last"):
            value = getattr(self, name)
            if not is_integer(value):
                raise ValueError(f"inner-loop {name} must be an integer, got {value!r}")
        # a negative rate would silently run gradient ascent on the credits' direction
        if self.optimizer is None and not (is_finite_number(self.lr) and self.lr > 0):
            raise ValueError(f"inner-loop lr must be a finite number > 0, got {self.lr!r}")
        if self.steps < 1:
            raise ValueError(f"inner-loop steps must be >= 1, got {self.steps}")
        if not 1 <= self.fitness_last <= self.steps:
            raise ValueError(
                f"fitness_last must be between 1 and the {self.steps} inner steps, "
                f"got {self.fitness_last}"
            )

    @property
    def tx(self) -> optax.GradientTransformation:
        return self.optimizer if self.optimizer is not None else optax.sgd(self.lr)

    def run(
        self,
        sparams: Any,
        task: Task,
        key: jax.Array,
        theta0: Theta | None = None,
        record: Recorder | None = None,
        record_last: int | None = None,
    ) -> tuple[Theta, Any]:
        """Train from ``theta0`` (default ``task.init_params``); return (theta_M, trace).

        ``trace`` stacks ``record(task, theta)`` after each of the last ``record_last``
        steps (default: every step; None without a recorder). The steps before those run
        without the recorder, so recording the end of a long loop costs only that end.
        """
        k_init, k_batch = jax.random.split(key)
        _check_shaped_like(
            sparams,
            self.strategy.init,
            k_init,
            "the strategy's parameters are",
            hint="built for another network? Pass what the strategy's init(key) returns; "
            "BP's is the empty tuple ()",
        )
        if theta0 is not None:
            _check_shaped_like(
                theta0,
                task.init_params,
                k_init,
                "theta0 is",
                broadcast=False,
                hint="a start for another network or task? It must have task.init_params' "
                "shapes; a GaussianTask's points: task.replace(num_points=N)",
            )
        theta = task.init_params(k_init) if theta0 is None else theta0
        # A zero-initialised network is a compile-time constant; with one step XLA removes
        # the loop and, on CPU (jaxlib 0.10.2's YNNPACK fusions), a dot of activations with
        # a broadcast-zero weight fused into a reduction (the softmax) read garbage: 1-step
        # training was NaN in about one process in four. The barrier keeps the weights an
        # array; inside a loop they already are one, so longer runs compile as before.
        theta = jax.lax.optimization_barrier(theta)
        tx = self.tx
        n_rec = self.steps if record is None or record_last is None else record_last
        if not 0 <= n_rec <= self.steps:
            raise ValueError(f"record_last must be in [0, {self.steps}], got {record_last}")

        def make_step(record_: Recorder | None) -> Callable:
            def step(carry, t):
                theta, opt_state = carry
                batch = task.batch(k_batch, t)
                direction = self.strategy.direction(sparams, task, theta, batch)
                grads = jax.tree.map(jnp.negative, direction)
                updates, opt_state = tx.update(grads, opt_state, theta)
                theta = optax.apply_updates(theta, updates)
                return (theta, opt_state), (None if record_ is None else record_(task, theta))

            return step

        carry = (theta, tx.init(theta))
        split = self.steps - n_rec  # step indices (hence mini-batches) are kept across the split
        if split:
            carry, _ = jax.lax.scan(make_step(None), carry, jnp.arange(split))
        trace = None
        if n_rec:
            carry, trace = jax.lax.scan(make_step(record), carry, jnp.arange(split, self.steps))
        return carry[0], trace

    def fitness(self, sparams: Any, task: Task, key: jax.Array) -> jax.Array:
        """The outer loop's objective for one candidate (higher is better)."""
        return self._fitness(sparams, task, key, report=False)[0]

    def fitness_and_report(
        self, sparams: Any, task: Task, key: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The fitness, and what the task reports of the network it trained (its optional
        ``report(theta, key)`` hook, e.g. accuracy beside the cross-entropy fitness): the
        outer loop logs this for the search centre, so a run's history shows both curves
        (the papers' Figure S1) at the cost of one evaluation per generation."""
        return self._fitness(sparams, task, key, report=True)

    def _fitness(
        self, sparams: Any, task: Task, key: jax.Array, report: bool
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        k_run, k_fit = jax.random.split(key)
        # Every candidate of a generation gets the same key, so a task that redraws its
        # data per generation (``for_generation``) redraws it alike for all of them.
        task = for_generation(task, jax.random.fold_in(key, GENERATION_STREAM))
        if self.fitness_last == 1:
            theta, _ = self.run(sparams, task, k_run)
            fitness = task.fitness(theta, k_fit)
        else:
            theta, trace = self.run(
                sparams,
                task,
                k_run,
                record=lambda t, th: t.fitness(th, k_fit),
                record_last=self.fitness_last,
            )
            fitness = jnp.mean(trace)
        hook = getattr(task, "report", None) if report else None
        return fitness, ({} if hook is None else dict(hook(theta, k_fit)))
