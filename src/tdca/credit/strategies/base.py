"""One signature for every credit-assignment strategy (BP, FA, DFA, TDCA, TDCA+diffusion).

``init(key)`` returns the strategy's own parameters (the credit network's beta for TDCA,
the fixed feedback matrices for FA/DFA, the empty tuple ``()`` for BP);
``direction(sparams, task, theta, batch)`` returns an update direction shaped like theta,
with the sign of an improvement (minus the gradient for BP). The inner loop feeds it to an
optax optimizer, so the same strategy works with plain SGD (the papers) or anything else.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from tdca.tasks.base import Batch, Task, Theta, task_label


@runtime_checkable
class CreditStrategy(Protocol):
    name: str

    def init(self, key: jax.Array) -> Any: ...

    def direction(self, sparams: Any, task: Task, theta: Theta, batch: Batch) -> Theta: ...


def check_built_for(strategy: Any, units: tuple[int, ...], task: Task) -> None:
    """Refuse a task whose credited units differ from those the strategy was built for.

    Runs at trace time (shapes are static), so it costs nothing in the compiled loop; without
    it, the mismatch surfaces as a broadcasting error deep inside the local rule.
    """
    if tuple(units) != tuple(task.credit_units):
        raise ValueError(
            f"this {strategy.name} strategy was built for credited units {tuple(units)}, but "
            f"task {task_label(task)} credits {tuple(task.credit_units)}; build "
            f"it for this task: {type(strategy).__name__}.for_task(task)"
        )
