"""The task interface: what a credit-assignment strategy may ask of a task.

A task owns the bottom-up parameters theta (their init), the data for each inner step, a
loss (only BP uses it), the state the credit network reads, how per-unit credits become a
parameter update, and the fitness evolution maximises. Tasks are pytrees (their arrays are
leaves), so jitted functions take them as arguments instead of baking data into the
compiled program.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from tdca.checks import Unsupported

Theta = Any
Batch = Any


@runtime_checkable
class Task(Protocol):
    """Minimal interface for BP and TDCA."""

    name: str

    @property
    def credit_input_dim(self) -> int:
        """Width of the state vector u the credit network reads."""

    @property
    def credit_units(self) -> tuple[int, ...]:
        """Credited units per layer, bottom to top."""

    def init_params(self, key: jax.Array) -> Theta: ...

    def batch(self, key: jax.Array, step: jax.Array) -> Batch: ...

    def loss(self, theta: Theta, batch: Batch) -> jax.Array: ...

    def credit_state(self, theta: Theta, batch: Batch) -> tuple[jax.Array, Any]:
        """(u, aux): the credit network's input, and what ``apply_credits`` needs."""

    def apply_credits(self, theta: Theta, aux: Any, credits: list[jax.Array]) -> Theta:
        """Turn per-unit credits into an update direction for theta (ascent sign)."""

    def fitness(self, theta: Theta, key: jax.Array) -> jax.Array:
        """How well the inner loop trained; higher is better."""


# fold_in constant for the key a task redraws its data from (kept apart from the streams
# the inner loop splits for its own init, batches and fitness).
GENERATION_STREAM = 0x6E6E


def for_generation(task: Task, key: jax.Array) -> Task:
    """The task as one generation of evolution sees it.

    Optional hook: a task with a ``for_generation(key)`` method may redraw, from the
    generation's key, which of its examples the inner loop trains on and which the fitness
    scores (meta-validation inside the training set); any other task is used as it is.
    """
    hook = getattr(task, "for_generation", None)
    return task if hook is None else hook(key)


# The other optional hook: ``report(theta, key) -> {name: scalar}``, what the task says of a
# trained network besides its fitness (classification: loss and accuracy on the fitness
# images). Evolution logs it for the search centre every generation as ``centre_<name>``
# (``InnerLoop.fitness_and_report``); a task without it logs the fitness alone.


# And one more: ``credit_anchors(u) -> (anchors (K, D), index (N,))``, the states in which
# the bottom-up network is right, so nothing is to be learned (classification: p = y), and
# which of them each row of u belongs to. ``TDCA(anchored=True)`` subtracts what the credit
# network emits there, so its credits vanish where BP's, FA's and DFA's do.


@runtime_checkable
class LayeredTask(Task, Protocol):
    """A task whose bottom-up network is layered (MLP or CNN): needed by FA and DFA."""

    @property
    def model(self) -> Any: ...

    def taps_and_error(self, theta: Theta, batch: Batch) -> tuple[list, jax.Array]:
        """Each layer's taps and the output error (target - prediction, = -dLoss/dout)."""


def task_label(task: Any) -> str:
    """How messages name a task: its ``name``, else its class (never its repr, which would
    print every array the task holds)."""
    name = getattr(task, "name", None)
    return repr(name) if isinstance(name, str) else type(task).__name__


def task_described(task: Any) -> str:
    """``task_label`` with the class added when the label is a name (``'blobs' (BlobsTask)``),
    the class alone otherwise, so a message never names the class twice."""
    label = task_label(task)
    cls = type(task).__name__
    return label if label == cls else f"{label} ({cls})"


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The attributes and methods a runtime-checkable protocol asks for (what ``isinstance``
    checks), so a refusal can say which ones a task lacks."""
    names: dict[str, None] = {}
    for cls in reversed(protocol.__mro__):
        if cls is object or cls is Protocol or cls.__module__ == "typing":
            continue
        for n in (*getattr(cls, "__annotations__", {}), *vars(cls)):
            if not n.startswith("_"):
                names[n] = None
    return tuple(names)


def require_layered(task: Task, strategy: str) -> LayeredTask:
    """Fail early, with a reason, when a strategy needs layers the task does not have. What
    ``LayeredTask`` lists but ``loss``, which only backprop uses: FA and DFA send the
    output error of ``taps_and_error`` down instead."""
    members = [n for n in protocol_members(LayeredTask) if n != "loss"]
    missing = [n for n in members if not hasattr(task, n)]
    if not missing:  # there, but None (a class attribute that stands in for a method)
        missing = [n for n in members if getattr(task, n) is None]
        missing += ["as members of its own (not None)"] if missing else []
    if missing:
        raise Unsupported(
            f"strategy {strategy!r} needs a task with a layered bottom-up network "
            f"(tdca.tasks.base.LayeredTask, e.g. classification); task {task_label(task)} "
            f"lacks {', '.join(missing)}"
        )
    return task
