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

import jax
import numpy as np

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
    uses). Backprop from exact zeros moves only the output biases, so ``bp`` (or a learner
    that is a ``BP``) on such a task warns (``starts_from_zeros``, which also reads a task
    without an ``init_scheme``); give the task ``init_scheme="kaiming"``."""
    if name == "tdca":
        return TDCA.for_task(task, **options)
    if name in LEARNERS:
        if options:
            raise ValueError(f"options {sorted(options)} are TDCA's; strategy {name!r} takes none")
        strategy = build_learner(name, task)
        if isinstance(strategy, BP) and starts_from_zeros(task):
            start = LEARNERS[name].init_scheme
            warnings.warn(
                f"make_strategy({name!r}): the task starts from exact zeros, where backprop "
                "moves only the output biases; give the task another start: init_scheme="
                f"{'kaiming' if start == 'zero' else start!r} (task.replace(init_scheme=...)), "
                "or an init_params that is not all zeros",
                stacklevel=2,
            )
        return strategy
    raise ValueError(f"unknown strategy {name!r}; choose one of {(*LEARNERS, 'tdca')}")


def starts_from_zeros(task: Task) -> bool:
    """Whether ``task``'s bottom-up network starts with every weight matrix exactly zero (and
    has a hidden layer), where backprop's gradients vanish but the output biases'. Read from
    the task's ``init_scheme`` where it has one, else from its ``init_params``: a task of
    one's own that hard-codes the papers' zero start is caught too."""
    scheme = getattr(task, "init_scheme", None)
    if isinstance(scheme, str):
        return scheme == "zero"
    leaves = jax.tree.leaves(task.init_params(jax.random.PRNGKey(0)))
    weights = [w for w in leaves if np.ndim(w) >= 2]
    return len(weights) >= 2 and not any(np.any(np.asarray(w)) for w in weights)


_WARNED_ZERO_BP: set[str] = set()


def warn_if_backprop_from_zeros(name: str, strategy: CreditStrategy, init_scheme: str) -> None:
    """Warn where a learner is backprop (``BP`` or a subclass of it) and starts from exact
    zeros: it would train to chance without a word (a registered BP variant keeps
    ``register_learner``'s default ``init_scheme="zero"`` unless told otherwise)."""
    if isinstance(strategy, BP) and init_scheme == "zero" and name not in _WARNED_ZERO_BP:
        _WARNED_ZERO_BP.add(name)  # once per learner: tuning builds it for every rate
        warnings.warn(
            f"learner {name!r} is backprop ({type(strategy).__name__}) started from exact "
            "zeros, where it moves only the output biases and stays at chance; register it "
            "with init_scheme='kaiming' (or 'near_zero', the papers' Zero-BP)",
            stacklevel=3,
        )


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


BUILT_IN_LEARNERS = (*LEARNERS, "bp-adam", "tdca")
"""Names ``register_learner`` refuses: the library's learners (``bp-adam`` and ``tdca:``
are read by ``tdca train`` itself)."""


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
    if name in BUILT_IN_LEARNERS or ":" in name or "/" in name:
        raise ValueError(
            f"learner name {name!r} is not allowed: the library's own names "
            f"({', '.join(BUILT_IN_LEARNERS)}) are taken, and a name has no ':' or '/'"
        )
    if name in LEARNERS:
        raise ValueError(
            f"learner {name!r} is registered already in this process (a file imported twice, "
            f"a notebook cell run again?); tdca.credit.LEARNERS.pop({name!r}) first to "
            "replace it, or choose another name"
        )
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
    "starts_from_zeros",
    "warn_if_backprop_from_zeros",
]
