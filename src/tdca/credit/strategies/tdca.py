"""TDCA: a learned credit network reads the bottom-up state and emits the credits.

With a diffusion layout, the network emits a few credits per layer that a fixed Gaussian
kernel spreads to all neurons (TDCA + diffusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from tdca.credit.layout import CreditLayout
from tdca.credit.strategies.base import check_built_for
from tdca.kernels import Tiling, check_kernel, fused_direction, unsupported_reason
from tdca.networks.credit_net import CreditNet, CreditParams
from tdca.tasks.base import Batch, Task, Theta, task_described, task_label


@dataclass(frozen=True)
class TDCA:
    net: CreditNet
    layout: CreditLayout
    name: str = "tdca"
    # "fused": the per-example work of a step in one Pallas kernel (tdca.kernels); the same
    # direction up to rounding, for the one-hidden-layer MLP on classification only.
    kernel: str = "xla"
    tiling: Tiling | None = None  # the fused kernel's tile sizes (None: Tiling()'s defaults)
    # Credits T(u) - T(anchor): zero where the bottom-up network is right (the task's
    # ``credit_anchors``; classification: p = y), as BP's, FA's and DFA's are. A plain
    # credit network perturbed by PGPE emits a stray credit there that Adam amplifies: at
    # MNIST 10,000 x 150 every sigma-0.003 perturbation raised the validation CE by about
    # half, and anchored ones barely moved it. It did not make evolution better at 2,000 x
    # 50 (two seeds), so it is off by default (docs/credit-rules.md).
    anchored: bool = False

    def __post_init__(self) -> None:
        check_kernel(self.kernel)
        if self.tiling is not None and self.kernel != "fused":
            # a tiling only steers the fused kernel: with XLA's step it would do nothing
            raise ValueError(
                f"a tiling ({self.tiling}) is for the fused kernel, but kernel is "
                f"{self.kernel!r}; give kernel='fused' or drop the tiling"
            )

    @classmethod
    def for_task(
        cls,
        task: Task,
        hidden: tuple[int, ...] = (30, 30),
        layout: CreditLayout | None = None,
        output_scale: float = 0.1,
        gain_speed: float = 0.0,
        kernel: str = "xla",
        anchored: bool = False,
    ) -> TDCA:
        """A credit network sized for ``task``; dense credits unless a layout is given;
        ``gain_speed > 0`` adds an evolved overall credit gain (``CreditNet``); ``anchored``
        makes the credits vanish where the network is right; a ``kernel`` or an anchoring
        that cannot run ``task`` is refused here."""
        layout = layout or CreditLayout.dense(tuple(task.credit_units))
        if layout.units != tuple(task.credit_units):
            raise ValueError(
                f"credit layout covers layers of {layout.units} units but task "
                f"{task.name!r} credits {tuple(task.credit_units)}"
            )
        net = CreditNet(
            task.credit_input_dim,
            layout.num_credits,
            tuple(hidden),
            output_scale=output_scale,
            gain_speed=gain_speed,
        )
        strategy = cls(net, layout, kernel=kernel, anchored=anchored)
        strategy.check_kernel_for(task)  # before any work, not at the first trace
        strategy.check_anchors_for(task)
        return strategy

    def init(self, key: jax.Array) -> CreditParams:
        return self.net.init(key)

    def direction(self, sparams: CreditParams, task: Task, theta: Theta, batch: Batch) -> Theta:
        check_built_for(self, self.layout.units, task)
        if self.kernel == "fused":
            return self._fused_direction(sparams, task, theta, batch)
        u, aux = task.credit_state(theta, batch)
        if u.shape[-1] != self.net.inputs and self.net.inputs == task.credit_input_dim:
            raise ValueError(  # the strategy is the task's own size: the task contradicts itself
                f"task {task_label(task)} declares "
                f"credit_input_dim = {task.credit_input_dim}, but its credit_state gives "
                f"{u.shape[-1]} numbers per example; make the two agree (the credit network "
                "is sized from credit_input_dim)"
            )
        if u.shape[-1] != self.net.inputs:
            raise ValueError(
                f"the credit network reads {self.net.inputs} numbers, but task "
                f"{task_label(task)} gives {u.shape[-1]} (e.g. another number of "
                "classes); build the strategy with TDCA.for_task(task)"
            )
        return task.apply_credits(theta, aux, self.credits(sparams, task, u))

    def credits(self, sparams: CreditParams, task: Task, u: jax.Array) -> list[jax.Array]:
        """Per-layer credits for the credit network's input ``u`` (rows of examples)."""
        raw = self.net.apply(sparams, u)
        if self.anchored:
            self.check_anchors_for(task)
            anchors, index = task.credit_anchors(u)  # type: ignore[attr-defined]
            raw = raw - self.net.apply(sparams, anchors.astype(u.dtype))[index]
        return self.layout.expand(raw)

    def check_anchors_for(self, task: Task) -> None:
        """Refuse an anchored strategy for a task that cannot say where it is right."""
        if self.anchored and not callable(getattr(task, "credit_anchors", None)):
            raise ValueError(
                f"an anchored credit network needs the task's credit_anchors (the states "
                f"where nothing is to be learned); task {task_described(task)} has none: build "
                f"it with anchored=False"
            )

    def check_kernel_for(self, task: Task) -> None:
        """Refuse, before any work, a task the chosen kernel cannot run (clear message)."""
        if self.kernel != "fused":
            return
        from tdca.tasks.classification import ClassificationTask

        dense = all(lc.diffusion is None for lc in self.layout.layers)
        reason = (
            f"the task is a {type(task).__name__}, not a ClassificationTask"
            if not isinstance(task, ClassificationTask)
            else unsupported_reason(task.model, self.net, dense)
        )
        if reason is not None:
            raise ValueError(f"the fused TDCA kernel cannot run this: {reason}; use --kernel xla")

    def _fused_direction(
        self, sparams: CreditParams, task: Task, theta: Theta, batch: Batch
    ) -> Theta:
        self.check_kernel_for(task)
        model = task.model  # type: ignore[attr-defined]
        return fused_direction(model, self.net, sparams, theta, batch, self.tiling, self.anchored)


def dfa_like_init(
    strategy: TDCA, key: jax.Array, num_classes: int, eps: float = 1.0
) -> CreditParams:
    """Credit-network parameters that start out as (saturating) DFA.

    For classification the credit network reads u = [p, onehot(y)]. The first ``num_classes``
    units of hidden layer 1 compute tanh(eps * (y - p)), hidden layer 2 copies them through
    another tanh, and the output layer maps them with ``B_all / eps`` where ``B_all`` holds
    DFA's random feedback matrices (and the identity for the output layer). So at
    initialisation the network emits ~B_all (y - p): evolution starts from a credit rule
    that already learns, instead of from noise. The other hidden units get random weights
    and zero outgoing weights, so they add nothing until evolution uses them. Why: PGPE from
    a random credit network needs populations in the hundreds (a GPU); this is the lever
    that makes small-scale evolution on a CPU useful. Reported runs say which init they used.
    """
    from tdca.credit.strategies.feedback import _feedback_init

    c = num_classes
    net = strategy.net
    if net.inputs != 2 * c or len(net.hidden) != 2 or min(net.hidden) < c:
        raise ValueError(
            f"the DFA-like init needs a credit network reading [p, onehot] ({2 * c} inputs) "
            f"with two hidden layers of >= {c} units, got sizes {net.sizes}"
        )
    units = strategy.layout.units
    if any(lc.diffusion is not None for lc in strategy.layout.layers) or units[-1] != c:
        raise ValueError("the DFA-like init needs a dense credit layout ending in the outputs")
    k_fb, k_net = jax.random.split(key)
    feedback = _feedback_init(k_fb, [(c, u) for u in units[:-1]])
    beta = net.init(k_net)
    # Assembled in numpy: each eager ``.at[].set`` compiled a scatter of its own (0.9 s
    # of a cold ``tdca evolve``); the values are the same bit for bit.
    w1, w2 = (np.array(layer["w"]) for layer in beta[:2])
    eye = np.eye(c, dtype=w1.dtype)
    w1[:c, :c] = -eps * eye  # rows: p, then onehot(y) (2c inputs, checked above)
    w1[c:, :c] = eps * eye
    w2[:c, :] = 0.0
    w2[:, :c] = 0.0
    w2[:c, :c] = eye
    b_all = np.concatenate([*map(np.asarray, feedback), eye], axis=1)
    w3 = np.zeros(beta[2]["w"].shape, w1.dtype)
    w3[:c] = jnp.asarray(b_all) / eps  # in XLA, as before: numpy rounds this differently
    return [
        *(
            {"w": jnp.asarray(w), "b": jnp.asarray(np.zeros_like(layer["b"]))}
            for w, layer in zip((w1, w2, w3), beta[:3], strict=True)
        ),
        *beta[3:],  # the learned gain, if any, starts at 1
    ]
