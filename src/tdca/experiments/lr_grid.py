"""Learning-rate grids that a baseline is never clipped by: when the best rate sits at an end
of the grid it was given (and really trains), the grid grows past that end along the 1-3-10
ladder the grids use. Classification's ``tune_lr``, RL's ``compare`` and ``tdca task``'s
baselines all use it, so a weak baseline is never an artefact of where a grid happened to
stop. The last two tune on fitness curves (``fitness_curves``: the task's fitness before
and after each inner step), which any task gives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tdca.inner import InnerLoop, optimizer_named
from tdca.tasks.base import Task

LR_GRID_EXTENSION = 4
"""How many rates a tuning may add past an end of its grid where the best rate sits."""


def next_rate(lr: float, up: bool) -> float:
    """The next rate past ``lr`` on the 1-3-10 ladder the grids use (0.3 -> 1 -> 3)."""
    exponent = np.floor(np.log10(lr))
    mantissa = round(lr / 10**exponent, 6)
    if mantissa in (1.0, 3.0):
        steps = {(1.0, True): 3.0, (3.0, True): 10.0, (1.0, False): 0.3, (3.0, False): 1.0}
        out = steps[(mantissa, up)] * 10**exponent
    else:
        out = lr * 3.0 if up else lr / 3.0
    return float(f"{out:.3g}")


def inner_neighbour(rates: Sequence[float], end: float) -> float | None:
    """The rate beside ``end`` on the inside of the grid (None unless ``end`` is an end of
    two or more rates). A best rate that only ties it (every rate alike) is no sign that a
    better one lies past the end, so the tunings grow a grid only past a strict winner,
    to ``next_rate(end, up=end > neighbour)``."""
    ordered = sorted(rates)
    if len(ordered) < 2 or end not in (ordered[0], ordered[-1]):
        return None
    return ordered[1] if end == ordered[0] else ordered[-2]


def pick_rate(curves: np.ndarray) -> int:
    """The index of the best rate from validation curves (rates, seeds, steps + 1): the
    best mean final fitness; among equals (CartPole's 200 is reached by several rates) the
    best mean over the whole curve (higher along the way); then the first. A rate whose
    runs gave a non-finite fitness counts as the worst."""
    final, whole = _ranking(curves)
    tied = np.flatnonzero(final == final.max())
    return int(tied[np.argmax(whole[tied])])


def _ranking(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ``pick_rate`` ranks the rates by: mean final fitness, then mean over the whole
    curve, a non-finite one as the worst."""
    final = np.nan_to_num(curves[:, :, -1].mean(1), nan=-np.inf, posinf=-np.inf)
    whole = np.nan_to_num(curves.mean((1, 2)), nan=-np.inf, posinf=-np.inf)
    return final, whole


def tune_rate(
    curves_at: Callable[[tuple[float, ...]], np.ndarray],
    grid: tuple[float, ...],
    extend: int = LR_GRID_EXTENSION,
    log: Callable[[str], None] = print,
    name: str = "",
) -> tuple[list[float], np.ndarray]:
    """The rates tried (ascending) and their validation curves (rates, seeds, steps + 1),
    from ``curves_at(rates)``. As classification's ``tune_lr`` does, a pick (``pick_rate``)
    at an end of the grid that trains (a higher mean final fitness than at the start) grows
    the grid one rate past that end, up to ``extend`` times, so the baseline is not clipped
    by where its grid stopped. A pick that only ties its neighbour (every rate alike) is no
    sign that a better rate lies past the end, and grows nothing."""
    rates = sorted(grid)
    curves = curves_at(tuple(rates))
    for _ in range(extend):
        pick, (final, whole) = pick_rate(curves), _ranking(curves)
        trains = curves[pick, :, -1].mean() > curves[pick, :, 0].mean()
        beside = inner_neighbour(rates, rates[pick])
        if not trains or beside is None:
            break
        b = rates.index(beside)
        if (final[pick], whole[pick]) <= (final[b], whole[b]):
            break
        new = next_rate(rates[pick], up=rates[pick] > beside)
        log(f"{name}: the rate picked, {rates[pick]:g}, is at an end of {rates}; trying {new:g}")
        more = curves_at((new,))
        up = new > rates[-1]
        rates = [*rates, new] if up else [new, *rates]
        curves = np.concatenate([curves, more] if up else [more, curves])
    return rates, curves


OWN_PARAMS = 0x0A11
"""fold_in constant for the key from which ``fitness_curves`` draws a strategy's own
parameters per run, apart from the keys the run and its fitness split off."""


def tuned_rate(
    rates: list[float], curves: np.ndarray, grid: tuple[float, ...]
) -> tuple[float, dict[str, Any]]:
    """The rate ``pick_rate`` takes from ``tune_rate``'s rates and validation curves, and
    what a run records of the pick: whether it sits at an end of the rates tried (after
    any growth), the rates added to ``grid``, and each rate's mean final and whole-curve
    validation fitness."""
    pick = pick_rate(curves)
    final, whole = curves[:, :, -1].mean(1), curves.mean((1, 2))
    return rates[pick], {
        "lr": rates[pick],
        "lr_at_grid_edge": len(rates) > 1 and pick in (0, len(rates) - 1),
        "lr_grid_added": [r for r in rates if r not in grid],
        "lr_grid_validation": {str(r): float(v) for r, v in zip(rates, final, strict=True)},
        "lr_grid_validation_curve_mean": {
            str(r): float(v) for r, v in zip(rates, whole, strict=True)
        },
    }


def fitness_curves(
    strategy: Any,
    sparams: Any | None,
    task: Task,
    steps: int,
    lrs: tuple[float, ...],
    keys: jax.Array,
    optimizer: str,
) -> np.ndarray:
    """(rates, seeds, steps + 1): the task's fitness before and after each inner step of
    ``strategy`` under the named inner ``optimizer`` at each rate, one run per key (rates
    and runs vmapped: one compilation for the whole grid). ``sparams`` None: each key draws
    the strategy's own parameters (``strategy.init``; FA's and DFA's feedback matrices), so
    that the spread over keys includes theirs."""
    make = optimizer_named(optimizer)

    def one(lr: jax.Array, key: jax.Array) -> jax.Array:
        loop = InnerLoop(strategy, steps, optimizer=make(lr))
        k_run, k_fit = jax.random.split(key)
        own = strategy.init(jax.random.fold_in(key, OWN_PARAMS)) if sparams is None else sparams
        # The start's fitness: the network InnerLoop.run starts from (its init key is the
        # first of the two it splits from k_run).
        start = task.fitness(task.init_params(jax.random.split(k_run)[0]), k_fit)
        _, trace = loop.run(own, task, k_run, record=lambda t, th: t.fitness(th, k_fit))
        return jnp.concatenate([start[None], trace])

    grid = jax.vmap(jax.vmap(one, (None, 0)), (0, None))
    return np.asarray(jax.jit(grid)(jnp.asarray(lrs, jnp.float32), keys))
