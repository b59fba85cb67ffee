"""Anchored credit networks (``TDCA(anchored=True)``, ``tdca evolve --anchor-credits``):
credits T([p, y]) - T([y, y]) vanish where the bottom-up network is right."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from test_classification import _npz

from tdca.cli import main
from tdca.credit import TDCA
from tdca.credit.artifact import load_credit_net, save_credit_net
from tdca.credit.strategies.tdca import dfa_like_init
from tdca.experiments.classification import EvolveConfig, make_split, make_task
from tdca.inner import InnerLoop, make_optimizer
from tdca.io import ArtifactError, read_meta, save_pytree
from tdca.networks import MLP
from tdca.tasks import GaussianTask
from tdca.tasks.classification import ClassificationTask, cross_entropy


def _task(n=120, inputs=16, hidden=12, classes=10, seed=0):
    kx, ky = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.uniform(kx, (n, inputs))
    y = jax.random.randint(ky, (n,), 0, classes)
    return ClassificationTask.create(x, y, MLP((inputs, hidden, classes)), classes)


def _u(p, y, classes=10):
    return jnp.concatenate([p, jax.nn.one_hot(y, classes)], -1)


def test_anchored_credits_vanish_where_the_network_is_right_and_only_there():
    task = _task()
    plain = TDCA.for_task(task)
    anchored = TDCA.for_task(task, anchored=True)
    beta = plain.init(jax.random.PRNGKey(3))  # a random credit network: T([y, y]) != 0
    y = jnp.arange(20) % 10
    right = _u(jax.nn.one_hot(y, 10), y)
    assert all(float(jnp.abs(c).max()) > 1e-3 for c in plain.credits(beta, task, right))
    assert all(float(jnp.abs(c).max()) == 0.0 for c in anchored.credits(beta, task, right))
    p = jax.nn.softmax(jax.random.normal(jax.random.PRNGKey(4), (20, 10)))
    wrong = _u(p, y)
    expected = [
        a - b
        for a, b in zip(
            plain.credits(beta, task, wrong), plain.credits(beta, task, right), strict=True
        )
    ]
    for got, want in zip(anchored.credits(beta, task, wrong), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert float(jnp.abs(got).max()) > 1e-3


def test_the_dfa_like_start_is_already_anchored():
    """DFA's credits are B (y - p), zero at p = y: anchoring the DFA-like start changes
    nothing, so an anchored evolution starts from the same rule as a plain one."""
    task = _task()
    plain, anchored = TDCA.for_task(task), TDCA.for_task(task, anchored=True)
    beta = dfa_like_init(plain, jax.random.PRNGKey(1), 10)
    theta = task.model.init(jax.random.PRNGKey(2), "kaiming")
    batch = (task.x, task.y)
    for a, b in zip(
        jax.tree.leaves(plain.direction(beta, task, theta, batch)),
        jax.tree.leaves(anchored.direction(beta, task, theta, batch)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_anchoring_keeps_pgpe_perturbations_from_wrecking_an_adam_inner_loop(tmp_path):
    """The reason for the option, at a small scale: perturbations of the DFA-like start of
    PGPE's size cost a plain credit network far more fitness than an anchored one under an
    Adam inner loop (at MNIST 10,000 x 150 the same study is in docs/credit-rules.md)."""
    split = make_split(_npz(tmp_path / "d.npz", (8, 8), n_train=600), None, 500, validation=True)
    task = make_task(split, MLP((64, 100, 10)), "zero")
    xv, yv = jnp.asarray(split.x_eval), jnp.asarray(split.y_eval)
    plain = TDCA.for_task(task)
    beta0 = dfa_like_init(plain, jax.random.PRNGKey(1), 10)
    flat, unravel = ravel_pytree(beta0)
    eps = jax.random.normal(jax.random.PRNGKey(5), (4, flat.size))
    cands = jax.vmap(unravel)(jnp.concatenate([flat[None], flat + 0.003 * eps, flat - 0.003 * eps]))

    def losses(strategy):
        loop = InnerLoop(strategy, 60, optimizer=make_optimizer("adam", 0.01))

        def one(b):
            theta, _ = loop.run(b, task, jax.random.PRNGKey(0))
            return cross_entropy(task.model.apply(theta, xv), yv)

        out = np.asarray(jax.jit(jax.vmap(one))(cands))
        return out[0], out[1:] - out[0]  # centre, how much each perturbation costs

    centre_p, cost_p = losses(plain)
    centre_a, cost_a = losses(TDCA.for_task(task, anchored=True))
    assert centre_p == pytest.approx(centre_a, rel=1e-5)  # the same start
    assert cost_p.min() > 0  # every plain perturbation hurts...
    assert cost_p.mean() > 5 * abs(cost_a).mean()  # ...far more than an anchored one moves


def test_anchoring_is_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="credit_anchors"):
        TDCA.for_task(GaussianTask(num_points=4), anchored=True)
    with pytest.raises(ValueError, match="true or false"):
        EvolveConfig(anchored="yes")  # type: ignore[arg-type]


def test_the_anchoring_refusal_names_a_task_once():
    """A named task is called by its name and class; a nameless one by its class, once."""
    strategy = TDCA.for_task(GaussianTask(num_points=4))
    anchored = dataclasses.replace(strategy, anchored=True)

    class Nameless:
        pass

    for task, named in (
        (GaussianTask(num_points=4), "task 'gaussian' (GaussianTask) has"),
        (Nameless(), "task Nameless has"),
    ):
        with pytest.raises(ValueError) as refused:
            anchored.check_anchors_for(task)  # type: ignore[arg-type]
        assert named in str(refused.value)


def test_an_anchored_credit_network_file_loads_anchored(tmp_path):
    task = _task()
    strategy = TDCA.for_task(task, anchored=True)
    beta = strategy.init(jax.random.PRNGKey(0))
    save_credit_net(tmp_path / "a.npz", strategy, beta, {})
    loaded, _, meta = load_credit_net(tmp_path / "a.npz")
    assert loaded.anchored and meta["anchored"] is True
    save_credit_net(tmp_path / "p.npz", TDCA.for_task(task), beta, {})
    assert "anchored" not in read_meta(tmp_path / "p.npz")  # plain files stay as they were
    assert not load_credit_net(tmp_path / "p.npz")[0].anchored
    bad = read_meta(tmp_path / "a.npz") | {"anchored": "yes"}
    save_pytree(tmp_path / "bad.npz", beta, bad)
    with pytest.raises(ArtifactError, match="anchored"):
        load_credit_net(tmp_path / "bad.npz")


def test_evolve_anchor_credits_reaches_the_run_and_its_credit_network(tmp_path, capsys):
    data = _npz(tmp_path / "d.npz", (8, 8), n_train=150, n_test=50)
    out = tmp_path / "run"
    argv = ["evolve", "--dataset", data, "--train-size", "100", "--steps", "4", "--lr", "0.01"]
    argv += ["--optimizer", "adam", "--generations", "2", "--population", "4", "--no-progress"]
    assert main([*argv, "--anchor-credits", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["anchored"] is True
    strategy, _, _ = load_credit_net(out)
    assert strategy.anchored
    # a resume keeps the saved setting: the flag is refused, not silently ignored
    assert main(["evolve", "--resume", str(out), "--anchor-credits"]) == 2
    assert "--anchor-credits would be ignored" in capsys.readouterr().err
