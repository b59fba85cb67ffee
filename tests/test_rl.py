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
from tdca.evolution import stream_key
from tdca.experiments import rl
from tdca.experiments.report import _rl_command, results_document
from tdca.experiments.rl import RLConfig, pick_rate
from tdca.inner import InnerLoop
from tdca.io import ArtifactError
from tdca.tasks.rl import Episodes, RLTask, make_env


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


def test_an_exploring_pendulum_agent_adds_its_noise_and_plays_the_torque_it_asked_for():
    task = RLTask.create("pendulum", (4,), horizon=40, action_std=1.5)
    theta = task.model.init(jax.random.PRNGKey(0), "kaiming")
    key = jax.random.PRNGKey(7)
    ep = task.play(theta, key, 8, greedy=False)
    greedy = task.play(theta, key, 8, greedy=True)
    mean = task.mean_action(task.model.apply(theta, ep.obs))
    noise = np.asarray(ep.actions - mean) / task.action_std
    assert abs(noise.mean()) < 0.2 and 0.85 < noise.std() < 1.15  # N(0, 1): 320 draws
    greedy_mean = task.mean_action(task.model.apply(theta, greedy.obs))
    assert float(jnp.max(jnp.abs(greedy.actions - greedy_mean))) < 1e-6
    assert float(jnp.max(jnp.abs(greedy.actions))) < 2.0  # the mean stays in the torque range
    assert float(jnp.min(ep.alive)) == 1.0  # Pendulum never ends before the horizon
    assert float(jnp.max(ep.rewards)) <= 0.0

    # The first step by hand of the episode that asked for the largest torque, beyond the
    # +-2 the pendulum takes: gymnax, given that torque clipped, pays the recorded reward.
    e = int(jnp.argmax(jnp.abs(ep.actions[0, :, 0])))
    assert float(jnp.abs(ep.actions[0, e, 0])) > 2.0
    env, params = make_env("Pendulum-v1")
    k_reset, k_run = jax.random.split(key)
    _, state = env.reset(jax.random.split(k_reset, 8)[e], params)
    _, k_env = jax.random.split(jax.random.split(k_run, task.horizon)[0])
    torque = jnp.clip(ep.actions[0, e, 0], -2.0, 2.0)
    _, _, reward, _, _ = env.step_env(jax.random.split(k_env, 8)[e], state, torque, params)
    assert float(reward) == pytest.approx(float(ep.rewards[0, e]), rel=1e-6)


def test_advantages_are_centred_per_time_step_over_live_episodes_and_feed_the_credit_net():
    task = RLTask.create("cartpole", (4,), horizon=80, episodes=6)
    theta = task.model.init(jax.random.PRNGKey(1), "kaiming")
    key = jax.random.PRNGKey(2)
    ep = task.play(theta, key, task.episodes, greedy=False)
    adv = np.asarray(task.advantages(ep))
    alive = np.asarray(ep.alive)
    assert 0 < alive.sum() < alive.size  # some episodes ended: the masking is exercised
    assert np.all(adv[alive == 0] == 0)
    per_step = (adv * alive).sum(1) / np.maximum(alive.sum(1), 1)
    np.testing.assert_allclose(per_step, 0, atol=1e-5)  # the time-dependent baseline
    assert float(np.sqrt((adv**2).sum() / alive.sum())) == pytest.approx(1.0, rel=1e-4)

    # The credit network's last input column is that advantage, row for row.
    u, _ = task.credit_state(theta, key)
    np.testing.assert_array_equal(np.asarray(u[:, -1]), adv.reshape(-1))

    # Episodes that all last the horizon (a solved CartPole) have nothing to tell apart:
    # exactly 0, not rounding error scaled up by the division by the spread.
    for n in (3, 5, 6, 8, 10):
        same = Episodes(ep.obs, ep.actions, jnp.ones((200, n)), jnp.ones((200, n)))
        assert float(jnp.max(jnp.abs(task.advantages(same)))) == 0.0
    # One episode outlives the others: where it is alone its advantage is 0; before, it
    # is ahead of the rest.
    alive = jnp.ones((50, 3)).at[20:, 1:].set(0.0)
    lone = task.advantages(Episodes(ep.obs, ep.actions, alive, alive))
    assert float(jnp.max(jnp.abs(lone[20:]))) == 0.0
    assert bool(jnp.all(lone[:20, 0] > 0)) and bool(jnp.all(lone[:20, 1:] < 0))


def test_the_baselines_rate_is_the_best_final_return_then_the_higher_curve_then_the_first():
    curves = np.zeros((3, 2, 4))
    curves[:, :, -1] = 200.0  # every rate ends at 200 on both seeds ...
    curves[1, :, 1:] = 200.0  # ... the second got there first
    assert pick_rate(curves) == 1
    curves[2, 0, -1] = 201.0  # a better final return wins, however slowly reached
    assert pick_rate(curves) == 2
    assert pick_rate(np.ones((3, 2, 4))) == 0  # all equal: the first (smallest) rate
    diverged = np.ones((3, 2, 4))
    diverged[0, 1, -1] = np.nan  # a run that blew up makes its rate the worst, not an error
    assert pick_rate(diverged) == 1


def test_evaluation_keys_are_no_generations_keys():
    # Generation g draws from fold_in(PRNGKey(seed), g) and keys split from it; the initial
    # credit network, the validation and the test seeds must draw from other keys.
    seed = 3
    gens = jax.vmap(lambda g: jax.random.fold_in(jax.random.PRNGKey(seed), g))(jnp.arange(10_000))
    used = {tuple(map(int, k)) for k in np.asarray(gens)}
    for k in np.asarray(jax.vmap(lambda g: jax.random.split(g, 3))(gens)).reshape(-1, 2):
        used.add(tuple(map(int, k)))
    for stream in range(1, 5):
        k = stream_key(seed, stream)
        streams = [k, *jax.random.split(k, 5)]
        assert not {tuple(map(int, np.asarray(s))) for s in streams} & used
    assert not np.array_equal(stream_key(seed, 1), stream_key(seed + 1, 1))
    # ... and the RL experiment's validation and test seeds are drawn from those streams.
    for stream in (rl.VALIDATION_STREAM, rl.TEST_STREAM):
        keys = np.asarray(rl._keys(stream, seed, 5))
        assert not {tuple(map(int, k)) for k in keys} & used
        np.testing.assert_array_equal(keys, jax.random.split(stream_key(seed, stream), 5))


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


def test_the_gaussian_output_error_climbs_the_log_density_of_the_action_taken():
    # Written out independently: pi(a | s) = N(a; 2 tanh(out), sigma^2) for Pendulum's +-2.
    task = RLTask.create("pendulum", (4,), horizon=10, episodes=2)
    theta = task.model.init(jax.random.PRNGKey(3), "kaiming")
    ep = task.play(theta, jax.random.PRNGKey(4), 2, greedy=False)
    out = task.model.apply(theta, ep.obs.reshape(-1, 3))
    taken = ep.actions.reshape(-1, 1)

    def log_density(o):
        return -0.5 * jnp.sum(((taken - 2.0 * jnp.tanh(o)) / task.action_std) ** 2)

    _, error = task._policy_terms(out, ep)
    np.testing.assert_allclose(error, jax.grad(log_density)(out), rtol=1e-5, atol=1e-6)


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
    alive = task.play(theta, jax.random.PRNGKey(5), 8, greedy=False).alive.reshape(-1)
    assert bool(jnp.all((weight == 0) == (alive == 0))) and float(jnp.min(weight)) == 0.0
    assert float(jnp.mean(weight)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"env": "mountaincar"}, "unknown environment"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"episodes": 0}, "episodes must be an integer >= 1"),
        ({"horizon": 2.5}, "horizon must be an integer >= 1"),
        ({"seeds": 0}, "seeds must be an integer >= 1"),
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
    for name, m in metrics["learners"].items():
        per_seed = m["final_return_per_seed"]
        assert len(per_seed) == 2 and all(0 <= r <= 200 for r in per_seed)
        assert len(m["curve_mean"]) == 4 + 1  # before the first step, then after each
        assert m["final_return_mean"] == pytest.approx(np.mean(per_seed))
        assert m["curve_mean"][-1] == pytest.approx(m["final_return_mean"])
        if name == "tdca":
            continue
        # The rate used is the validation pick: best final, then best whole curve, then first.
        final, whole = m["lr_grid_validation"], m["lr_grid_validation_curve_mean"]
        grid = {str(r) for r in RLConfig().lr_grid}
        assert set(final) == set(whole) == grid | {str(r) for r in m["lr_grid_added"]}
        best = max(final, key=lambda r: (final[r], whole[r], -float(r)))
        assert m["lr"] == float(best)
        tried = sorted(map(float, final))
        assert m["lr_at_grid_edge"] == (float(best) in (tried[0], tried[-1]))
    assert metrics["learners"]["reinforce"]["init"] == "kaiming"
    assert metrics["paper"] == {"tdca": 200.0, "policy_gradient": 199.0}
    assert json.loads((out / "config.json").read_text())["experiment"] == "rl"
    for name in ("credit_net.npz", "checkpoint.npz", "returns.png", "fitness.png", "log.txt"):
        assert (out / name).is_file(), name

    # Extended by one generation from its checkpoint; flags that would not apply are refused.
    assert metrics["evolution"]["chunk_size"] is None  # rl's default: one vmap
    resume = ["rl", "--resume", str(out), "--generations", "3", "--chunk-size", "4"]
    assert main([*resume, "--no-progress"]) == 0  # a resume may change the chunk (memory only)
    extended = json.loads((out / "metrics.json").read_text())["evolution"]
    assert extended["generations"] == 3 and extended["chunk_size"] == 4
    assert extended["chunk_size_by_generation"] == [  # which generations ran in chunks
        {"from": 0, "to": 1, "chunk_size": None},
        {"from": 2, "to": 2, "chunk_size": 4},
    ]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    assert main(["rl", "--resume", str(out), "--env", "pendulum"]) == 2
    assert "--env" in capsys.readouterr().err

    # The report's row names the command that remakes the run, with its horizon; a setting
    # no flag reaches is written beside the command instead of being silently dropped.
    row = next(r for r in results_document([out]).splitlines() if "CartPole-v1" in r)
    command = "tdca rl --env cartpole --steps 4 --seeds 2 --population 8 --generations 3"
    assert f"`{command} --out {out}`" in row and "4 × 8 × ≤200" in row
    cfg = json.loads((out / "config.json").read_text())
    assert _rl_command({**cfg, "horizon": 50}).endswith("(config.json also sets horizon=50)")
    es = {**cfg["es"], "sigma_init": 0.3, "checkpoint_every": 1}  # the latter changes nothing
    assert _rl_command({**cfg, "es": es}).endswith("(config.json also sets es.sigma_init=0.3)")

    # An RL credit network reads another state than a classifier's: refused by name.
    with pytest.raises(ArtifactError, match="evolved by `tdca rl` for an RL agent"):
        load_credit_net(out)


@pytest.mark.parametrize("seed", [2**32, 2**31, -1, 1.5, True, "0"])
def test_an_rl_config_refuses_a_seed_the_cli_would_refuse(seed):
    with pytest.raises(ValueError, match="seed must be"):
        RLConfig(seed=seed)
    assert RLConfig(seed=np.int64(2**31 - 1)).seed == 2**31 - 1


def test_rl_seeds_help_says_it_also_sets_the_validation_seeds(capsys):
    with pytest.raises(SystemExit):
        main(["rl", "--help"])
    assert "validation seeds" in " ".join(capsys.readouterr().out.split())


def _fake_rl_run(d, configured: int, reached: int):
    d.mkdir()
    cfg = RLConfig(steps=2, seeds=2).to_dict()
    cfg["es"]["generations"] = configured
    (d / "config.json").write_text(json.dumps(cfg))
    learner = {"final_return_mean": 20.0, "final_return_std": 1.0, "lr": 0.01}
    metrics = {
        "env": "cartpole",
        "gym_id": "CartPole-v1",
        "steps": 2,
        "episodes_per_step": 8,
        "horizon": 200,
        "seeds": 2,
        "learners": {n: learner for n in ("reinforce", "dfa", "tdca")},
        "paper": {"tdca": 200.0},
        "evolution": {"generations": reached, "population": 32},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


def test_the_report_leaves_out_an_rl_run_extended_and_stopped_before_its_end(tmp_path, capsys):
    """Resumed with a larger --generations and stopped: config.json asks for 2000, the
    metrics.json is still the 60-generation run's; no row pairs the two."""
    done = _fake_rl_run(tmp_path / "ref", 60, 60)
    ext = _fake_rl_run(tmp_path / "ext", 2000, 60)
    page = tmp_path / "results.md"
    assert main(["report", str(done), str(ext), "--out", str(page)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"{ext}: unfinished: its metrics.json is from generation 60 of 2000" in err
    assert f"finish it with tdca rl --resume {ext}; left out" in err
    text = page.read_text()
    assert f"--out {done}`" in text and f"--out {ext}`" not in text
    assert "--generations 2000" not in results_document([done, ext])


def test_an_rl_baselines_rate_grid_grows_past_the_end_its_pick_sits_at():
    """As classification's tuning does: a pick at an end of the grid that trains is tried
    one rate further, until the best is inside the rates tried or the extension is spent;
    a pick that does not train (final return no better than at the start) grows nothing."""
    from tdca.experiments.rl import pick_rate, tune_rate

    asked: list[tuple[float, ...]] = []

    def curves_at(peak: float, trains: bool):
        def at(rates: tuple[float, ...]) -> np.ndarray:
            asked.append(rates)
            final = np.array([-abs(np.log10(r / peak)) for r in rates]) + (10 if trains else 0)
            c = np.zeros((len(rates), 2, 3))  # (rates, seeds, steps + 1); start at 0
            c[:, :, 1:] = final[:, None, None]
            return c

        return at

    grid = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
    rates, curves = tune_rate(curves_at(1.0, True), grid, log=lambda _: None)
    assert rates == [*grid, 1.0, 3.0] and asked[1:] == [(1.0,), (3.0,)]
    assert rates[pick_rate(curves)] == 1.0 and curves.shape == (8, 2, 3)
    rates, curves = tune_rate(curves_at(1e-6, True), grid, log=lambda _: None)
    assert rates == [1e-5, 3e-5, 1e-4, 3e-4, *grid]  # down, stopped after extend=4 more
    assert pick_rate(curves) == 0  # still at the end: the caller records lr_at_grid_edge
    rates, curves = tune_rate(curves_at(1e-6, True), grid, extend=2, log=lambda _: None)
    assert rates == [1e-4, 3e-4, *grid] and rates[pick_rate(curves)] == 1e-4
    rates, _ = tune_rate(curves_at(1.0, False), grid, log=lambda _: None)
    assert rates == list(grid)  # the best leaves the agent no better than it started
    rates, _ = tune_rate(curves_at(1e9, True), grid[::-1], extend=1, log=lambda _: None)
    assert rates == [*grid, 1.0]  # a grid given high to low is tried low to high

    def alike(rates: tuple[float, ...]) -> np.ndarray:
        c = np.zeros((len(rates), 2, 3))
        c[:, :, 1:] = 5.0  # every rate trains, and all equally: the pick is the first
        return c

    rates, _ = tune_rate(alike, grid, log=lambda _: None)
    assert rates == list(grid)  # a tie with its neighbour is no reason to look past the end
