"""Bottom-up multilayer perceptrons that expose what local learning rules need.

A local rule updates each layer from that layer's own input and pre-activation, so the
forward pass returns both for every layer ("taps") next to the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from tdca.checks import is_integer

Params = list[dict[str, jax.Array]]
"""One ``{"w": (n_in, n_out), "b": (n_out,)}`` per layer, bottom to top."""

INIT_SCHEMES = ("zero", "kaiming", "near_zero")
NEAR_ZERO = 1e-16


class LayerTap(NamedTuple):
    """What a neuron sees locally: its layer's input and its pre-activation."""

    inputs: jax.Array  # (batch, n_in)
    pre: jax.Array  # (batch, n_out)


def affine(a: jax.Array, layer: dict[str, jax.Array]) -> jax.Array:
    """``a @ w + b`` in the dtype of ``a``: parameters stay float32, but a network fed
    bfloat16 data computes and stores its activations in bfloat16 (``tdca.precision``)."""
    return a @ layer["w"].astype(a.dtype) + layer["b"].astype(a.dtype)


def tanh_prime(z: jax.Array) -> jax.Array:
    """Derivative of tanh, the hidden units' g'(z)."""
    t = jnp.tanh(z)
    return 1.0 - t * t


@dataclass(frozen=True)
class MLP:
    """A tanh MLP with a linear output layer; ``sizes`` = (inputs, hidden..., outputs).

    Another hidden nonlinearity is a subclass overriding ``activation`` and ``hidden_prime``:
    the forward pass, the local rule and FA's backward chain all take g and g' from these.
    (The papers' zero start needs g'(0) != 0: with ReLU a zero-initialised network gets no
    hidden updates from any local rule.)
    """

    sizes: tuple[int, ...]

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A subclass that changes g but not g' would train with another g's slope, silently:
        both must come from the same class (of a subclass's subclass too)."""
        super().__init_subclass__(**kwargs)

        def owner(name: str) -> type:
            return next(c for c in cls.__mro__ if name in vars(c))

        if owner("activation") is not owner("hidden_prime"):
            raise TypeError(
                f"{cls.__name__} overrides one of activation and hidden_prime: override both "
                "(g and its derivative g'), or the local rule uses a slope that is not g's"
            )

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or not all(is_integer(s) and s >= 1 for s in self.sizes):
            raise ValueError(f"MLP sizes must be >= 2 positive integers, got {self.sizes}")

    @property
    def num_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def units(self) -> tuple[int, ...]:
        """Neurons per layer that receive credit (every layer but the input)."""
        return tuple(self.sizes[1:])

    def init(self, key: jax.Array, scheme: str = "zero") -> Params:
        """Initialise weights; the papers start TDCA from zero and Zero-BP from +-1e-16."""
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
        if scheme == "zero" and self.num_layers > 1:
            self._check_zero_start()
        params: Params = []
        keys = jax.random.split(key, self.num_layers)
        for k, n_in, n_out in zip(keys, self.sizes[:-1], self.sizes[1:], strict=True):
            kw, kb = jax.random.split(k)
            if scheme == "zero":
                w, b = jnp.zeros((n_in, n_out)), jnp.zeros((n_out,))
            elif scheme == "near_zero":
                w = jax.random.uniform(kw, (n_in, n_out), minval=-NEAR_ZERO, maxval=NEAR_ZERO)
                b = jax.random.uniform(kb, (n_out,), minval=-NEAR_ZERO, maxval=NEAR_ZERO)
            else:  # kaiming (He) normal, the usual default for BP baselines
                w = jax.random.normal(kw, (n_in, n_out)) * jnp.sqrt(2.0 / n_in)
                b = jnp.zeros((n_out,))
            params.append({"w": w, "b": b})
        return params

    def _check_zero_start(self) -> None:
        """Refuse an exact-zero start where g'(0) = 0 (ReLU): every hidden pre-activation
        stays 0, so no local rule (nor BP) ever moves the hidden layers and the network
        trains to chance, silently. Evaluated eagerly, also when init is being traced; where
        a trace cannot evaluate anything (an unjitted shard_map, as ``Evolution.evaluate``
        called eagerly on several devices) it is skipped: the jitted paths still check."""
        try:
            with jax.ensure_compile_time_eval():
                slope = float(self.hidden_prime(jnp.zeros(())))
        except jax.errors.ConcretizationTypeError:
            return
        if slope == 0.0:
            raise ValueError(
                f"{type(self).__name__}: a zero start (init scheme 'zero', what TDCA, FA and "
                "DFA start from) needs g'(0) != 0, but this network's hidden_prime(0) is 0: "
                "its hidden layers would never move and it would train to chance. Use a g "
                "with g'(0) != 0 (tanh, arctan, ...), or start it from 'near_zero' or "
                "'kaiming' (tdca evolve --init; a learner's register_learner(..., "
                "init_scheme=...); a task's init_scheme)"
            )

    def activation(self, z: jax.Array) -> jax.Array:
        """g, the hidden units' nonlinearity (tanh, as the papers)."""
        return jnp.tanh(z)

    def hidden_prime(self, z: jax.Array) -> jax.Array:
        """g'(z), the slope every local rule multiplies a hidden neuron's credit by."""
        return tanh_prime(z)

    def forward(self, params: Params, x: jax.Array) -> tuple[jax.Array, list[LayerTap]]:
        """Return the output logits and each layer's (input, pre-activation)."""
        taps: list[LayerTap] = []
        a = x
        for i, layer in enumerate(params):
            z = affine(a, layer)
            taps.append(LayerTap(a, z))
            a = z if i == len(params) - 1 else self.activation(z)
        return a, taps

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """Output logits only."""
        return self.forward(params, x)[0]

    def local_update(self, taps: list[LayerTap], credits: list[jax.Array]) -> Params:
        """The neuron-local rule (see ``tdca.credit.local_rule``)."""
        from tdca.credit.local_rule import local_update

        return local_update(taps, credits, self.hidden_prime)

    def num_params(self) -> int:
        return sum((i + 1) * o for i, o in zip(self.sizes[:-1], self.sizes[1:], strict=True))
