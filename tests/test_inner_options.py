"""Inner-loop options added for the paper-scale runs: the optimizer (SGD or Adam on the
credits' direction) and fitness measured on held-out data (meta-validation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tdca.credit import DFA
from tdca.experiments.classification import EvolveConfig
from tdca.experiments.reproduce import PAPER, SMALL
from tdca.inner import OPTIMIZERS, InnerLoop, make_optimizer
from tdca.networks.mlp import MLP
from tdca.tasks.classification import ClassificationTask, cross_entropy

RNG = np.random.default_rng(0)


def _data(n: int, d: int = 12, c: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable-ish blobs: learnable in a few steps."""
    y = RNG.integers(0, c, n).astype(np.int32)
    centres = RNG.normal(size=(c, d)).astype(np.float32) * 2
    return centres[y] + RNG.normal(size=(n, d)).astype(np.float32) * 0.5, y


def test_unknown_optimizer_and_bad_lr_are_refused() -> None:
    assert set(OPTIMIZERS) == {"sgd", "adam"}
    with pytest.raises(ValueError, match="unknown inner optimizer"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="> 0"):
        make_optimizer("adam", 0.0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        EvolveConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="fitness_data"):
        EvolveConfig(fitness_data="test")
    with pytest.raises(ValueError, match="fitness must be one of"):
        EvolveConfig(fitness="test_accuracy")


def test_adam_normalises_the_step_so_a_tiny_direction_still_learns() -> None:
    """DFA from a zero init: with SGD at a tiny lr nothing moves, with Adam at the same lr
    every synapse moves by ~lr per step (why near-zero-init BP learns under Adam)."""
    x, y = _data(256)
    task = ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3)
    dfa = DFA.for_task(task)
    sp = dfa.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    loss0 = float(cross_entropy(task.model.apply(task.init_params(key), task.x), task.y))
    sgd = InnerLoop(dfa, 30, 1e-4, make_optimizer("sgd", 1e-4)).run(sp, task, key)[0]
    adam = InnerLoop(dfa, 30, 1e-2, make_optimizer("adam", 1e-2)).run(sp, task, key)[0]
    loss_sgd = float(cross_entropy(task.model.apply(sgd, task.x), task.y))
    loss_adam = float(cross_entropy(task.model.apply(adam, task.x), task.y))
    assert loss_sgd == pytest.approx(loss0, abs=1e-2)
    assert loss_adam < loss0 - 0.3


def test_fitness_on_held_out_data_uses_it_and_only_it() -> None:
    x, y = _data(64)
    xv, yv = _data(32)
    model = MLP((12, 8, 3))
    plain = ClassificationTask.create(x, y, model, num_classes=3)
    held = ClassificationTask.create(x, y, model, num_classes=3, x_fit=xv, y_fit=yv)
    theta = jax.tree.map(lambda a: a + 0.1, model.init(jax.random.PRNGKey(0), "kaiming"))
    key = jax.random.PRNGKey(0)
    expect = -cross_entropy(model.apply(theta, jnp.asarray(xv)), jnp.asarray(yv))
    assert float(held.fitness(theta, key)) == pytest.approx(float(expect), rel=1e-6)
    assert float(held.fitness(theta, key)) != pytest.approx(float(plain.fitness(theta, key)))
    # the inner loop still trains on x: same batch either way
    assert np.array_equal(np.asarray(held.batch(key, 0)[0]), np.asarray(plain.batch(key, 0)[0]))
    with pytest.raises(ValueError, match="both"):
        ClassificationTask.create(x, y, model, num_classes=3, x_fit=xv)
    with pytest.raises(ValueError, match="do not fit"):
        ClassificationTask.create(x, y, model, num_classes=3, x_fit=xv[:, :5], y_fit=yv)


def test_paper_scale_uses_adam_and_small_scale_keeps_its_cache_keys() -> None:
    assert PAPER.optimizer == "adam" and PAPER.lr_grid()[0] < 0.01 and PAPER.tag("_") == "_adam"
    assert SMALL.optimizer == "sgd" and SMALL.tag("_") == "" and SMALL.tag("|", "adam") == "|adam"


def test_within_fitness_redraws_a_held_out_fifth_every_generation() -> None:
    """--fitness-data within: each generation holds a different fifth of the cell's own
    images out of the inner loop and scores the fitness on it; all candidates of one
    generation see the same draw (they share its key), and nothing else changes."""
    from tdca.experiments.classification import within_count
    from tdca.tasks.base import GENERATION_STREAM, for_generation

    x, y = _data(10)
    task = ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3, fit_holdout=2)
    a = for_generation(task, jax.random.PRNGKey(0))
    b = for_generation(task, jax.random.PRNGKey(1))
    assert a.x.shape == (8, 12) and a.x_fit.shape == (2, 12) and a.fit_holdout == 0
    rows = {tuple(r) for r in np.asarray(x)}
    # a partition of the cell's images: no image is both trained on and scored
    got = [tuple(r) for r in np.concatenate([np.asarray(a.x), np.asarray(a.x_fit)])]
    assert sorted(got) == sorted(rows) and not {tuple(r) for r in np.asarray(a.x_fit)} & {
        tuple(r) for r in np.asarray(a.x)
    }
    again = for_generation(task, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(a.x_fit, again.x_fit)
    assert not np.array_equal(np.asarray(a.x_fit), np.asarray(b.x_fit))
    # the fitness a candidate gets is measured on that generation's held-out images
    loop = InnerLoop(DFA.for_task(task), 3, 0.1, make_optimizer("sgd", 0.1))
    sp = DFA.for_task(task).init(jax.random.PRNGKey(2))
    key = jax.random.PRNGKey(3)
    drawn = for_generation(task, jax.random.fold_in(key, GENERATION_STREAM))
    theta, _ = loop.run(sp, drawn, jax.random.split(key)[0])
    expected = -cross_entropy(drawn.model.apply(theta, drawn.x_fit), drawn.y_fit)
    assert float(loop.fitness(sp, task, key)) == pytest.approx(float(expected), rel=1e-6)
    # a task without the option is used as it is
    plain = ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3)
    assert for_generation(plain, key) is plain
    assert within_count(1000) == 200 and EvolveConfig(fitness_data="within").train_size == 1000
    with pytest.raises(ValueError, match="too few"):
        within_count(2)
    with pytest.raises(ValueError, match="fit_holdout must be in"):
        ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3, fit_holdout=10)


def test_fitness_over_the_last_k_steps_is_the_mean_of_those_steps() -> None:
    """fitness_last=K averages the task's fitness after each of the last K inner steps
    (computed here step by step from the same trajectory); K=1 is the fitness at step M."""
    x, y = _data(128)
    task = ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3)
    dfa = DFA.for_task(task)
    sp, key = dfa.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(2)
    k_run, k_fit = jax.random.split(key)
    steps = 6
    loop = InnerLoop(dfa, steps, 0.5)
    per_step = []
    for m in range(1, steps + 1):  # the trajectory is deterministic: rerun it to step m
        theta, _ = InnerLoop(dfa, m, 0.5).run(sp, task, k_run)
        per_step.append(float(task.fitness(theta, k_fit)))
    assert abs(per_step[-1] - per_step[-2]) > 1e-3  # the steps differ: the mean is a real test
    assert float(loop.fitness(sp, task, key)) == pytest.approx(per_step[-1], abs=1e-5)
    for k in (2, 3, steps):
        got = float(InnerLoop(dfa, steps, 0.5, fitness_last=k).fitness(sp, task, key))
        assert got == pytest.approx(np.mean(per_step[-k:]), abs=1e-5), k
    with pytest.raises(ValueError, match="fitness_last"):
        InnerLoop(dfa, steps, 0.5, fitness_last=steps + 1)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_recording_only_the_last_steps_is_the_tail_of_the_full_trace(batch_size) -> None:
    """run(record_last=K) runs the first M-K steps unrecorded and records the last K: the
    same trajectory (mini-batches included) as recording all M, only the tail of its trace."""
    x, y = _data(128)
    task = ClassificationTask.create(x, y, MLP((12, 8, 3)), num_classes=3, batch_size=batch_size)
    dfa = DFA.for_task(task)
    sp, key = dfa.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(5)
    loop = InnerLoop(dfa, 6, 0.5)

    def record(t, th):
        return t.fitness(th, key)

    theta_all, full = loop.run(sp, task, key, record=record)
    theta_end, tail = loop.run(sp, task, key, record=record, record_last=2)
    assert full.shape == (6,) and tail.shape == (2,)
    np.testing.assert_array_equal(np.asarray(tail), np.asarray(full[-2:]))
    for a, b in zip(jax.tree.leaves(theta_all), jax.tree.leaves(theta_end), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert loop.run(sp, task, key, record=record, record_last=0)[1] is None
    with pytest.raises(ValueError, match="record_last"):
        loop.run(sp, task, key, record=record, record_last=7)
    with pytest.raises(ValueError, match="fitness_last"):
        EvolveConfig(steps=20, fitness_last=0)
    assert EvolveConfig.from_dict(EvolveConfig().to_dict() | {"fitness_last": 3}).fitness_last == 3


def test_mini_batches_are_fresh_distinct_examples_of_the_training_set() -> None:
    """Each step draws its own batch, without repeats, of (image, label) pairs that belong
    together; the same key and step give the same batch (determinism)."""
    x, y = _data(50, d=4)
    task = ClassificationTask.create(x, y, MLP((4, 5, 3)), num_classes=3, batch_size=8)
    key = jax.random.key(0)
    (xa, ya), (xb, _) = task.batch(key, 0), task.batch(key, 1)
    xa, ya = np.asarray(xa), np.asarray(ya)
    assert xa.shape == (8, 4) and not np.array_equal(xa, np.asarray(xb))
    np.testing.assert_array_equal(xa, np.asarray(task.batch(key, 0)[0]))
    rows = [int(np.flatnonzero((x == r).all(1))[0]) for r in xa]  # each a training example
    assert len(set(rows)) == 8  # drawn without replacement
    np.testing.assert_array_equal(ya, y[rows])


def test_one_step_from_a_zero_init_is_the_same_in_every_compilation() -> None:
    """jaxlib 0.10.2 on CPU: with one step XLA drops the loop, and a dot of the activations
    with the broadcast-zero weights, fused into the softmax's reduction (YNNPACK), read
    uninitialised memory in some compilations (1-step training NaN). Each rate below is a
    new compilation; every one must give the update that an eager step gives."""
    x, y = _data(1000, d=784, c=10)
    task = ClassificationTask.create(x, y, MLP((784, 100, 10)), num_classes=10)
    dfa = DFA.for_task(task)
    sp, key = dfa.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1)
    direction = dfa.direction(sp, task, task.init_params(key), (task.x, task.y))
    for lr in (0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.02, 0.03):
        theta, _ = jax.jit(InnerLoop(dfa, 1, lr).run)(sp, task, key)
        for got, d in zip(jax.tree.leaves(theta), jax.tree.leaves(direction), strict=True):
            np.testing.assert_allclose(got, lr * np.asarray(d), rtol=1e-4, atol=1e-9)


def test_a_start_for_another_network_or_task_is_named_not_trained() -> None:
    """``theta0`` must have ``task.init_params``' shapes. Built for a narrower network, BP
    used to train that other network without a word (its shapes chain); a GaussianTask
    start with another number of points is named, with the way to say how many."""
    from tdca.credit import BP
    from tdca.tasks import GaussianTask

    x, y = _data(64)
    task = ClassificationTask.create(x, y, MLP((12, 8, 3)), 3, init_scheme="kaiming")
    loop = InnerLoop(BP(), 3, 0.1)
    key = jax.random.PRNGKey(0)
    own = task.init_params(key)
    trained, _ = loop.run((), task, key, theta0=own)
    assert jax.tree.map(jnp.shape, trained) == jax.tree.map(jnp.shape, own)
    narrow = ClassificationTask.create(x, y, MLP((12, 5, 3)), 3, init_scheme="kaiming")
    with pytest.raises(ValueError, match=r"theta0 is not shaped .*another network or task"):
        loop.run((), task, key, theta0=narrow.init_params(key))
    with pytest.raises(ValueError, match="theta0 is not shaped"):
        jax.jit(lambda t: loop.run((), task, key, theta0=t)[0])(narrow.init_params(key))

    gauss = GaussianTask(num_points=64)
    start = jnp.zeros((1, 5, 2))
    with pytest.raises(ValueError, match=r"task.replace\(num_points=N\)"):
        loop.run((), gauss, key, theta0=start)
    moved, _ = loop.run((), gauss.replace(num_points=5), key, theta0=start)
    assert moved.shape == (1, 5, 2) and bool(jnp.any(moved != start))
    with pytest.raises(ValueError, match="theta0 is not shaped"):  # exact, not broadcast
        loop.run((), gauss.replace(num_points=5), key, theta0=jnp.zeros((1, 1, 2)))


@pytest.mark.parametrize("seed", [2**32, 2**31, -1, 1.5, True])
def test_an_evolve_config_refuses_a_seed_the_cli_would_refuse(seed) -> None:
    """jax.random.PRNGKey keeps 32 bits: seed 2**32 silently re-ran seed 0's evolution."""
    with pytest.raises(ValueError, match="seed must be"):
        EvolveConfig(seed=seed)
