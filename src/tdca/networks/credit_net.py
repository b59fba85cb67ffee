"""The top-down credit-assignment network T(u; beta): a small tanh MLP, linear output.

It reads the bottom-up network's state u (e.g. output probabilities and the one-hot label)
and emits one credit per credited unit or group. Its parameters beta are what evolution
searches over, so they are a plain pytree that evosax can flatten.

Optionally (``gain_speed > 0``) beta has one more entry, ``{"log_gain": g}``, and every
credit is multiplied by ``exp(gain_speed * g)``. Why: under SGD the overall size of the
credits is the inner step size, and PGPE moves each coordinate of beta by about its
learning rate per generation, so rescaling the thousands of output weights together is a
direction it barely finds (an evolution started at too small an inner lr stays too small).
One log-gain coordinate, amplified by ``gain_speed``, lets it rescale every credit at once.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from tdca.checks import is_integer
from tdca.networks.mlp import affine

CreditParams = list[dict[str, jax.Array]]


def check_hidden_widths(hidden: tuple[int, ...]) -> None:
    """Every hidden layer has at least one unit (none at all, a linear T, is fine)."""
    if not all(is_integer(h) and h >= 1 for h in hidden):
        raise ValueError(f"hidden (the credit network's widths) must be >= 1, got {hidden}")


def check_gain_speed(gain_speed: float) -> None:
    """0 (no learned gain) or a finite positive speed."""
    if not (gain_speed >= 0 and math.isfinite(gain_speed)):
        raise ValueError(f"gain_speed must be a finite number >= 0, got {gain_speed}")


@dataclass(frozen=True)
class CreditNet:
    """``inputs -> hidden... -> outputs``; tanh hidden units, linear outputs; with
    ``gain_speed > 0`` an evolved overall gain ``exp(gain_speed * g)`` on the outputs."""

    inputs: int
    outputs: int
    hidden: tuple[int, ...] = (30, 30)
    init_scale: float = 1.0
    output_scale: float = 0.1
    gain_speed: float = 0.0

    def __post_init__(self) -> None:
        check_hidden_widths(self.hidden)
        check_gain_speed(self.gain_speed)

    @property
    def has_gain(self) -> bool:
        return self.gain_speed > 0

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
        if self.has_gain:
            params.append({"log_gain": jnp.zeros(())})  # gain 1: the same start as without
        return params

    def gain(self, params: CreditParams) -> jax.Array:
        """The overall factor on every credit (1 without a learned gain)."""
        if not self.has_gain:
            return jnp.ones(())
        return jnp.exp(self.gain_speed * params[-1]["log_gain"])

    def apply(self, params: CreditParams, u: jax.Array) -> jax.Array:
        """Credits for each row of ``u`` (any leading batch shape)."""
        n_layers = len(self.sizes) - 1
        if len(params) != n_layers + self.has_gain:  # never drop (or miss) a learned gain
            raise ValueError(
                f"this credit network ({'with' if self.has_gain else 'without'} a learned "
                f"gain) takes {n_layers + self.has_gain} parameter entries, got {len(params)}"
            )
        a = u
        for i, layer in enumerate(params[:n_layers]):
            a = affine(a, layer)  # in u's dtype (bf16 under bfloat16-activations)
            if i < n_layers - 1:
                a = jnp.tanh(a)
        if self.has_gain:
            a = a * self.gain(params).astype(a.dtype)
        return a

    def num_params(self) -> int:
        s = self.sizes
        return sum((i + 1) * o for i, o in itertools.pairwise(s)) + int(self.has_gain)
