"""The top-down credit-assignment network T(u; beta): a small tanh MLP, linear output.

It reads the bottom-up network's state u (e.g. output probabilities and the one-hot label)
and emits one credit per credited unit or group. Its parameters beta are what evolution
searches over, so they are a plain pytree that evosax can flatten.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from tdca.networks.mlp import affine

CreditParams = list[dict[str, jax.Array]]


@dataclass(frozen=True)
class CreditNet:
    """``inputs -> hidden... -> outputs``; tanh hidden units, linear outputs."""

    inputs: int
    outputs: int
    hidden: tuple[int, ...] = (30, 30)
    init_scale: float = 1.0
    output_scale: float = 0.1

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *self.hidden, self.outputs)

    def init(self, key: jax.Array) -> CreditParams:
        """LeCun-normal hidden weights; a small output layer so early credits are gentle."""
        params: CreditParams = []
        sizes = self.sizes
        keys = jax.random.split(key, len(sizes) - 1)
        for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
            scale = self.init_scale / jnp.sqrt(n_in)
            if i == len(sizes) - 2:
                scale = scale * self.output_scale
            params.append(
                {"w": jax.random.normal(k, (n_in, n_out)) * scale, "b": jnp.zeros((n_out,))}
            )
        return params

    def apply(self, params: CreditParams, u: jax.Array) -> jax.Array:
        """Credits for each row of ``u`` (any leading batch shape)."""
        a = u
        for i, layer in enumerate(params):
            a = affine(a, layer)  # in u's dtype (bf16 under bfloat16-activations)
            if i < len(params) - 1:
                a = jnp.tanh(a)
        return a

    def num_params(self) -> int:
        s = self.sizes
        return sum((i + 1) * o for i, o in itertools.pairwise(s))
