"""TDCA: a learned credit network reads the bottom-up state and emits the credits.

With a diffusion layout, the network emits a few credits per layer that a fixed Gaussian
kernel spreads to all neurons (TDCA + diffusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax

from tdca.credit.layout import CreditLayout
from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.tasks.base import Batch, Task, Theta


@dataclass(frozen=True)
class TDCA:
    net: CreditNet
    layout: CreditLayout
    name: str = "tdca"

    @classmethod
    def for_task(
        cls,
        task: Task,
        hidden: tuple[int, ...] = (30, 30),
        layout: CreditLayout | None = None,
        output_scale: float = 0.1,
    ) -> TDCA:
        """A credit network sized for ``task``; dense credits unless a layout is given."""
        layout = layout or CreditLayout.dense(tuple(task.credit_units))
        if layout.units != tuple(task.credit_units):
            raise ValueError(
                f"credit layout covers layers of {layout.units} units but task "
                f"{task.name!r} credits {tuple(task.credit_units)}"
            )
        net = CreditNet(
            task.credit_input_dim, layout.num_credits, tuple(hidden), output_scale=output_scale
        )
        return cls(net, layout)

    def init(self, key: jax.Array) -> CreditParams:
        return self.net.init(key)

    def direction(self, sparams: CreditParams, task: Task, theta: Theta, batch: Batch) -> Theta:
        u, aux = task.credit_state(theta, batch)
        credits = self.layout.expand(self.net.apply(sparams, u))
        return task.apply_credits(theta, aux, credits)
