"""Type checks the configs share, so that each gets the subtle cases right once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def is_integer(value: Any) -> bool:
    """A Python or numpy integer, but not a bool (True is an int to Python, never a count)."""
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def is_finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (a string or None is not)."""
    return isinstance(value, int | float | np.number) and math.isfinite(value)
