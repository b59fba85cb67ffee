"""One signature for every credit-assignment strategy (BP, FA, DFA, TDCA, TDCA+diffusion).

``init(key)`` returns the strategy's own parameters (the credit network's beta for TDCA,
the fixed feedback matrices for FA/DFA, nothing for BP); ``direction(sparams, task, theta,
batch)`` returns an update direction shaped like theta, with the sign of an improvement
(minus the gradient for BP). The inner loop feeds it to an optax optimizer, so the same
strategy works with plain SGD (the papers) or anything else.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from tdca.tasks.base import Batch, Task, Theta


@runtime_checkable
class CreditStrategy(Protocol):
    name: str

    def init(self, key: jax.Array) -> Any: ...

    def direction(self, sparams: Any, task: Task, theta: Theta, batch: Batch) -> Theta: ...
