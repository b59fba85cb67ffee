"""The local learning rule every non-BP strategy shares.

Each neuron updates its incoming weights from its credit, its own slope and its input:
``dW = mean_batch((credit * g'(z)) outer input)``, ``db = mean_batch(credit * g'(z))``,
with g = tanh for hidden layers and g' = 1 at the (linear) output layer. The learning rate
is applied by the inner loop's optimizer.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from tdca.networks.mlp import LayerTap, Params, tanh_prime


def f32_dot_operands(*arrays: jax.Array) -> tuple[jax.Array, ...]:
    """The operands of a float32-accumulated product of bf16 activations, as the backend can
    run it: on a CPU they are widened to float32 first (XLA:CPU in jaxlib 0.11 has no kernel
    for an unfused bf16 x bf16 -> f32 dot: "Unsupported element type for DotThunk"; a bf16
    product is exact in float32, so the same products are summed in float32 as before);
    elsewhere (a GPU's bf16 matmul units) they stay as they are."""
    if jax.default_backend() != "cpu":
        return arrays
    return tuple(a.astype(jnp.float32) if a.dtype == jnp.bfloat16 else a for a in arrays)


def weight_update(inputs: jax.Array, delta: jax.Array) -> jax.Array:
    """``mean_batch(delta outer input)``: the product runs in the activations' dtype and is
    accumulated and returned in float32, so bf16 activations never round a weight update."""
    a, d = f32_dot_operands(inputs.T, delta)
    return jnp.matmul(a, d, preferred_element_type=jnp.float32) / inputs.shape[0]


def check_blocks(taps: list[LayerTap], credits: list[jax.Array]) -> None:
    """One credit block per layer, or say where the count comes from (a custom task's
    ``credit_units`` that leaves out a layer would otherwise fail in a zip)."""
    if len(taps) != len(credits):
        raise ValueError(
            f"{len(credits)} credit blocks for {len(taps)} layers: a strategy emits one block "
            "per entry of the task's credit_units, which must list every layer of the "
            "bottom-up network, bottom to top, the output layer included"
        )


def local_update(
    taps: list[LayerTap],
    credits: list[jax.Array],
    hidden_prime: Callable[[jax.Array], jax.Array] = tanh_prime,
) -> Params:
    """Per-layer update direction from per-neuron credits ``(batch, units)``; ``hidden_prime``
    is the bottom-up network's g' (``MLP.hidden_prime``)."""
    check_blocks(taps, credits)
    last = len(taps) - 1
    update: Params = []
    for i, (tap, c) in enumerate(zip(taps, credits, strict=True)):
        c = c.astype(tap.pre.dtype)  # credits join the activations' dtype
        delta = c if i == last else c * hidden_prime(tap.pre)
        update.append(
            {"w": weight_update(tap.inputs, delta), "b": jnp.mean(delta, 0, dtype=jnp.float32)}
        )
    return update
