"""Parameter and FLOP complexity of BP vs TDCA (2024 paper Table S4; 2022 paper Table 6).

Every count here is derived from the network definitions (``MLP``, ``CreditNet``,
``CreditLayout``), never typed in; the paper's numbers sit next to ours only for comparison.

Conventions
-----------
* A multiply-add is 2 FLOPs (``FLOPS_PER_MAC``); an (m, k) @ (k, n) matmul is 2*m*k*n.
* Other elementwise arithmetic (bias add, reduction, tanh', SGD) is 1 FLOP per element
  and op. Transcendentals (tanh, exp, log) are counted apart, as XLA does, and are not
  part of ``flops``.
* "Step" FLOPs are one whole inner step on a batch of B examples, as ``InnerLoop`` runs it:
  direction (BP: forward + backward; TDCA: forward + credit net + diffusion + local rule)
  plus the SGD update. ``xla_step_cost`` checks them against XLA's cost analysis.

How the paper counted (inferred; it says nothing beyond "FLOPs")
----------------------------------------------------------------
Table S4 is reproduced *exactly* by ``paper_credit_flops`` x N_train with N_train the
training-set size (60,000 MNIST/Fashion-MNIST, 50,000 CIFAR-10): the papers train
full-batch over the training set, so one inner step is one epoch. This is why CIFAR-10's
numbers are 5/6 of MNIST's despite 4x the inputs: they depend only on the number of
examples, because only the *credit computation* is counted:

* BP: 4 FLOPs per feedback weight (W2: C*H, no bias) per example, i.e. two passes over
  W2 (sending the error down through W2^T and forming W2's gradient; or the output
  layer's forward + backward). The forward pass and the input layer's gradient, which
  TDCA's local rule needs as well, are left out. BP's "Param" is those feedback weights.
* TDCA: one forward of the credit network on [p, onehot], weights only (biases, tanh,
  the diffusion matmul and the local rule are left out). The diffusion matmul is not
  small: 36->900 densely costs 2*36*900 = 64,800 FLOPs/example, 11x the credit net's
  5,760, so with it "credit groups (900)" would cost more than BP(900) in the paper's own
  convention; a sparse (truncated) kernel is what would make the paper's claim hold.
* "Credit parameters" (one credit per bottom-up parameter): the paper's counts are
  61*P' + 960 for both datasets (61 divides their difference exactly), i.e. the credit
  network's last hidden layer had 60 units, not 30 as in the other rows, and
  P'_MNIST = 80,194 = 784*101 + 101*10 (first-layer bias counted as d*(H+1) instead of
  (d+1)*H, off by d - H = 684) while P'_CIFAR = 308,310 is the correct count. With the
  (30, 30) credit net of the other rows our count is 31*P + 1,560.

Over a whole step the picture differs: both methods are dominated by the bottom-up forward
pass and the input layer's weight gradient (~4*d*H FLOPs per example, which the local rule
needs as much as BP does), so TDCA costs about as much as BP (within a few percent, slightly
more with dense diffusion), not the 1/6 the paper's accounting suggests for 900 hidden units.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import optax

from tdca.credit.diffusion import Diffusion
from tdca.credit.layout import CreditLayout, LayerCredits
from tdca.credit.strategies import BP, TDCA, CreditStrategy
from tdca.inner import InnerLoop
from tdca.networks.credit_net import CreditNet
from tdca.networks.mlp import MLP
from tdca.precision import activation_dtype
from tdca.tasks.classification import ClassificationTask

FLOPS_PER_MAC = 2
"""A multiply-add counts as two FLOPs (the usual convention, and XLA's for dot)."""

CREDIT_HIDDEN = (30, 30)
"""The papers' TDCA network: input [p, onehot] -> 30 -> 30 -> credits."""

CREDIT_MODES = ("parameters", "neurons", "groups")
METHODS = ("bp", *CREDIT_MODES)

TRAIN_SET_SIZES = {"mnist": 60_000, "fashion_mnist": 60_000, "cifar10": 50_000}
"""Full-batch inner steps: the batch the papers' MFLOPs correspond to."""

INPUT_DIMS = {"mnist": 784, "fashion_mnist": 784, "cifar10": 3072}

XLA_TOLERANCE = (0.5, 2.0)
"""Accepted XLA/analytic FLOP ratio: XLA fuses, simplifies and counts elementwise ops its
own way, so only the dominant (matmul) terms must agree."""

# Approximate elementwise costs per logit (negligible next to the matmuls at real sizes).
SOFTMAX_FLOPS_PER_LOGIT = 4  # max, subtract, sum, divide (exp is a transcendental)
CE_GRAD_FLOPS_PER_LOGIT = 8  # log-softmax forward + its gradient (softmax - onehot) / B
ONEHOT_FLOPS_PER_LOGIT = 1  # the label comparison


# ----------------------------------------------------------------------------- parameters


def classifier_sizes(
    inputs: int, hidden: int | Sequence[int], num_classes: int = 10
) -> tuple[int, ...]:
    """Bottom-up MLP sizes (inputs, hidden..., classes)."""
    hs = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    return (int(inputs), *hs, int(num_classes))


def group_layout(
    sizes: Sequence[int], credits: int | Sequence[int], kind: str = "line"
) -> CreditLayout:
    """Diffused credits on each hidden layer (``credits`` per layer), dense on the output.

    ``kind="grid"`` needs square counts (e.g. 36 credits over 900 units = 6x6 over 30x30).
    """
    hidden = tuple(sizes[1:-1])
    ks = (credits,) * len(hidden) if isinstance(credits, int) else tuple(credits)
    if len(ks) != len(hidden):
        raise ValueError(f"{len(ks)} credit counts for {len(hidden)} hidden layers")
    layers = []
    for k, n in zip(ks, hidden, strict=True):
        if kind == "grid":
            rk, rn = round(k**0.5), round(n**0.5)
            if rk * rk != k or rn * rn != n:
                raise ValueError(f"grid diffusion needs square counts, got {k} -> {n}")
            diff = Diffusion("grid", (rk, rk), (rn, rn))
        else:
            diff = Diffusion(kind, (k,), (n,))
        layers.append(LayerCredits(n, diff))
    layers.append(LayerCredits(int(sizes[-1])))
    return CreditLayout(tuple(layers))


def bottom_up_params(sizes: Sequence[int]) -> int:
    """Weights and biases of the bottom-up MLP (784-100-10: 79,510)."""
    return MLP(tuple(sizes)).num_params()


def bp_feedback_params(sizes: Sequence[int]) -> int:
    """Weights BP multiplies the error by on its way down (W_l^T for l >= 2; no biases).

    This is what the paper lists as BP's "Param" (C*H = 1000 for one hidden layer of 100).
    """
    return sum(a * b for a, b in itertools.pairwise(tuple(sizes)[1:]))


def credit_outputs(mode: str, sizes: Sequence[int], layout: CreditLayout | None = None) -> int:
    """Credits the TDCA network emits: one per parameter, per neuron, or per group."""
    if mode == "parameters":
        return bottom_up_params(sizes)
    if mode == "neurons":
        return sum(tuple(sizes)[1:])
    if mode == "groups":
        if layout is None:
            raise ValueError("mode 'groups' needs a credit layout (see group_layout)")
        if layout.units != tuple(sizes)[1:]:
            raise ValueError(f"layout covers {layout.units}, network credits {tuple(sizes)[1:]}")
        return layout.num_credits
    raise ValueError(f"unknown credit mode {mode!r}; choose one of {CREDIT_MODES}")


def credit_net(
    mode: str,
    sizes: Sequence[int],
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> CreditNet:
    """The TDCA network for a classifier: reads [p, onehot] (2C), emits the credits."""
    return CreditNet(2 * int(sizes[-1]), credit_outputs(mode, sizes, layout), tuple(hidden))


def credit_net_params(
    mode: str,
    sizes: Sequence[int],
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> int:
    """TDCA-network parameters (neurons, 784-100-10: 4970; groups 10-to-100: 2180)."""
    return credit_net(mode, sizes, layout, hidden).num_params()


# ----------------------------------------------------------------------------- FLOPs


@dataclass(frozen=True)
class FlopCount:
    """Named FLOP terms (summed into ``flops``) and transcendentals (kept apart, as XLA)."""

    terms: dict[str, int] = field(default_factory=dict)
    transcendentals: int = 0

    @property
    def flops(self) -> int:
        return sum(self.terms.values())

    @property
    def mflops(self) -> float:
        return self.flops / 1e6

    def __add__(self, other: FlopCount) -> FlopCount:
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0) + v
        return FlopCount(terms, self.transcendentals + other.transcendentals)


def _matmul(batch: int, sizes: Sequence[int]) -> int:
    return sum(FLOPS_PER_MAC * batch * a * b for a, b in itertools.pairwise(sizes))


def mlp_forward_flops(sizes: Sequence[int], batch: int, prefix: str = "forward") -> FlopCount:
    """Forward of a tanh MLP with linear output: sum_l (2*B*n_{l-1}*n_l + B*n_l)."""
    sizes = tuple(sizes)
    return FlopCount(
        {f"{prefix}_matmul": _matmul(batch, sizes), f"{prefix}_bias": batch * sum(sizes[1:])},
        transcendentals=batch * sum(sizes[1:-1]),
    )


def sgd_flops(sizes: Sequence[int]) -> FlopCount:
    """theta <- theta - lr*g: a multiply and an add per parameter."""
    return FlopCount({"sgd": 2 * bottom_up_params(sizes)})


def bp_step_flops(sizes: Sequence[int], batch: int) -> FlopCount:
    """One BP inner step on B examples.

    forward: sum_l 2*B*n_{l-1}*n_l (+ biases); cross-entropy and its gradient: ~8*B*C;
    backward: per layer l, dW_l = a_{l-1}^T delta_l (2*B*n_{l-1}*n_l) and db_l (B*n_l),
    and below the top delta_{l-1} = (delta_l W_l^T) * (1 - t^2) (2*B*n_l*n_{l-1} +
    3*B*n_{l-1}); no gradient for the input. Plus SGD (2 per parameter).
    Dominant term for one hidden layer: 2*B*(2*d*H + 3*H*C).
    """
    sizes = tuple(sizes)
    c = sizes[-1]
    out = mlp_forward_flops(sizes, batch)
    out += FlopCount(
        {"loss_and_grad": CE_GRAD_FLOPS_PER_LOGIT * batch * c}, transcendentals=batch * c
    )  # exp only: jax.grad never needs the loss value, so its log is dead code
    layers = list(itertools.pairwise(sizes))
    back_dw = sum(FLOPS_PER_MAC * batch * a * b for a, b in layers)
    back_db = batch * sum(sizes[1:])
    back_delta = sum(FLOPS_PER_MAC * batch * a * b + 3 * batch * a for a, b in layers[1:])
    out += FlopCount({"backward_dw": back_dw, "backward_db": back_db, "backward_delta": back_delta})
    return out + sgd_flops(sizes)


def diffusion_flops(layout: CreditLayout, batch: int) -> FlopCount:
    """Spreading k credits to n neurons by the dense (k, n) kernel: 2*B*k*n per layer."""
    total = sum(
        FLOPS_PER_MAC * batch * lc.num_credits * lc.units
        for lc in layout.layers
        if lc.diffusion is not None
    )
    return FlopCount({"diffusion": total})


def local_rule_flops(sizes: Sequence[int], batch: int) -> FlopCount:
    """The local rule: delta = c * (1 - tanh(z)^2) on hidden layers (3*B*n), then
    dW = x^T delta / B (2*B*n_in*n_out + n_in*n_out) and db = mean(delta) (B*n + n)."""
    sizes = tuple(sizes)
    layers = list(itertools.pairwise(sizes))
    return FlopCount(
        {
            "local_dw": sum(FLOPS_PER_MAC * batch * a * b + a * b for a, b in layers),
            "local_db": sum(batch * b + b for _, b in layers),
            "local_slope": 3 * batch * sum(sizes[1:-1]),
        },
    )  # tanh(z) is the forward's, shared (XLA's CSE does the same), so no transcendentals


def tdca_step_flops(
    sizes: Sequence[int],
    batch: int,
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> FlopCount:
    """One TDCA inner step on B examples (credit per neuron, or per group with ``layout``).

    bottom-up forward + credit state [softmax(logits), onehot(y)] (~5*B*C) + credit net
    forward on (B, 2C) (2*B*(2C*h1 + h1*h2 + h2*K) + biases, K credits) + diffusion
    (2*B*k*n per diffused layer) + local rule (dominant 2*B*sum n_{l-1}*n_l) + SGD.
    Dominant term for one hidden layer: 2*B*(2*d*H + 2*H*C + credit-net weights + k*H).
    """
    sizes = tuple(sizes)
    c = sizes[-1]
    mode = "neurons" if layout is None else "groups"
    net = credit_net(mode, sizes, layout, hidden)
    out = mlp_forward_flops(sizes, batch)
    out += FlopCount(
        {"credit_state": (SOFTMAX_FLOPS_PER_LOGIT + ONEHOT_FLOPS_PER_LOGIT) * batch * c},
        transcendentals=batch * c,
    )
    out += mlp_forward_flops(net.sizes, batch, prefix="credit_net")
    if layout is not None:
        out += diffusion_flops(layout, batch)
    return out + local_rule_flops(sizes, batch) + sgd_flops(sizes)


def step_flops(
    method: str,
    sizes: Sequence[int],
    batch: int,
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> FlopCount:
    """Dispatch on ``method`` ("bp", "neurons", "groups", "parameters").

    "parameters" (never implemented as a strategy: one credit per weight replaces the local
    rule) is forward + credit net with P outputs + SGD.
    """
    if method == "bp":
        return bp_step_flops(sizes, batch)
    if method == "neurons":
        return tdca_step_flops(sizes, batch, None, hidden)
    if method == "groups":
        if layout is None:
            raise ValueError("method 'groups' needs a credit layout (see group_layout)")
        return tdca_step_flops(sizes, batch, layout, hidden)
    if method == "parameters":
        net = credit_net("parameters", sizes, None, hidden)
        c = sizes[-1]
        return (
            mlp_forward_flops(sizes, batch)
            + FlopCount(
                {"credit_state": (SOFTMAX_FLOPS_PER_LOGIT + ONEHOT_FLOPS_PER_LOGIT) * batch * c},
                transcendentals=batch * c,
            )
            + mlp_forward_flops(net.sizes, batch, prefix="credit_net")
            + FlopCount({"credit_mean": batch * net.outputs})
            + sgd_flops(sizes)
        )
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def paper_credit_flops(
    method: str,
    sizes: Sequence[int],
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> int:
    """FLOPs per example in the paper's accounting (reproduces Table S4 x N_train).

    BP: 2 passes over the feedback weights, 2*FLOPS_PER_MAC*sum_{l>=2} n_{l-1}*n_l
    (= 4*H*C). TDCA: credit-net weights once, FLOPS_PER_MAC*sum a*b over its sizes.
    """
    if method == "bp":
        return 2 * FLOPS_PER_MAC * bp_feedback_params(sizes)
    if method not in CREDIT_MODES:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    return _matmul(1, credit_net(method, sizes, layout, hidden).sizes)


# ----------------------------------------------------------------------------- XLA check


def xla_cost(fn: Callable, *args: Any) -> dict[str, float]:
    """XLA's cost analysis of ``jit(fn)`` compiled for ``args`` (arrays or ShapeDtypeStructs).

    ``cost_analysis()`` returns a dict in recent JAX and a list with one dict per
    computation in older versions; both are handled.
    """
    return cost_dict(jax.jit(fn).lower(*args).compile().cost_analysis())


def cost_dict(cost: Any) -> dict[str, float]:
    """``flops`` and ``transcendentals`` from a cost analysis (dict, list of dicts, None)."""
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    cost = cost or {}
    return {
        "flops": float(cost.get("flops", 0.0)),
        "transcendentals": float(cost.get("transcendentals", 0.0)),
    }


def inner_step(strategy: CreditStrategy, lr: float = 0.1) -> Callable:
    """One step of ``InnerLoop(strategy, 1, lr).run``, without its init and scan, so XLA
    costs exactly the step: ``(theta, opt_state, sparams, task) -> (theta, opt_state)``."""
    tx = InnerLoop(strategy, 1, lr).tx

    def step(theta: Any, opt_state: Any, sparams: Any, task: Any) -> tuple[Any, Any]:
        batch = task.batch(jax.random.PRNGKey(0), jnp.asarray(0))
        direction = strategy.direction(sparams, task, theta, batch)
        grads = jax.tree.map(jnp.negative, direction)
        updates, opt_state = tx.update(grads, opt_state, theta)
        return optax.apply_updates(theta, updates), opt_state

    return step


def spec_task(sizes: Sequence[int], batch: int) -> ClassificationTask:
    """A full-batch classification task whose data are shapes only (nothing allocated)."""
    sizes = tuple(sizes)
    return ClassificationTask(
        x=jax.ShapeDtypeStruct((batch, sizes[0]), activation_dtype()),  # type: ignore[arg-type]
        y=jax.ShapeDtypeStruct((batch,), jnp.int32),  # type: ignore[arg-type]
        model=MLP(sizes),
        num_classes=sizes[-1],
    )


def library_strategy(
    method: str,
    task: ClassificationTask,
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
) -> CreditStrategy:
    """The library strategy behind ``method`` (only BP and per-neuron/group TDCA exist)."""
    if method == "bp":
        return BP()
    if method == "neurons":
        return TDCA.for_task(task, hidden=tuple(hidden))
    if method == "groups":
        return TDCA.for_task(task, hidden=tuple(hidden), layout=layout)
    raise ValueError(f"no library strategy for method {method!r}")


def xla_step_cost(strategy: CreditStrategy, task: Any, lr: float = 0.1) -> dict[str, float]:
    """XLA's FLOPs for one compiled inner step of ``strategy`` on ``task`` (full batch)."""
    key = jax.random.PRNGKey(0)
    theta = jax.eval_shape(task.init_params, key)
    sparams = jax.eval_shape(strategy.init, key)
    tx = InnerLoop(strategy, 1, lr).tx
    opt_state = jax.eval_shape(tx.init, theta)
    return xla_cost(inner_step(strategy, lr), theta, opt_state, sparams, task)


def cross_check(
    method: str,
    sizes: Sequence[int],
    batch: int,
    layout: CreditLayout | None = None,
    hidden: Sequence[int] = CREDIT_HIDDEN,
    lr: float = 0.1,
) -> dict[str, Any]:
    """Analytic vs XLA FLOPs of one inner step; ``ok`` when the ratio is in XLA_TOLERANCE."""
    task = spec_task(sizes, batch)
    analytic = step_flops(method, sizes, batch, layout, hidden)
    xla = xla_step_cost(library_strategy(method, task, layout, hidden), task, lr)
    ratio = xla["flops"] / analytic.flops
    return {
        "analytic_flops": analytic.flops,
        "xla_flops": xla["flops"],
        "ratio": ratio,
        "analytic_transcendentals": analytic.transcendentals,
        "xla_transcendentals": xla["transcendentals"],
        "ok": XLA_TOLERANCE[0] <= ratio <= XLA_TOLERANCE[1],
    }


# ----------------------------------------------------------------------------- Table S4

PAPER_TABLE_S4: dict[str, dict[str, tuple[int | None, float | None]]] = {
    # setting -> dataset -> (Param, MFLOPs) as printed in the 2024 paper's Table S4.
    "BP(100 hidden)": {"mnist": (1000, 240), "cifar10": (1000, 200)},
    "Credit parameters": {"mnist": (4_892_794, None), "cifar10": (18_807_870, None)},
    "Credit neurons": {"mnist": (4970, 576), "cifar10": (4970, 480)},
    "Credit groups": {"mnist": (2180, 252), "cifar10": (2180, 210)},
    "BP(900 hidden)": {"mnist": (9000, 2160), "cifar10": (9000, 1800)},
    "Credit groups (900 hidden)": {"mnist": (2986, 345.6), "cifar10": (2986, 288)},
}

_SETTINGS = (
    # setting, method, hidden units, credits per hidden layer (groups only)
    ("BP(100 hidden)", "bp", 100, None),
    ("Credit parameters", "parameters", 100, None),
    ("Credit neurons", "neurons", 100, None),
    ("Credit groups", "groups", 100, 10),
    ("BP(900 hidden)", "bp", 900, None),
    ("Credit groups (900 hidden)", "groups", 900, 36),
)


def complexity_table(
    batch: int | None = None,
    datasets: Sequence[str] = ("mnist", "cifar10"),
    with_xla: bool = True,
    num_classes: int = 10,
) -> list[dict[str, Any]]:
    """Table S4's rows with our counts next to the paper's.

    ``batch=None`` uses each dataset's training-set size (the papers' full-batch step,
    which reproduces their MFLOPs); an int uses that batch everywhere. Per row:
    ``params`` (paper's "Param" convention: credit-net parameters, or BP's feedback
    weights), ``bottom_up_params``, ``credit_mflops`` (paper's accounting at this batch),
    ``diffusion_mflops`` (the dense diffusion matmul the paper leaves out; groups only),
    ``step_mflops`` (our whole inner step), ``xla_mflops`` and ``xla_ratio`` (None for
    "Credit parameters", which no strategy implements), ``paper_params``, ``paper_mflops``.
    """
    rows = []
    for ds in datasets:
        b = TRAIN_SET_SIZES[ds] if batch is None else int(batch)
        paper_ds = "cifar10" if ds == "cifar10" else "mnist"
        for setting, method, h, k in _SETTINGS:
            sizes = classifier_sizes(INPUT_DIMS[ds], h, num_classes)
            layout = group_layout(sizes, k) if k is not None else None
            params = (
                bp_feedback_params(sizes)
                if method == "bp"
                else credit_net_params(method, sizes, layout)
            )
            step = step_flops(method, sizes, b, layout)
            xla_mflops = ratio = None
            if with_xla and method != "parameters":
                check = cross_check(method, sizes, b, layout)
                xla_mflops, ratio = check["xla_flops"] / 1e6, check["ratio"]
            paper_params, paper_mflops = PAPER_TABLE_S4[setting][paper_ds]
            rows.append(
                {
                    "dataset": ds,
                    "setting": setting,
                    "method": method,
                    "sizes": sizes,
                    "credits": None if layout is None else layout.num_credits,
                    "batch": b,
                    "params": params,
                    "bottom_up_params": bottom_up_params(sizes),
                    "credit_mflops": paper_credit_flops(method, sizes, layout) * b / 1e6,
                    "diffusion_mflops": (
                        None if layout is None else diffusion_flops(layout, b).mflops
                    ),
                    "step_mflops": step.mflops,
                    "xla_mflops": xla_mflops,
                    "xla_ratio": ratio,
                    "paper_params": paper_params,
                    "paper_mflops": paper_mflops,
                }
            )
    return rows


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub-markdown table of ``complexity_table`` rows."""
    head = (
        "| Dataset | Setting | Batch | Param (ours) | Param (paper) | Credit MFLOPs (ours, "
        "paper's accounting) | MFLOPs (paper) | Diffusion MFLOPs (not in paper) | Step MFLOPs "
        "(analytic) | Step MFLOPs (XLA) | XLA / analytic |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        cells = [
            r["dataset"],
            r["setting"],
            _fmt(r["batch"]),
            _fmt(r["params"]),
            _fmt(r["paper_params"]),
            _fmt(r["credit_mflops"]),
            _fmt(r["paper_mflops"]),
            _fmt(r["diffusion_mflops"]),
            _fmt(r["step_mflops"]),
            _fmt(r["xla_mflops"]),
            _fmt(r["xla_ratio"], 3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
