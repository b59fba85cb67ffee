"""The evolved overall credit gain (``--learned-gain``): what it computes, that it is the
SGD step size, that it starts where the network without it starts, and that it survives a
save, a load and a resume."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tdca.cli import main
from tdca.credit.artifact import load_credit_net, save_credit_net
from tdca.credit.strategies.tdca import TDCA, dfa_like_init
from tdca.experiments.classification import (
    EvolveConfig,
    build_model,
    make_split,
    make_task,
    train_learner,
)
from tdca.inner import InnerLoop, make_optimizer
from tdca.networks.credit_net import CreditNet


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from test_classification import _npz

    return _npz(tmp_path_factory.mktemp("gain") / "a.npz", (28, 28))


def _task(spec, n=100):
    split = make_split(spec, None, n)
    return split, make_task(split, build_model("mlp-100", split.dataset), "zero")


def test_gain_multiplies_every_credit_and_starts_at_one():
    plain = CreditNet(20, 110)
    gained = CreditNet(20, 110, gain_speed=20.0)
    key = jax.random.PRNGKey(3)
    beta = gained.init(key)
    assert len(beta) == 4 and float(beta[-1]["log_gain"]) == 0.0
    assert gained.num_params() == plain.num_params() + 1
    u = jax.random.uniform(jax.random.PRNGKey(4), (7, 20))
    # same weights, gain 1: the same credits as the network without a gain
    np.testing.assert_array_equal(gained.apply(beta, u), plain.apply(beta[:3], u))
    beta[-1] = {"log_gain": jnp.asarray(0.05)}
    assert float(gained.gain(beta)) == pytest.approx(np.exp(1.0), rel=1e-6)
    np.testing.assert_allclose(
        gained.apply(beta, u), np.exp(1.0) * plain.apply(beta[:3], u), rtol=1e-5
    )
    # parameters with and without the gain entry are not interchangeable
    with pytest.raises(ValueError, match=r"without a learned gain.*takes 3"):
        plain.apply(beta, u)
    with pytest.raises(ValueError, match=r"with a learned gain.*takes 4"):
        gained.apply(beta[:3], u)
    with pytest.raises(ValueError, match="gain_speed"):
        CreditNet(20, 110, gain_speed=-1.0)
    with pytest.raises(ValueError, match="gain_speed"):
        EvolveConfig(gain_speed=float("nan"))
    with pytest.raises(ValueError, match="Adam's per-synapse normalisation"):
        EvolveConfig(gain_speed=20.0, optimizer="adam")


def test_under_sgd_the_gain_is_the_step_size(small):
    """Why the gain exists: gain k at lr eta trains exactly like lr k * eta without it."""
    _, task = _task(small)
    with_gain = TDCA.for_task(task, gain_speed=10.0)
    without = TDCA.for_task(task)
    beta = dfa_like_init(with_gain, jax.random.PRNGKey(0), 10)
    beta[-1] = {"log_gain": jnp.asarray(np.log(3.0) / 10.0)}  # gain 3
    key = jax.random.PRNGKey(1)

    def final(strategy, b, lr):
        loop = InnerLoop(strategy, 8, lr, make_optimizer("sgd", lr))
        theta, _ = loop.run(b, task, key)
        return jax.tree.leaves(theta)

    for a, b in zip(final(with_gain, beta, 0.1), final(without, beta[:3], 0.3), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)  # float rounding only


def test_dfa_like_start_is_the_same_with_a_gain(small):
    _, task = _task(small)
    key = jax.random.PRNGKey(2)
    plain = dfa_like_init(TDCA.for_task(task), key, 10)
    gained = dfa_like_init(TDCA.for_task(task, gain_speed=20.0), key, 10)
    assert float(gained[-1]["log_gain"]) == 0.0
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(gained[:3]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_gain_is_saved_loaded_and_refused_by_the_wrong_template(tmp_path, small):
    split, task = _task(small)
    strategy = TDCA.for_task(task, gain_speed=20.0)
    beta = dfa_like_init(strategy, jax.random.PRNGKey(0), 10)
    beta[-1] = {"log_gain": jnp.asarray(0.04)}
    path = save_credit_net(tmp_path / "g.npz", strategy, beta, {"lr": 0.1})
    loaded, beta2, meta = load_credit_net(path)
    assert loaded.net.gain_speed == 20.0 and meta["credit_net"]["gain_speed"] == 20.0
    assert float(beta2[-1]["log_gain"]) == pytest.approx(0.04)
    # a network without a gain writes no gain_speed (files from before stay as they were)
    plain = TDCA.for_task(task)
    p2 = save_credit_net(tmp_path / "p.npz", plain, beta[:3], {"lr": 0.1})
    assert "gain_speed" not in load_credit_net(p2)[2]["credit_net"]
    # and the gain is used when the loaded network trains
    a = train_learner(f"tdca:{path}", split, steps=5, lr=0.1, curves=False)
    b = train_learner(f"tdca:{p2}", split, steps=5, lr=0.1 * np.exp(0.8), curves=False)
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
    assert a["credit_gain"] == pytest.approx(np.exp(0.8), rel=1e-6) and "credit_gain" not in b


def test_evolve_with_a_learned_gain_records_it_and_resumes(tmp_path, small, capsys):
    out = tmp_path / "run"
    argv = ["evolve", "--dataset", small, "--train-size", "100", "--steps", "5", "--lr", "0.1"]
    argv += ["--population", "4", "--no-progress", "--learned-gain", "20"]
    assert main([*argv, "--generations", "3", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    strategy, beta, _ = load_credit_net(out)
    assert cfg["gain_speed"] == 20.0 and strategy.net.gain_speed == 20.0
    gain = m["evolution"]["credit_gain"]
    assert gain == pytest.approx(float(np.exp(20.0 * beta[-1]["log_gain"])), rel=1e-6)
    assert gain != 1.0  # three generations of PGPE moved it
    # the default PGPE lr (0.001, Adam) moves g by at most ~0.001 a generation
    assert abs(np.log(gain)) <= 20.0 * 0.001 * 3 * 1.5
    assert main(["evolve", "--resume", str(out), "--generations", "5", "--no-progress"]) == 0
    capsys.readouterr()
    train = ["train", "--dataset", small, "--train-size", "100", "--steps", "5"]
    assert main([*train, "--learner", f"tdca:{out}", "--out", str(tmp_path / "t")]) == 0
    trained = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert f"lr 0.1, credit gain {trained['credit_gain']:.3g})" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["evolution"]["generations"] == 5
    with pytest.raises(SystemExit) as bad:
        main([*argv[:-2], "--learned-gain", "0", "--out", str(tmp_path / "x")])
    assert bad.value.code == 2 and not (tmp_path / "x").exists()
    assert "learned-gain" in capsys.readouterr().err
