"""Feedback alignment (FA) and direct feedback alignment (DFA).

FA sends the output error down through fixed random matrices in place of W^T (Lillicrap
et al. 2016); DFA sends it straight from the output to every hidden layer (Nokland 2016).
Both then use the shared local rule, so they differ from TDCA only in where credits come
from: DFA is exactly a TDCA whose credit network is the linear map B (y - p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from tdca.checks import Unsupported
from tdca.credit.strategies.base import check_built_for
from tdca.tasks.base import Batch, LayeredTask, Task, Theta, require_layered


def _feedback_init(key: jax.Array, shapes: list[tuple[int, int]]) -> list[jax.Array]:
    keys = jax.random.split(key, max(len(shapes), 1))
    return [jax.random.normal(k, s) / jnp.sqrt(s[0]) for k, s in zip(keys, shapes, strict=False)]


@dataclass(frozen=True)
class DFA:
    """``credit_l = e @ B_l`` for hidden layers, ``credit_out = e``; B fixed and random."""

    units: tuple[int, ...]
    name: str = "dfa"

    @classmethod
    def for_task(cls, task: Task) -> DFA:
        return cls(tuple(require_layered(task, "dfa").credit_units))

    def init(self, key: jax.Array) -> list[jax.Array]:
        n_out = self.units[-1]
        return _feedback_init(key, [(n_out, u) for u in self.units[:-1]])

    def direction(self, sparams: Any, task: Task, theta: Theta, batch: Batch) -> Theta:
        check_built_for(self, self.units, task)
        layered: LayeredTask = task  # type: ignore[assignment]
        taps, err = layered.taps_and_error(theta, batch)
        credits = [err @ b for b in sparams] + [err]
        return layered.model.local_update(taps, credits)


@dataclass(frozen=True)
class FA:
    """Backprop's chain with fixed random ``B_{l+1}`` (n_{l+1}, n_l) in place of W^T."""

    units: tuple[int, ...]
    name: str = "fa"

    @classmethod
    def for_task(cls, task: Task) -> FA:
        from tdca.networks.mlp import MLP

        layered = require_layered(task, "fa")
        if not isinstance(layered.model, MLP):
            raise Unsupported(
                f"strategy 'fa' sends errors back through dense layers; it needs an MLP "
                f"bottom-up network, not {type(layered.model).__name__}"
            )
        return cls(tuple(layered.credit_units))

    def init(self, key: jax.Array) -> list[jax.Array]:
        return _feedback_init(key, list(zip(self.units[1:], self.units[:-1], strict=True)))

    def direction(self, sparams: Any, task: Task, theta: Theta, batch: Batch) -> Theta:
        check_built_for(self, self.units, task)
        layered: LayeredTask = task  # type: ignore[assignment]
        taps, err = layered.taps_and_error(theta, batch)
        model = layered.model  # its own g' and local rule (a subclass may change both)
        credits = [err]
        delta = err
        for i in range(len(taps) - 2, -1, -1):
            c = delta @ sparams[i]
            credits.insert(0, c)
            delta = c * model.hidden_prime(taps[i].pre)
        return model.local_update(taps, credits)
