"""``tdca.analysis.trajectories``: Figure S3's trajectories, planes, cosines and landscape."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from tdca.analysis import trajectories as tr
from tdca.experiments.classification import (
    build_model,
    learner_parts,
    make_split,
    make_task,
    train_learner,
)


def _line(direction, steps=20, noise=0.0, seed=0):
    """Points 0, d, 2d, ... with a little noise: a trajectory along one direction."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps + 1)[:, None]
    return t * direction[None] + noise * rng.normal(size=(steps + 1, direction.size))


def test_principal_direction_is_the_line_a_trajectory_follows_oriented_along_it():
    rng = np.random.default_rng(1)
    d = rng.normal(size=50)
    d /= np.linalg.norm(d)
    points = _line(-d, noise=0.01)
    found = tr.principal_direction(points)
    assert np.linalg.norm(found) == pytest.approx(1.0)
    assert found @ -d > 0.999  # along the way it went, not merely the same line


def test_two_trajectories_plane_projection_and_cosines():
    p = 40
    e = np.eye(p)
    a, b = _line(e[0]), _line(e[0] + e[1])  # 45 degrees apart, from one start
    axes = tr.plane(a, b)
    assert axes[0] @ axes[1] == pytest.approx(0.0, abs=1e-12)
    assert [np.linalg.norm(x) for x in axes] == pytest.approx([1.0, 1.0])
    c = tr.compare(a, b)
    assert c["cos_principal"] == pytest.approx(np.sqrt(0.5), abs=1e-4)
    assert c["cos_displacement"] == pytest.approx(np.sqrt(0.5), abs=1e-4)
    assert c["chance_cos"] == pytest.approx(1 / np.sqrt(p), abs=1e-4)
    origin = a[0]
    assert tr.captured(b, origin, axes) == pytest.approx(1.0)  # both lie in the plane
    assert tr.project(b, origin, axes)[-1] == pytest.approx([20.0, 20.0])
    off = _line(e[2])
    assert tr.captured(off, origin, axes) == pytest.approx(0.0, abs=1e-12)
    assert tr.compare(a, off)["cos_principal"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="same line"):
        tr.plane(a, 2 * a)


def test_loss_surface_is_the_loss_at_each_plane_point():
    template = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    target = jnp.array([1.0, -2.0, 0.5, 3.0])

    def loss(theta):
        flat, _ = ravel_pytree(theta)
        return jnp.sum((flat - target) ** 2)

    origin = np.array([0.5, 0.0, 0.0, 1.0])
    axes = (np.eye(4)[1], np.eye(4)[3])
    grid = tr.grid_around([np.array([[0.0, 0.0], [1.0, 2.0]])], points=5)
    assert grid.shape == (5, 5, 2)
    assert grid[..., 0].min() < 0 < 1 < grid[..., 0].max()  # covers the path with a margin
    surface = tr.loss_surface(loss, template, origin, axes, grid, chunk=3)
    for i, j in [(0, 0), (2, 3), (4, 4)]:
        point = origin + grid[i, j, 0] * axes[0] + grid[i, j, 1] * axes[1]
        assert surface[i, j] == pytest.approx(float(np.sum((point - target) ** 2)), rel=1e-5)


@pytest.fixture(scope="module")
def mnist_cell():
    return make_split("mnist", os.environ.get("TDCA_DATA_DIR"), 200)


def test_a_trajectory_is_the_run_train_learner_makes(mnist_cell):
    """Its first point is the learner's start and its last the network train_learner
    trains with the same learner, rate, optimizer and seed."""
    split = mnist_cell
    model = build_model("mlp-100", split.dataset)
    key = jax.random.PRNGKey(0)
    for learner, optimizer, lr in (("dfa", "sgd", 0.3), ("bp-zero", "adam", 0.01)):
        probe = make_task(split, model, "zero")
        strategy, sparams, init = learner_parts(learner, probe, jax.random.fold_in(key, 7))
        task = make_task(split, model, init)
        points = tr.trajectory(
            sparams, task, key, strategy=strategy, steps=4, optimizer=optimizer, lr=lr
        )
        assert points.shape == (5, 784 * 100 + 100 + 100 * 10 + 10)
        assert float(jnp.abs(points[0]).max()) <= 1e-15  # zero / within 1e-16 of it
        ref = train_learner(
            learner, split, steps=4, lr=lr, optimizer=optimizer, keep_theta=True, curves=False
        )
        np.testing.assert_allclose(points[-1], ravel_pytree(ref["theta"])[0], rtol=0, atol=1e-6)


def test_gradient_alignment_of_bp_with_itself_and_of_dfa_per_layer(mnist_cell):
    """BP against itself is 1 wherever it has a direction; at the zero start the hidden
    layer has none (None, not a made-up 0). DFA's output layer is BP's exactly (both
    are (y - p) h), its hidden layer is not."""
    split = mnist_cell
    model = build_model("mlp-100", split.dataset)
    key = jax.random.PRNGKey(0)
    task = make_task(split, model, "zero")
    bp, _, _ = learner_parts("bp", task, key)
    dfa, feedback, _ = learner_parts("dfa", task, key)
    points = tr.trajectory(feedback, task, key, strategy=dfa, steps=5, optimizer="sgd", lr=0.3)
    self_ = tr.gradient_alignment(bp, (), bp, task, points, key)
    assert self_["layer1"][0] is None and self_["layer1"][-1] == pytest.approx(1.0, abs=1e-4)
    assert self_["layer2"] == pytest.approx([1.0] * 5, abs=1e-4)
    ours = tr.gradient_alignment(dfa, feedback, bp, task, points, key)
    assert len(ours["all"]) == 5  # one per step taken
    assert ours["layer2"] == pytest.approx([1.0] * 5, abs=1e-4)
    assert ours["layer1"][-1] < 0.99
