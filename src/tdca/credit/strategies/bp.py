"""Backpropagation: the direction is minus ``jax.grad`` of the task's loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax

from tdca.tasks.base import Batch, Task, Theta


@dataclass(frozen=True)
class BP:
    name: str = "bp"

    def init(self, key: jax.Array) -> tuple:
        return ()

    def direction(self, sparams: Any, task: Task, theta: Theta, batch: Batch) -> Theta:
        grads = jax.grad(task.loss)(theta, batch)
        return jax.tree.map(lambda g: -g, grads)
