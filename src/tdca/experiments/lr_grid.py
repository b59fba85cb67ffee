"""Learning-rate grids that a baseline is never clipped by: when the best rate sits at an end
of the grid it was given (and really trains), the grid grows past that end along the 1-3-10
ladder the grids use. Classification's ``tune_lr`` and RL's ``compare`` both use it, so a
weak baseline is never an artefact of where a grid happened to stop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
