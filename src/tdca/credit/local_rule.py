"""The local learning rule every non-BP strategy shares.

Each neuron updates its incoming weights from its credit, its own slope and its input:
``dW = mean_batch((credit * g'(z)) outer input)``, ``db = mean_batch(credit * g'(z))``,
with g = tanh for hidden layers and g' = 1 at the (linear) output layer. The learning rate
is applied by the inner loop's optimizer.
"""

from __future__ import annotations

import jax

from tdca.networks.mlp import LayerTap, Params, tanh_prime


def local_update(taps: list[LayerTap], credits: list[jax.Array]) -> Params:
    """Per-layer update direction from per-neuron credits ``(batch, units)``."""
    if len(taps) != len(credits):
        raise ValueError(f"{len(credits)} credit blocks for {len(taps)} layers")
    last = len(taps) - 1
    update: Params = []
    for i, (tap, c) in enumerate(zip(taps, credits, strict=True)):
        delta = c if i == last else c * tanh_prime(tap.pre)
        n = tap.inputs.shape[0]
        update.append({"w": tap.inputs.T @ delta / n, "b": delta.mean(0)})
    return update
