"""Supervised classification with a bottom-up network (the papers' main experiment).

The credit network reads [p(y|x), one-hot(y)] per example and emits one credit per
credited neuron (hidden and output); each neuron applies the local rule. Fitness is minus
the cross-entropy (or the accuracy) of the bottom-up network on its inner-loop training
set after M steps, as in the 2024 paper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from tdca.checks import is_integer
from tdca.networks.mlp import MLP, LayerTap, Params
from tdca.precision import activation_dtype

FITNESS_METRICS = ("neg_ce", "accuracy")


def probabilities(logits: jax.Array) -> jax.Array:
    """p(y|x) in float32 whatever the logits' dtype (bf16 logits would round p near 1)."""
    return jax.nn.softmax(logits.astype(jnp.float32))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean cross-entropy of integer labels (in float32 whatever the logits' dtype)."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32))
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def class_anchors(num_classes: int, dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """The credit network's input where the network is right about class c,
    [onehot(c), onehot(c)], one row per class (``TDCA.anchored``)."""
    eye = jnp.eye(num_classes, dtype=dtype)
    return jnp.concatenate([eye, eye], -1)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, -1) == labels)


def _concrete(a: object) -> bool:
    """Values can be checked (not a tracer: a task may be built inside a traced function)."""
    return not isinstance(a, jax.core.Tracer)


def _check_labels(y: object, num_classes: int, name: str) -> None:
    """Labels are whole numbers in [0, num_classes): one numbered from 1 or a -1 marker
    would otherwise train to NaN or to a plausible wrong result (the loss reads -1 as the
    last class, the one-hot target the credits see as no class), and 2.7 would become 2."""
    if not _concrete(y):
        return
    labels = np.asarray(y)
    floating = jnp.issubdtype(labels.dtype, jnp.floating)  # bfloat16 too (numpy kind 'V')
    if not (floating or jnp.issubdtype(labels.dtype, jnp.integer) or labels.dtype == bool):
        raise ValueError(f"{name}: labels must be integers, got dtype {labels.dtype}")
    if labels.size == 0:
        return  # the shape checks say what is missing
    if floating:
        labels = labels.astype(np.float64)
    fractional = labels[labels != np.round(labels)] if floating else labels[:0]
    if fractional.size:
        raise ValueError(
            f"{name}: labels must be whole numbers (class indices), got {fractional[0]}"
        )
    low, high = labels.min(), labels.max()
    if low < 0 or high >= num_classes:
        hint = "; numbered from 1? subtract 1" if low >= 1 and high == num_classes else ""
        raise ValueError(
            f"{name}: labels must be in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got values from {low} to {high}{hint}"
        )


def _check_finite(x: jax.Array, name: str) -> None:
    """Features are finite: a NaN pixel makes every candidate's training diverge."""
    if _concrete(x) and not bool(jnp.isfinite(x).all()):
        bad = int(jnp.size(x) - jnp.isfinite(x).sum())
        raise ValueError(f"{name} holds {bad} non-finite values (NaN or infinity)")


@struct.dataclass
class ClassificationTask:
    """Train ``model`` on (x, y); full batch unless ``batch_size`` is set.

    ``model`` is any bottom-up network with ``init(key, scheme)``, ``forward(params, x) ->
    (logits, taps)``, ``apply``, ``units`` (credited units per layer) and
    ``local_update(taps, credits)``: the MLP here, or a CNN with one credit per channel.
    """

    x: jax.Array
    y: jax.Array
    model: MLP = struct.field(pytree_node=False)
    # Held-out examples the fitness is measured on (meta-validation); None: the training set.
    x_fit: jax.Array | None = None
    y_fit: jax.Array | None = None
    num_classes: int = struct.field(pytree_node=False, default=10)
    init_scheme: str = struct.field(pytree_node=False, default="zero")
    batch_size: int | None = struct.field(pytree_node=False, default=None)
    fitness_metric: str = struct.field(pytree_node=False, default="neg_ce")
    # > 0: each generation of evolution holds this many of (x, y), drawn afresh from the
    # generation's key, out of the inner loop and scores the fitness on them (for_generation).
    fit_holdout: int = struct.field(pytree_node=False, default=0)
    name: str = struct.field(pytree_node=False, default="classification")

    @classmethod
    def create(
        cls, x: jax.Array, y: jax.Array, model: MLP, num_classes: int = 10, **options: object
    ) -> ClassificationTask:
        """Validated constructor (a pytree's own ``__init__`` must accept tracers, so the
        checks live here)."""
        # The data are stored in the run's activation dtype (float32 unless the run's
        # precision is bfloat16-activations); the network then computes in it.
        dtype = activation_dtype()
        _check_labels(y, num_classes, "y")
        x, y = jnp.asarray(x, dtype), jnp.asarray(y, jnp.int32)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError(f"need x (N, features) and y (N,), got {x.shape} and {y.shape}")
        if x.shape[0] == 0:
            raise ValueError("need at least one example, got an empty x")
        _check_finite(x, "x")
        if model.sizes[0] != x.shape[1] or model.sizes[-1] != num_classes:
            raise ValueError(
                f"model {model.sizes} does not fit {x.shape[1]} inputs and {num_classes} classes"
            )
        metric = options.get("fitness_metric", "neg_ce")
        if metric not in FITNESS_METRICS:
            raise ValueError(f"fitness_metric must be one of {FITNESS_METRICS}, got {metric!r}")
        if (options.get("x_fit") is None) != (options.get("y_fit") is None):
            raise ValueError("give both x_fit and y_fit, or neither")
        if options.get("x_fit") is not None:
            _check_labels(options["y_fit"], num_classes, "y_fit")
            xf = jnp.asarray(options["x_fit"], dtype)
            yf = jnp.asarray(options["y_fit"], jnp.int32)
            if xf.ndim != 2 or xf.shape[1] != x.shape[1] or yf.shape != (xf.shape[0],):
                raise ValueError(
                    f"x_fit/y_fit shapes {xf.shape}, {yf.shape} do not fit x {x.shape}"
                )
            if xf.shape[0] == 0:
                raise ValueError("x_fit holds no example")
            _check_finite(xf, "x_fit")
            options = {**options, "x_fit": xf, "y_fit": yf}
        holdout = options.get("fit_holdout", 0)
        if not is_integer(holdout):
            raise ValueError(f"fit_holdout must be an integer, got {holdout!r}")
        if holdout and not 1 <= holdout < x.shape[0]:
            raise ValueError(f"fit_holdout must be in [1, {x.shape[0] - 1}], got {holdout}")
        if holdout and options.get("x_fit") is not None:
            raise ValueError("give x_fit/y_fit or fit_holdout, not both")
        batch_size = options.get("batch_size")
        n_train = x.shape[0] - holdout
        fits = is_integer(batch_size) and 1 <= batch_size <= n_train  # type: ignore[operator]
        if batch_size is not None and not fits:
            raise ValueError(f"batch_size must be in [1, {n_train}], got {batch_size}")
        return cls(x=x, y=y, model=model, num_classes=num_classes, **options)  # type: ignore[arg-type]

    def for_generation(self, key: jax.Array) -> ClassificationTask:
        """With ``fit_holdout`` k: a random k of the examples become the fitness set and the
        rest the inner loop's training set, redrawn every generation, so that evolution is
        rewarded for rules that generalise to examples they were not trained on without
        being able to fit one fixed held-out set."""
        if not self.fit_holdout:
            return self
        perm = jax.random.permutation(key, self.x.shape[0])
        fit, train = perm[: self.fit_holdout], perm[self.fit_holdout :]
        return self.replace(
            x=self.x[train],
            y=self.y[train],
            x_fit=self.x[fit],
            y_fit=self.y[fit],
            fit_holdout=0,
        )

    @property
    def credit_input_dim(self) -> int:
        return 2 * self.num_classes

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units

    def init_params(self, key: jax.Array) -> Params:
        return self.model.init(key, self.init_scheme)

    def batch(self, key: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.batch_size is None:
            return self.x, self.y
        idx = jax.random.choice(
            jax.random.fold_in(key, step), self.x.shape[0], (self.batch_size,), replace=False
        )
        return self.x[idx], self.y[idx]

    def loss(self, theta: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        x, y = batch
        return cross_entropy(self.model.apply(theta, x), y)

    def taps_and_error(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[list[LayerTap], jax.Array]:
        x, y = batch
        logits, taps = self.model.forward(theta, x)
        return taps, jax.nn.one_hot(y, self.num_classes) - probabilities(logits)

    def credit_state(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, list[LayerTap]]:
        x, y = batch
        logits, taps = self.model.forward(theta, x)
        u = jnp.concatenate([probabilities(logits), jax.nn.one_hot(y, self.num_classes)], -1)
        return u.astype(x.dtype), taps  # the credit network computes in the data's dtype

    def credit_anchors(self, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The credit network's input where the network is right, [onehot(c), onehot(c)]
        for each class c, and each row's class: only C distinct anchors, so an anchored
        credit network costs C more rows, not a second pass over the batch."""
        c = self.num_classes
        return class_anchors(c, u.dtype), jnp.argmax(u[..., c:], -1)

    def apply_credits(self, theta: Params, aux: list[LayerTap], credits: list[jax.Array]) -> Params:
        return self.model.local_update(aux, credits)

    def evaluate(self, theta: Params, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        logits = self.model.apply(theta, x)
        return {"loss": cross_entropy(logits, y), "accuracy": accuracy(logits, y)}

    def _fitness_data(self) -> tuple[jax.Array, jax.Array]:
        """The images the fitness scores: the inner loop's own, unless x_fit is given."""
        return (self.x, self.y) if self.x_fit is None else (self.x_fit, self.y_fit)

    def fitness(self, theta: Params, key: jax.Array) -> jax.Array:
        x, y = self._fitness_data()
        logits = self.model.apply(theta, x)
        if self.fitness_metric == "accuracy":
            return accuracy(logits, y)
        return -cross_entropy(logits, y)

    def report(self, theta: Params, key: jax.Array) -> dict[str, jax.Array]:
        """Cross-entropy and accuracy on the images the fitness scores: the outer loop logs
        them for the search centre each generation (``centre_loss``, ``centre_accuracy``),
        whichever of the two the fitness is."""
        return self.evaluate(theta, *self._fitness_data())
