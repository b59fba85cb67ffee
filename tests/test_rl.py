"""Reinforcement learning: the RL task (episodes, REINFORCE, per-neuron credits) and the
`tdca rl` command."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tdca.cli import main
from tdca.credit.artifact import load_credit_net
from tdca.credit.local_rule import local_update
from tdca.credit.strategies import TDCA
from tdca.credit.strategies.feedback import DFA
from tdca.experiments.rl import RLConfig
from tdca.inner import InnerLoop
from tdca.io import ArtifactError
from tdca.tasks.rl import RLTask, make_env


def test_an_episode_is_played_as_gymnax_plays_it_and_ends_where_the_pole_falls():
    task = RLTask.create("cartpole", (4,), horizon=60, fitness_episodes=1)
    theta = task.init_params(jax.random.PRNGKey(0))  # zero agent: greedy action 0 always
    key = jax.random.PRNGKey(3)
    ep = task.play(theta, key, 1, greedy=True)

    # The same episode stepped by hand, one gymnax call at a time, until it terminates.
    env, params = make_env("CartPole-v1")
    k_reset, k_run = jax.random.split(key)
    _, state = env.reset(jax.random.split(k_reset, 1)[0], params)
    total, steps = 0.0, 0
    for k in jax.random.split(k_run, task.horizon):
        _, k_env = jax.random.split(k)
        _, state, reward, done, _ = env.step_env(
            jax.random.split(k_env, 1)[0], state, jnp.int32(0), params
        )
        total, steps = total + float(reward), steps + 1
        if done:
            break
    assert 5 <= steps < task.horizon  # always pushing left, the pole falls within 60 steps
    assert float(task.returns(ep)[0]) == total
    assert float(jnp.sum(ep.alive)) == steps  # the steps after the end are masked out
    assert np.all(np.asarray(ep.rewards[steps:]) == 0)


@pytest.mark.parametrize("env", ["cartpole", "pendulum"])
def test_reinforce_gradient_is_the_local_rule_on_its_backpropagated_output_error(env):
    # BP's direction (minus jax.grad of the REINFORCE loss) must equal the local rule fed
    # the output error that FA and DFA get (taps_and_error), backpropagated by hand: the
    # loss, the error and the row weights describe one and the same policy gradient.
    task = RLTask.create(env, (8,), horizon=30, episodes=3, init_scheme="kaiming")
    theta = task.init_params(jax.random.PRNGKey(1))
    key = jax.random.PRNGKey(2)
    grad = jax.grad(task.loss)(theta, key)
    taps, error = task.taps_and_error(theta, key)
    hidden = (error @ theta[1]["w"].T).astype(jnp.float32)
    by_hand = local_update(taps, [hidden, error])
    for g, h in zip(grad, by_hand, strict=True):
        for name in ("w", "b"):
            assert float(jnp.max(jnp.abs(g[name]))) > 0
            np.testing.assert_allclose(-g[name], h[name], rtol=2e-4, atol=1e-6)


def test_dfa_trains_a_cartpole_agent_from_zero_and_tdca_credits_reach_every_layer():
    task = RLTask.create("cartpole", (16,), episodes=8, horizon=200)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    dfa = DFA.for_task(task)
    loop = InnerLoop(dfa, 30, optimizer=optax.adam(0.03))
    before = jax.vmap(lambda k: task.fitness(task.init_params(k), k))(keys)
    after = jax.jit(jax.vmap(lambda k: loop.fitness(dfa.init(jax.random.PRNGKey(9)), task, k)))(
        keys
    )
    assert float(jnp.max(before)) < 20  # a zero agent always pushes one way
    assert float(jnp.mean(after)) > 100  # balanced for most of the 200 steps

    # A credit network reads [obs, p, onehot(a), advantage] per time step and moves every
    # layer of the agent; rows of ended episodes carry no credit.
    tdca = TDCA.for_task(task)
    assert tdca.net.inputs == 4 + 2 + 2 + 1
    beta = tdca.init(jax.random.PRNGKey(4))
    theta = task.init_params(jax.random.PRNGKey(0))
    direction = tdca.direction(beta, task, theta, jax.random.PRNGKey(5))
    assert float(jnp.abs(direction[0]["w"]).sum()) > 0
    assert float(jnp.abs(direction[1]["b"]).sum()) > 0
    u, (_, weight) = task.credit_state(theta, jax.random.PRNGKey(5))
    assert u.shape == (200 * 8, 9)
    assert float(jnp.min(weight)) == 0.0 and float(jnp.mean(weight)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"env": "mountaincar"}, "unknown environment"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"lr": -0.1}, "lr must be a finite number > 0"),
        ({"lr_grid": (0.1, 0.01)}, "lr_grid must be ascending"),
        ({"hidden": (0,)}, "hidden"),
    ],
)
def test_an_rl_config_that_cannot_work_is_refused_when_built(setting, message):
    with pytest.raises(ValueError, match=message):
        RLConfig(**setting)


def test_rl_command_writes_a_run_resumes_it_and_its_network_is_refused_by_train(tmp_path, capsys):
    out = tmp_path / "run"
    small = ["--env", "cartpole", "--population", "8", "--steps", "4", "--seeds", "2"]
    assert main(["rl", "--out", str(out), *small, "--generations", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "reinforce" in printed and "tdca" in printed and "CartPole-v1" in printed

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evolution"]["generations"] == 2
    assert set(metrics["learners"]) == {"reinforce", "dfa", "tdca"}
    for m in metrics["learners"].values():
        assert len(m["final_return_per_seed"]) == 2
        assert len(m["curve_mean"]) == 4 + 1  # before the first step, then after each
        assert 0 < m["final_return_mean"] <= 200
    assert metrics["learners"]["reinforce"]["init"] == "kaiming"
    assert set(metrics["learners"]["dfa"]["lr_grid_validation"]) == {
        "0.003",
        "0.01",
        "0.03",
        "0.1",
    }
    assert metrics["paper"] == {"tdca": 200.0, "policy_gradient": 199.0}
    assert json.loads((out / "config.json").read_text())["experiment"] == "rl"
    for name in ("credit_net.npz", "checkpoint.npz", "returns.png", "fitness.png", "log.txt"):
        assert (out / name).is_file(), name

    # Extended by one generation from its checkpoint; flags that would not apply are refused.
    assert main(["rl", "--resume", str(out), "--generations", "3", "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text())["evolution"]["generations"] == 3
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    assert main(["rl", "--resume", str(out), "--env", "pendulum"]) == 2
    assert "--env" in capsys.readouterr().err

    # An RL credit network reads another state than a classifier's: refused by name.
    with pytest.raises(ArtifactError, match="evolved by `tdca rl` for an RL agent"):
        load_credit_net(out)
