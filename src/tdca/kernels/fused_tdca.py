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
Triton. The population axis is added by ``jax.vmap`` as everywhere else; a custom batching
rule turns that vmap into one kernel over (candidate, block of examples) that reads and
writes the two GEMMs' (examples, population x hidden) layout in place, where Pallas' generic
batching would make XLA transpose delta1 every step.

Triton needs power-of-two block sizes, so hidden units, classes and credit-network widths
are zero-padded to the next power of two (>= 16, the smallest tensor-core tile): 100 hidden
units compute as 128 whose extra columns stay zero and are sliced off the result.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.networks.mlp import MLP, Params
from tdca.tasks.classification import class_anchors


@dataclasses.dataclass(frozen=True)
class Tiling:
    """How the kernel splits the work: each program takes ``block_rows`` examples of one
    candidate and walks them ``sub_rows`` at a time (both powers of two >= 16); Triton runs
    it with ``num_warps`` warps. ``hoist_weights`` loads the small weights once per program
    rather than once per sub-tile (fewer loads, more registers). Tuning knobs for the GPU
    (``benchmarks/fused_step.py`` sweeps them). The default is the fastest whole generation
    measured on an H200 (docs/gpu-h200.md, lease 5): 64 rows in one sub-tile, 4 warps,
    0.797 s per generation at bfloat16-activations, against 0.877 s for 1,024 rows in
    sub-tiles of 64 with hoisted weights (an isolated step, timed with one bottom-up state
    shared by the population, had put the two within 2%)."""

    block_rows: int = 64
    sub_rows: int = 64
    num_warps: int = 4
    hoist_weights: bool = False

    def __post_init__(self) -> None:
        for name in ("block_rows", "sub_rows"):
            v = getattr(self, name)
            if v < 16 or v & (v - 1):
                raise ValueError(f"{name} must be a power of two >= 16, got {v}")
        if self.sub_rows > self.block_rows:
            raise ValueError(f"sub_rows {self.sub_rows} > block_rows {self.block_rows}")
        if self.num_warps not in (1, 2, 4, 8, 16):
            raise ValueError(f"num_warps must be 1, 2, 4, 8 or 16, got {self.num_warps}")


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
    net: CreditNet, sparams: CreditParams, hidden: int, classes: int, anchored: bool = False
) -> list[jax.Array]:
    """The credit network as padded 2-D arrays: its first layer split into the rows that
    read p and those that read the one-hot label, its last layer split into hidden-unit and
    output-unit credits, the learned gain folded into the last layer. ``anchored`` appends
    what the network emits at each class's anchor [onehot(c), onehot(c)] (hidden-unit and
    output-unit parts, one row per class): the kernel subtracts its label's row."""
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
    if anchored:  # C rows of the credit network, computed once per step and candidate
        at = net.apply(sparams, class_anchors(classes))
        ops += [_pad2(at[:, :hidden], cp, hp), _pad2(at[:, hidden:], cp, cp)]
    return ops


def _cost(
    n: int, hp: int, cp: int, widths: list[int], itemsize: int, anchored: bool = False
) -> pl.CostEstimate:
    """What the kernel does, for XLA's cost analysis (a custom call is opaque to it): per
    example the logits, the credit network, the output layer's update and ~10 elementwise
    operations per hidden unit; it reads z and writes delta1."""
    macs = hp * cp + 2 * cp * widths[0] + sum(a * b for a, b in itertools.pairwise(widths))
    macs += widths[-1] * (hp + cp) + hp * cp + anchored * cp * (hp + cp)
    return pl.CostEstimate(
        flops=n * (2 * macs + 10 * hp + 8 * cp),
        transcendentals=n * (hp + cp + sum(widths)),
        bytes_accessed=n * (2 * hp * itemsize + 4),
    )


def _make_kernel(
    n: int, classes: int, cfg: Tiling, n_mid: int, dot_dtype: jnp.dtype, anchored: bool = False
):
    """The kernel of one program: ``cfg.block_rows`` examples of one candidate, walked in
    sub-tiles of ``cfg.sub_rows`` (registers hold one sub-tile); ``n`` real examples (rows
    past them are masked), ``n_mid`` hidden layers of the credit network after its first;
    ``anchored``: two more weights, the credits at each class's anchor, subtracted by label."""
    block, sub = cfg.block_rows, cfg.sub_rows
    n_weights = 6 + 2 * n_mid + 4 + 2 * anchored

    def dot(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.dot(a.astype(dot_dtype), b.astype(dot_dtype), preferred_element_type=jnp.float32)

    def kernel(z_ref, lab_ref, *refs):
        weights = refs[:n_weights]
        d1_ref, pw2_ref, pb1_ref, pb2_ref = refs[n_weights:]
        hp, cp = z_ref.shape[-1], pw2_ref.shape[-1]
        base = pl.program_id(1) * block
        hoisted = [w[...] for w in weights] if cfg.hoist_weights else None

        def tile(t: jax.Array, acc: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
            b1, w2, b2, ap, ay, ab, *rest = hoisted or [w[...] for w in weights]
            mids, (wh, bh, wo, bo, *anchor) = rest[: 2 * n_mid], rest[2 * n_mid :]
            start = pl.multiple_of(t * sub, sub)
            rows = pl.ds(start, sub)
            first_row = base + start
            valid_h = first_row + jax.lax.broadcasted_iota(jnp.int32, (sub, hp), 0) < n
            valid_c = first_row + jax.lax.broadcasted_iota(jnp.int32, (sub, cp), 0) < n
            valid_1 = first_row + jax.lax.broadcasted_iota(jnp.int32, (sub, 1), 0) < n

            z = plgpu.load(z_ref.at[rows], mask=valid_h, other=0.0).astype(jnp.float32)
            h = jnp.tanh(z + b1)
            logits = dot(h, w2) + b2
            cols = jax.lax.broadcasted_iota(jnp.int32, (sub, cp), 1)
            logits = jnp.where(cols < classes, logits, -jnp.inf)  # padded classes get p = 0
            e = jnp.exp(logits - jnp.max(logits, axis=1, keepdims=True))
            p = e / jnp.sum(e, axis=1, keepdims=True)
            labels = plgpu.load(lab_ref.at[rows], mask=valid_1, other=-1)
            onehot = (cols == labels).astype(jnp.float32)

            a = jnp.tanh(dot(p, ap) + dot(onehot, ay) + ab)
            for i in range(n_mid):
                a = jnp.tanh(dot(a, mids[2 * i]) + mids[2 * i + 1])
            credit_h = dot(a, wh) + bh
            credit_o = dot(a, wo) + bo
            if anchored:  # minus the credits at the label's anchor (TDCA.anchored)
                credit_h = credit_h - dot(onehot, anchor[0])
                credit_o = credit_o - dot(onehot, anchor[1])

            delta1 = jnp.where(valid_h, credit_h * (1.0 - h * h), 0.0)
            delta2 = jnp.where(valid_c, credit_o, 0.0)  # linear outputs: g' = 1
            plgpu.store(d1_ref.at[rows], delta1.astype(d1_ref.dtype), mask=valid_h)
            pw2 = jax.lax.dot_general(
                h.astype(dot_dtype),
                delta2.astype(dot_dtype),
                (((0,), (0,)), ((), ())),
                preferred_element_type=jnp.float32,
            )
            return (
                acc[0] + pw2,
                acc[1] + jnp.sum(delta1, axis=0, keepdims=True),
                acc[2] + jnp.sum(delta2, axis=0, keepdims=True),
            )

        zeros = (
            jnp.zeros((hp, cp), jnp.float32),
            jnp.zeros((1, hp), jnp.float32),
            jnp.zeros((1, cp), jnp.float32),
        )
        pw2, pb1, pb2 = jax.lax.fori_loop(0, block // sub, tile, zeros)
        pw2_ref[...], pb1_ref[...], pb2_ref[...] = pw2, pb1, pb2

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


def _population_step(
    model: MLP,
    net: CreditNet,
    cfg: Tiling,
    anchored: bool,
    sparams: CreditParams,
    theta: Params,
    x: jax.Array,
    y: jax.Array,
) -> Params:
    """The direction of every candidate of a population (leading axis of ``sparams`` and
    ``theta``) on one shared batch: z = x @ [W1 of each candidate] as one GEMM of shape
    (n, population x 128), the kernel on a grid of (candidate, block of examples) reading
    and writing that layout in place, then x^T @ delta1 as one GEMM. (Under a plain vmap,
    Pallas would put the population first and XLA would transpose delta1 for the second
    GEMM every step: 10% of a generation in the H200 profile.)"""
    _, hidden, classes = model.sizes
    pop = theta[0]["w"].shape[0]
    n, d = x.shape
    hp, cp = padded(hidden), padded(classes)
    dtype = x.dtype  # the run's activation dtype (bf16 under bfloat16-activations)
    w1 = jnp.pad(theta[0]["w"], ((0, 0), (0, 0), (0, hp - hidden))).astype(dtype)
    z = x @ jnp.transpose(w1, (1, 0, 2)).reshape(d, pop * hp)  # the first large GEMM
    per_candidate = [
        jax.vmap(lambda a: _pad2(a, 1, hp))(theta[0]["b"]),
        jax.vmap(lambda a: _pad2(a, hp, cp))(theta[1]["w"]),
        jax.vmap(lambda a: _pad2(a, 1, cp))(theta[1]["b"]),
        *jax.vmap(lambda s: _credit_operands(net, s, hidden, classes, anchored))(sparams),
    ]
    blocks = pl.cdiv(n, cfg.block_rows)
    rows = cfg.block_rows

    def candidate(a: jax.Array) -> pl.BlockSpec:  # one candidate's whole small array
        return pl.BlockSpec((None, *a.shape[1:]), lambda c, i: (c, 0, 0))

    in_specs = [
        pl.BlockSpec((rows, hp), lambda c, i: (i, c)),
        pl.BlockSpec((rows, 1), lambda c, i: (i, 0)),
        *[candidate(a) for a in per_candidate],
    ]
    out_shape = [
        jax.ShapeDtypeStruct((n, pop * hp), dtype),
        jax.ShapeDtypeStruct((pop, blocks, hp, cp), jnp.float32),
        jax.ShapeDtypeStruct((pop, blocks, 1, hp), jnp.float32),
        jax.ShapeDtypeStruct((pop, blocks, 1, cp), jnp.float32),
    ]
    out_specs = [
        pl.BlockSpec((rows, hp), lambda c, i: (i, c)),
        pl.BlockSpec((None, None, hp, cp), lambda c, i: (c, i, 0, 0)),
        pl.BlockSpec((None, None, 1, hp), lambda c, i: (c, i, 0, 0)),
        pl.BlockSpec((None, None, 1, cp), lambda c, i: (c, i, 0, 0)),
    ]
    kernel = _make_kernel(n, classes, cfg, len(net.hidden) - 1, dtype, anchored)
    widths = [padded(q) for q in net.hidden]
    delta1, pw2, pb1, pb2 = pl.pallas_call(
        kernel,
        out_shape=out_shape,
        grid=(pop, blocks),
        in_specs=in_specs,
        out_specs=out_specs,
        interpret=_interpret(),
        compiler_params=plgpu.CompilerParams(num_warps=cfg.num_warps, num_stages=1),
        name="tdca_fused_step",
        cost_estimate=_cost(pop * n, hp, cp, widths, z.dtype.itemsize, anchored),
    )(z, y.astype(jnp.int32).reshape(n, 1), *per_candidate)
    # the second large GEMM; bf16 inputs accumulate in float32 (as the local rule)
    dw1 = jnp.matmul(x.T, delta1, preferred_element_type=jnp.float32).reshape(d, pop, hp)
    return [
        {
            "w": jnp.transpose(dw1, (1, 0, 2))[:, :, :hidden] / n,
            "b": jnp.sum(pb1, axis=(1, 2))[:, :hidden] / n,
        },
        {
            "w": jnp.sum(pw2, axis=1)[:, :hidden, :classes] / n,
            "b": jnp.sum(pb2, axis=(1, 2))[:, :classes] / n,
        },
    ]


def _population_aware(model: MLP, net: CreditNet, cfg: Tiling, anchored: bool) -> Any:
    """The one-candidate step as a function whose ``jax.vmap`` over candidates (credit
    networks and bottom-up states, the data shared) runs ``_population_step`` once, in the
    layout above, instead of Pallas' generic batching of the kernel."""

    def single(sparams: CreditParams, theta: Params, x: jax.Array, y: jax.Array) -> Params:
        one = jax.tree.map(lambda a: a[None], (sparams, theta))
        out = _population_step(model, net, cfg, anchored, *one, x, y)
        return jax.tree.map(lambda a: a[0], out)

    step = jax.custom_batching.custom_vmap(single)

    @step.def_vmap
    def _batched(axis_size: int, in_batched: Any, sparams, theta, x, y):
        s_b, t_b, x_b, y_b = in_batched
        if x_b or y_b:  # candidates with their own data (several data sets): generic batching
            axes = jax.tree.map(lambda b: 0 if b else None, tuple(in_batched))
            out = jax.vmap(single, in_axes=axes)(sparams, theta, x, y)
        else:

            def stacked(tree: Any, batched: Any) -> Any:
                return jax.tree.map(
                    lambda a, b: a if b else jnp.broadcast_to(a, (axis_size, *a.shape)),
                    tree,
                    batched,
                )

            out = _population_step(
                model, net, cfg, anchored, stacked(sparams, s_b), stacked(theta, t_b), x, y
            )
        return out, jax.tree.map(lambda _: True, out)

    return step


def fused_direction(
    model: MLP,
    net: CreditNet,
    sparams: CreditParams,
    theta: Params,
    batch: tuple[jax.Array, jax.Array],
    tiling: Tiling | None = None,
    anchored: bool = False,
) -> Params:
    """The local rule's update direction for ``theta`` on ``batch`` (like
    ``TDCA.direction`` on a classification task, ``anchored`` as ``TDCA.anchored``),
    per-example work fused in one kernel. Vmapped over a population it runs one kernel for
    all candidates."""
    x, y = batch
    step = _population_aware(model, net, tiling or Tiling(), anchored)
    return step(sparams, theta, x, y)
