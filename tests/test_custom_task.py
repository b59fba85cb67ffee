"""A user's own task is one file, and nothing in the library changes (README, "A task").

This file is such a user file: regression instead of classification. A 3-16-1 tanh MLP
learns a random teacher network's output under mean squared error; the credit network
reads [prediction, target] per example. BP, FA, DFA and TDCA, the inner loop and the
evolution then run on it as they are.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from tdca.credit import BP, DFA, FA, TDCA
from tdca.evolution import ESConfig, Evolution
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.networks.mlp import LayerTap, Params
from tdca.tasks.base import LayeredTask, Task


@struct.dataclass
class Regression:
    """Fit y (N, outputs) from x (N, inputs) with ``model``; full batch, fitness -MSE."""

    x: jax.Array
    y: jax.Array
    model: MLP = struct.field(pytree_node=False)
    init_scheme: str = struct.field(pytree_node=False, default="zero")
    name: str = struct.field(pytree_node=False, default="regression")

    @property
    def credit_input_dim(self) -> int:
        return 2 * self.y.shape[1]

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units

    def init_params(self, key: jax.Array) -> Params:
        return self.model.init(key, self.init_scheme)

    def batch(self, key: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.x, self.y

    def loss(self, theta: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        x, y = batch
        return 0.5 * jnp.mean(jnp.sum((self.model.apply(theta, x) - y) ** 2, -1))

    def taps_and_error(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[list[LayerTap], jax.Array]:
        x, y = batch
        out, taps = self.model.forward(theta, x)
        return taps, y - out  # minus the loss's gradient at the output, per example

    def credit_state(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, list[LayerTap]]:
        x, y = batch
        out, taps = self.model.forward(theta, x)
        return jnp.concatenate([out, y], -1), taps

    def apply_credits(self, theta: Params, aux: list[LayerTap], credits: list[jax.Array]) -> Params:
        return self.model.local_update(aux, credits)

    def fitness(self, theta: Params, key: jax.Array) -> jax.Array:
        return -self.loss(theta, (self.x, self.y))


def _task(init_scheme: str = "zero") -> Regression:
    kx, kt = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.uniform(kx, (256, 3), minval=-1.0, maxval=1.0)
    teacher = MLP((3, 8, 1))
    y = teacher.apply(teacher.init(kt, "kaiming"), x)
    return Regression(x, y / jnp.std(y), MLP((3, 16, 1)), init_scheme)


def _mse(strategy, sparams, task: Regression, steps: int, lr: float) -> float:
    theta, _ = InnerLoop(strategy, steps, lr).run(sparams, task, jax.random.PRNGKey(1))
    return float(task.loss(theta, (task.x, task.y)))


def test_the_user_task_meets_the_interfaces():
    task = _task()
    assert isinstance(task, Task) and isinstance(task, LayeredTask)
    assert task.credit_units == (16, 1) and task.credit_input_dim == 2


def test_bp_fa_and_dfa_train_the_user_task():
    """Every feedback learner fits the teacher 50 times better than the zero network,
    which predicts 0 (the targets are standardised, so its MSE is ~0.5)."""
    task = _task()
    start = float(task.loss(task.init_params(jax.random.PRNGKey(0)), (task.x, task.y)))
    assert 0.45 < start < 0.55
    key = jax.random.PRNGKey(2)
    learners = [(BP(), "kaiming"), (FA.for_task(task), "zero"), (DFA.for_task(task), "zero")]
    for strategy, init in learners:
        mse = _mse(strategy, strategy.init(key), _task(init), 300, 0.5)
        assert mse < 0.02 * start, (strategy.name, mse)


def test_a_task_whose_credit_input_dim_contradicts_its_credit_state_is_named():
    """A slip in the user's own task (credit_input_dim says 3, credit_state gives 2
    numbers) is reported as the task's, not as a strategy built for another task."""

    @struct.dataclass
    class Miscounted(Regression):
        @property
        def credit_input_dim(self) -> int:
            return 3

    task = _task()
    task = Miscounted(task.x, task.y, task.model, name="miscounted")
    strategy = TDCA.for_task(task, hidden=(8,))
    with pytest.raises(ValueError, match=r"task 'miscounted' declares credit_input_dim = 3, "):
        _mse(strategy, strategy.init(jax.random.PRNGKey(0)), task, 2, 0.1)


def test_a_task_missing_part_of_the_interface_is_told_which_part():
    """A task without ``name`` (or with credit_units that leave out a layer) is told what
    it lacks, not that it has no layers; a message names a task by its class, never by its
    repr, which would print every array it holds."""

    @struct.dataclass
    class Nameless:
        inner: Regression

        def __getattr__(self, attr: str):
            if attr == "name":
                raise AttributeError(attr)
            return getattr(self.inner, attr)

    with pytest.raises(TypeError, match=r"layered bottom-up network .*task Nameless lacks name$"):
        DFA.for_task(Nameless(_task()))

    @struct.dataclass
    class NoErrorTaps(Regression):
        taps_and_error = None  # there, but not a method: not a LayeredTask either

    task = _task()
    with pytest.raises(TypeError, match=r"task 'regression' lacks taps_and_error, as members"):
        DFA.for_task(NoErrorTaps(task.x, task.y, task.model))

    @struct.dataclass
    class OnlyHidden(Regression):
        @property
        def credit_units(self) -> tuple[int, ...]:
            return self.model.units[:1]  # the output layer left out

    task = _task()
    task = OnlyHidden(task.x, task.y, task.model)
    strategy = TDCA.for_task(task, hidden=(8,))
    with pytest.raises(ValueError, match=r"1 credit blocks for 2 layers: .*credit_units"):
        _mse(strategy, strategy.init(jax.random.PRNGKey(0)), task, 2, 0.1)


@pytest.mark.full_optimisation  # compute-bound
def test_tdca_is_evolved_on_the_user_task():
    """PGPE over a credit network reading [prediction, target]: the evolved credit network
    trains a fresh zero-initialised network to a lower error than the one it started
    from."""
    task = _task()
    strategy = TDCA.for_task(task, hidden=(8,))
    beta0 = strategy.init(jax.random.PRNGKey(3))
    inner = InnerLoop(strategy, 50, 0.5)
    evo = Evolution(inner, beta0, ESConfig(population=32, sigma_init=0.05, learning_rate=0.02))
    state = evo.init(jax.random.PRNGKey(0), beta0)
    fitness = []
    for g in range(40):
        state, stats = evo.step(state, task, jax.random.fold_in(jax.random.PRNGKey(0), g))
        fitness.append(float(stats["centre_fitness"]))
    before = _mse(strategy, beta0, task, 50, 0.5)
    after = _mse(strategy, evo.mean(state), task, 50, 0.5)
    print(f"trained error: {before:.4f} at the start, {after:.4f} after 40 generations")
    assert np.isfinite(fitness).all()
    assert after < 0.8 * before, (before, after, fitness[::10])
