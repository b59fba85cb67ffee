"""Type checks the configs share, so that each gets the subtle cases right once."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np


class Unsupported(TypeError):
    """A component asked to work with one it cannot (FA on a CNN, DFA on a task without
    layers). A TypeError, as before it had a name; the CLI prints its message in one line
    instead of a traceback, which it keeps for TypeErrors that are bugs."""


def is_integer(value: Any) -> bool:
    """A Python or numpy integer, but not a bool (True is an int to Python, never a count)."""
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


# Seeds the CLI takes and jax.random.PRNGKey keeps whole: a larger one is truncated to 32
# bits (2**32 would silently repeat seed 0's run).
SEED_LIMIT = 2**31


def check_seed(value: Any, name: str = "seed") -> None:
    """Refuse a config's seed that is not an integer (a bool is not) in [0, 2**31), as the
    CLI does, with a ValueError naming the field."""
    if not is_integer(value):
        raise ValueError(f"{name} must be an integer in [0, 2^31), got {value!r}")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be in [0, 2^31), got {value!r}")


def is_finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (a string or None is not)."""
    return isinstance(value, int | float | np.number) and math.isfinite(value)


def shape_mismatch(tree: Any, expected: Any, *, broadcast: bool = False) -> str | None:
    """None where ``tree`` has the structure of ``expected`` (arrays, or
    ``jax.ShapeDtypeStruct``) and its shapes, or with ``broadcast`` shapes that broadcast to
    them; else "<shapes> given, <shapes> expected", for the caller's error message."""
    leaves, treedef = jax.tree.flatten(tree)
    want, want_def = jax.tree.flatten(expected)

    def fits(given: tuple[int, ...], target: tuple[int, ...]) -> bool:
        if not broadcast:
            return given == target
        try:
            return np.broadcast_shapes(given, target) == target
        except ValueError:
            return False

    if treedef == want_def and all(
        fits(np.shape(a), np.shape(e)) for a, e in zip(leaves, want, strict=True)
    ):
        return None
    shapes = jax.tree.map(np.shape, tree)
    return f"{shapes} given, {jax.tree.map(np.shape, expected)} expected"


def config_fields(
    cls: Any,
    saved: dict[str, Any],
    *,
    optional: tuple[str, ...] = (),
    metadata: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The fields of the config dataclass ``cls`` in a saved config.json. A key it does not
    know is refused (a misspelt setting in a hand-edited file would otherwise be dropped and
    its default used), and so is a missing field unless it is in ``optional`` (settings added
    after the first release, whose defaults are what older runs did). ``metadata`` names the
    keys the run directory adds beside the settings (code version, lr selection, ...)."""
    fields = set(cls.__dataclass_fields__)
    unknown = sorted(set(saved) - fields - set(metadata))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; {cls.__name__} has {sorted(fields)}")
    missing = sorted(fields - set(saved) - set(optional))
    if missing:
        raise ValueError(f"settings missing: {missing}")
    return {k: v for k, v in saved.items() if k in fields}
