"""One TDCA inner step of a one-hidden-layer tanh MLP with its per-example work fused.

Why: on a GPU the papers' protocol (60,000 examples, 784-100-10, population 64) is not
bound by its two large products (x @ W1 and x^T @ delta1) but by the passes between them:
XLA writes and rereads the pre-activations, the activations, the 110 credits and the
deltas of every example of every candidate, about a dozen passes over (population x
60,000 x 100) arrays per step (docs/performance.md, the H200 profile). Here the two large
products stay cuBLAS GEMMs and everything between them runs in one Pallas kernel per tile
of examples: bias + tanh, the logits and softmax, the credit network on [p, one-hot(y)],
delta1 = credit * (1 - h^2), and the small per-tile sums of the output layer's update. Per
step and candidate only z = x @ W1 (written once, read once) and delta1 (the same) cross
memory.

The result is the same update direction as the unfused path (``TDCA.direction`` with the
local rule) up to floating-point rounding; ``tests/test_fused_kernel.py`` checks that on a
CPU, where the kernel runs in Pallas' interpreter. On an NVIDIA GPU it compiles through
Triton. The population axis is added by ``jax.vmap`` (Pallas prepends a grid axis).

Triton needs power-of-two block sizes, so hidden units, classes and credit-network widths
are zero-padded to the next power of two (>= 16, the smallest tensor-core tile): 100 hidden
units compute as 128 whose extra columns stay zero and are sliced off the result.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.networks.mlp import MLP, Params

BLOCK_ROWS = 64
"""Examples per kernel program (a power of two >= 16); a tuning knob for the GPU
(``benchmarks/fused_step.py`` sweeps it)."""
NUM_WARPS = 4
"""Warps per kernel program on a GPU (Triton); swept with BLOCK_ROWS."""


def padded(n: int) -> int:
    """The power of two >= max(n, 16) a dimension is padded to inside the kernel."""
    return max(16, pl.next_power_of_2(int(n)))


def unsupported_reason(model: Any, net: CreditNet, layout_is_dense: bool) -> str | None:
    """Why the fused step cannot run this pair of networks (None: it can)."""
    if type(model) is not MLP:  # a subclass may change g and g'
        return f"the bottom-up network is a {type(model).__name__}, not the tanh MLP"
    if model.num_layers != 2:
        return f"the bottom-up MLP {model.sizes} has {model.num_layers - 1} hidden layers, not 1"
    if not layout_is_dense:
        return "the credit layout uses diffusion (the fused step needs one credit per neuron)"
    if len(net.hidden) < 1:
        return "the credit network has no hidden layer"
    if net.inputs != 2 * model.sizes[-1] or net.outputs != sum(model.units):
        return f"the credit network {net.sizes} does not read [p, one-hot] for {model.sizes}"
    return None


def _pad2(a: jax.Array, rows: int, cols: int) -> jax.Array:
    a = jnp.asarray(a, jnp.float32)
    a = a.reshape(1, -1) if a.ndim == 1 else a
    return jnp.pad(a, ((0, rows - a.shape[0]), (0, cols - a.shape[1])))


def _credit_operands(
    net: CreditNet, sparams: CreditParams, hidden: int, classes: int
) -> list[jax.Array]:
    """The credit network as padded 2-D arrays: its first layer split into the rows that
    read p and those that read the one-hot label, its last layer split into hidden-unit and
    output-unit credits, the learned gain folded into the last layer."""
    n = len(net.sizes) - 1
    layers = sparams[:n]
    gain = net.gain(sparams)
    hp, cp = padded(hidden), padded(classes)
    widths = [padded(q) for q in net.hidden]
    first = layers[0]
    ops = [
        _pad2(first["w"][:classes], cp, widths[0]),
        _pad2(first["w"][classes:], cp, widths[0]),
        _pad2(first["b"], 1, widths[0]),
    ]
    for layer, w_in, w_out in zip(layers[1:-1], widths[:-1], widths[1:], strict=True):
        ops += [_pad2(layer["w"], w_in, w_out), _pad2(layer["b"], 1, w_out)]
    w, b = layers[-1]["w"] * gain, layers[-1]["b"] * gain
    ops += [
        _pad2(w[:, :hidden], widths[-1], hp),
        _pad2(b[:hidden], 1, hp),
        _pad2(w[:, hidden:], widths[-1], cp),
        _pad2(b[hidden:], 1, cp),
    ]
    return ops


def _cost(n: int, hp: int, cp: int, widths: list[int], itemsize: int) -> pl.CostEstimate:
    """What the kernel does, for XLA's cost analysis (a custom call is opaque to it): per
    example the logits, the credit network, the output layer's update and ~10 elementwise
    operations per hidden unit; it reads z and writes delta1."""
    macs = hp * cp + 2 * cp * widths[0] + sum(a * b for a, b in itertools.pairwise(widths))
    macs += widths[-1] * (hp + cp) + hp * cp
    return pl.CostEstimate(
        flops=n * (2 * macs + 10 * hp + 8 * cp),
        transcendentals=n * (hp + cp + sum(widths)),
        bytes_accessed=n * (2 * hp * itemsize + 4),
    )


def _make_kernel(n: int, classes: int, block: int, n_mid: int, dot_dtype: jnp.dtype):
    """The per-tile kernel; ``n`` real examples (the last tile is masked), ``n_mid`` hidden
    layers of the credit network after its first."""

    def dot(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.dot(a.astype(dot_dtype), b.astype(dot_dtype), preferred_element_type=jnp.float32)

    def kernel(z_ref, lab_ref, b1_ref, w2_ref, b2_ref, ap_ref, ay_ref, ab_ref, *refs):
        mids, (wh_ref, bh_ref, wo_ref, bo_ref) = refs[: 2 * n_mid], refs[2 * n_mid : 2 * n_mid + 4]
        d1_ref, pw2_ref, pb1_ref, pb2_ref = refs[2 * n_mid + 4 :]
        hp, cp = z_ref.shape[-1], w2_ref.shape[-1]
        first_row = pl.program_id(0) * block
        rows_h = first_row + jax.lax.broadcasted_iota(jnp.int32, (block, hp), 0)
        rows_c = first_row + jax.lax.broadcasted_iota(jnp.int32, (block, cp), 0)
        rows_1 = first_row + jax.lax.broadcasted_iota(jnp.int32, (block, 1), 0)
        valid_h, valid_c = rows_h < n, rows_c < n

        z = plgpu.load(z_ref, mask=valid_h, other=0.0).astype(jnp.float32)
        h = jnp.tanh(z + b1_ref[...])
        logits = dot(h, w2_ref[...]) + b2_ref[...]
        cols = jax.lax.broadcasted_iota(jnp.int32, (block, cp), 1)
        logits = jnp.where(cols < classes, logits, -jnp.inf)  # padded classes get p = 0
        e = jnp.exp(logits - jnp.max(logits, axis=1, keepdims=True))
        p = e / jnp.sum(e, axis=1, keepdims=True)
        labels = plgpu.load(lab_ref, mask=rows_1 < n, other=-1)
        onehot = (cols == labels).astype(jnp.float32)

        a = jnp.tanh(dot(p, ap_ref[...]) + dot(onehot, ay_ref[...]) + ab_ref[...])
        for i in range(n_mid):
            a = jnp.tanh(dot(a, mids[2 * i][...]) + mids[2 * i + 1][...])
        credit_h = dot(a, wh_ref[...]) + bh_ref[...]
        credit_o = dot(a, wo_ref[...]) + bo_ref[...]

        delta1 = jnp.where(valid_h, credit_h * (1.0 - h * h), 0.0)
        delta2 = jnp.where(valid_c, credit_o, 0.0)  # linear outputs: g' = 1
        plgpu.store(d1_ref, delta1.astype(d1_ref.dtype), mask=valid_h)
        pw2_ref[...] = jax.lax.dot_general(
            h.astype(dot_dtype),
            delta2.astype(dot_dtype),
            (((0,), (0,)), ((), ())),
            preferred_element_type=jnp.float32,
        )
        pb1_ref[...] = jnp.sum(delta1, axis=0, keepdims=True)
        pb2_ref[...] = jnp.sum(delta2, axis=0, keepdims=True)

    return kernel


def _interpret() -> bool:
    backend = jax.default_backend()
    if backend == "cpu":
        return True  # Pallas' interpreter: slow, exact semantics (tests, CPU users)
    if backend in ("gpu", "cuda"):
        return False
    raise ValueError(
        f"the fused TDCA step runs on NVIDIA GPUs (Triton) or, interpreted, on a CPU; "
        f"this backend is {backend!r}: use --kernel xla"
    )


def fused_direction(
    model: MLP,
    net: CreditNet,
    sparams: CreditParams,
    theta: Params,
    batch: tuple[jax.Array, jax.Array],
    block_rows: int = BLOCK_ROWS,
    num_warps: int = NUM_WARPS,
) -> Params:
    """The local rule's update direction for ``theta`` on ``batch`` (like
    ``TDCA.direction`` on a classification task), per-example work fused in one kernel."""
    if block_rows < 16 or block_rows & (block_rows - 1):
        raise ValueError(f"block_rows must be a power of two >= 16, got {block_rows}")
    x, y = batch
    _, hidden, classes = model.sizes
    n = x.shape[0]
    hp, cp = padded(hidden), padded(classes)
    dtype = x.dtype  # the run's activation dtype (bf16 under bfloat16-activations)
    w1p = _pad2(theta[0]["w"], x.shape[1], hp).astype(dtype)
    z = x @ w1p  # (n, hp): the first large product, a GEMM outside the kernel
    ops = [
        z,
        y.astype(jnp.int32).reshape(n, 1),
        _pad2(theta[0]["b"], 1, hp),
        _pad2(theta[1]["w"], hp, cp),
        _pad2(theta[1]["b"], 1, cp),
        *_credit_operands(net, sparams, hidden, classes),
    ]
    tiles = pl.cdiv(n, block_rows)

    def whole(a: jax.Array) -> pl.BlockSpec:
        return pl.BlockSpec(a.shape, lambda i: (0, 0))

    in_specs = [
        pl.BlockSpec((block_rows, hp), lambda i: (i, 0)),
        pl.BlockSpec((block_rows, 1), lambda i: (i, 0)),
        *[whole(a) for a in ops[2:]],
    ]
    out_shape = [
        jax.ShapeDtypeStruct((n, hp), dtype),
        jax.ShapeDtypeStruct((tiles, hp, cp), jnp.float32),
        jax.ShapeDtypeStruct((tiles, 1, hp), jnp.float32),
        jax.ShapeDtypeStruct((tiles, 1, cp), jnp.float32),
    ]
    out_specs = [
        pl.BlockSpec((block_rows, hp), lambda i: (i, 0)),
        pl.BlockSpec((None, hp, cp), lambda i: (i, 0, 0)),
        pl.BlockSpec((None, 1, hp), lambda i: (i, 0, 0)),
        pl.BlockSpec((None, 1, cp), lambda i: (i, 0, 0)),
    ]
    kernel = _make_kernel(n, classes, block_rows, len(net.hidden) - 1, dtype)
    delta1, pw2, pb1, pb2 = pl.pallas_call(
        kernel,
        out_shape=out_shape,
        grid=(tiles,),
        in_specs=in_specs,
        out_specs=out_specs,
        interpret=_interpret(),
        compiler_params=plgpu.CompilerParams(num_warps=num_warps, num_stages=1),
        name="tdca_fused_step",
        cost_estimate=_cost(n, hp, cp, [padded(q) for q in net.hidden], z.dtype.itemsize),
    )(*ops)
    # the second large product; bf16 inputs accumulate in float32 (as the local rule)
    dw1 = jnp.matmul(x.T, delta1, preferred_element_type=jnp.float32)[:, :hidden] / n
    return [
        {"w": dw1, "b": jnp.sum(pb1, axis=(0, 1))[:hidden] / n},
        {
            "w": jnp.sum(pw2, axis=0)[:hidden, :classes] / n,
            "b": jnp.sum(pb2, axis=(0, 1))[:classes] / n,
        },
    ]
