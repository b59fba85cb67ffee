"""Credit-assignment strategies behind one interface, and a registry by name."""

from __future__ import annotations

from typing import Any

from tdca.credit.strategies.base import CreditStrategy
from tdca.credit.strategies.bp import BP
from tdca.credit.strategies.feedback import DFA, FA
from tdca.credit.strategies.tdca import TDCA
from tdca.tasks.base import Task

STRATEGIES = ("bp", "fa", "dfa", "tdca")


def make_strategy(name: str, task: Task, **options: Any) -> CreditStrategy:
    """Build a strategy for ``task``; ``options`` go to TDCA (hidden, layout, ...)."""
    if name == "bp":
        return BP()
    if name == "fa":
        return FA.for_task(task)
    if name == "dfa":
        return DFA.for_task(task)
    if name == "tdca":
        return TDCA.for_task(task, **options)
    raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


__all__ = ["BP", "DFA", "FA", "STRATEGIES", "TDCA", "CreditStrategy", "make_strategy"]
