"""Credit-assignment strategies behind one interface, and registries by name.

``make_strategy`` builds a strategy for a task (TDCA with options). ``LEARNERS`` names the
ways to train a bottom-up network from scratch that ``tdca train`` and ``train_learner``
accept: a strategy and the initialisation it starts from (BP from Kaiming, the papers'
Zero-BP from +-1e-16, FA/DFA/TDCA from zero). ``register_learner`` adds one, e.g. a new
feedback rule, without touching the library.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tdca.credit.strategies.base import CreditStrategy
from tdca.credit.strategies.bp import BP
from tdca.credit.strategies.feedback import DFA, FA
from tdca.credit.strategies.tdca import TDCA, dfa_like_init
from tdca.tasks.base import Task

STRATEGIES = ("bp", "fa", "dfa", "tdca")


def make_strategy(name: str, task: Task, **options: Any) -> CreditStrategy:
    """Build a strategy for ``task``: ``tdca`` with ``options`` (hidden, layout, ...), or a
    learner's strategy by name (``bp``, ``fa``, ``dfa`` and what ``register_learner`` added).

    Only the strategy: an ``InnerLoop`` starts from the *task's* ``init_scheme`` (``zero``
    by default), not the learner's (``LEARNERS[name].init_scheme``, which ``train_learner``
    uses). Backprop from exact zeros moves only the output biases, so ``bp`` on such a task
    warns; give the task ``init_scheme="kaiming"`` (``task.replace(init_scheme=...)``)."""
    if name == "tdca":
        return TDCA.for_task(task, **options)
    if name in LEARNERS:
        if options:
            raise ValueError(f"options {sorted(options)} are TDCA's; strategy {name!r} takes none")
        strategy = build_learner(name, task)
        if isinstance(strategy, BP) and getattr(task, "init_scheme", None) == "zero":
            warnings.warn(
                f"make_strategy({name!r}): the task starts from exact zeros (its init_scheme), "
                "where backprop moves only the output biases; give the task "
                f"init_scheme={LEARNERS[name].init_scheme!r} (task.replace(init_scheme=...))",
                stacklevel=2,
            )
        return strategy
    raise ValueError(f"unknown strategy {name!r}; choose one of {(*LEARNERS, 'tdca')}")


@dataclass(frozen=True)
class Learner:
    """A named learner: its strategy for a task, and the bottom-up init it starts from."""

    build: Callable[[Task], CreditStrategy]
    init_scheme: str = "zero"


LEARNERS: dict[str, Learner] = {
    "bp": Learner(lambda task: BP(), "kaiming"),
    "bp-zero": Learner(lambda task: BP(), "near_zero"),
    "fa": Learner(FA.for_task),
    "dfa": Learner(DFA.for_task),
}


def build_learner(name: str, task: Task) -> CreditStrategy:
    """The strategy of the learner ``name`` for ``task``, checked to be one: a plugin's
    builder that forgets to return it is named, instead of failing later on None."""
    build = LEARNERS[name].build
    strategy = build(task)
    if not all(callable(getattr(strategy, m, None)) for m in ("init", "direction")):
        raise TypeError(
            f"learner {name!r}: its builder {getattr(build, '__qualname__', build)!r} returned "
            f"{type(strategy).__name__}, not a credit-assignment strategy (one with init and "
            "direction); does the builder forget to return it?"
        )
    return strategy


def register_learner(
    name: str, build: Callable[[Task], CreditStrategy], init_scheme: str = "zero"
) -> None:
    """Make ``name`` a learner for ``train_learner`` (and ``tdca train`` in a process that
    registered it); ``build(task)`` returns the strategy, whose ``init(key)`` gives its
    parameters."""
    from tdca.networks.mlp import INIT_SCHEMES

    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValueError(f"a learner name must be a non-empty word, got {name!r}")
    if name in LEARNERS or name in ("bp-adam", "tdca") or ":" in name or "/" in name:
        raise ValueError(f"learner name {name!r} is taken or not allowed (no ':' or '/')")
    if not callable(build):
        raise ValueError(f"build must be a callable taking a task, got {build!r}")
    if isinstance(build, type) and hasattr(build, "for_task"):
        raise ValueError(
            f"build must be a function of the task that returns a strategy: give "
            f"{build.__name__}.for_task, not the class {build.__name__} (called with a task, "
            "the class would take the task for its first field)"
        )
    if init_scheme not in INIT_SCHEMES:
        raise ValueError(f"init_scheme must be one of {INIT_SCHEMES}, got {init_scheme!r}")
    LEARNERS[name] = Learner(build, init_scheme)


__all__ = [
    "BP",
    "DFA",
    "FA",
    "LEARNERS",
    "STRATEGIES",
    "TDCA",
    "CreditStrategy",
    "Learner",
    "build_learner",
    "dfa_like_init",
    "make_strategy",
    "register_learner",
]
