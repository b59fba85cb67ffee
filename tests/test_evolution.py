"""Outer loop: resume is bit-exact, diverged candidates are handled, checkpoints are checked."""

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tdca.credit import TDCA
from tdca.evolution import ESConfig, Evolution, GenerationFailed, evolve
from tdca.inner import InnerLoop
from tdca.io import ArtifactError, load_pytree, save_pytree
from tdca.rundir import RunDir, RunDirError
from tdca.tasks import GaussianTask


def _setup(generations=6, checkpoint_every=2):
    task = GaussianTask(num_points=8)
    tdca = TDCA.for_task(task, hidden=(8,))
    beta0 = tdca.init(jax.random.PRNGKey(1))
    cfg = ESConfig(population=8, generations=generations, checkpoint_every=checkpoint_every)
    return task, Evolution(InnerLoop(tdca, 10, 10.0), beta0, cfg), beta0


def _leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def _history(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.parametrize("stop_after", [2, 3])
def test_interrupt_and_resume_equals_uninterrupted_bit_for_bit(tmp_path, stop_after, compilations):
    task, evo, beta0 = _setup()
    full = evolve(evo, task, beta0, RunDir(tmp_path / "a"), seed=7, progress=False)
    assert not full.interrupted and full.generation == 6

    run_b = RunDir(tmp_path / "b")
    part = evolve(evo, task, beta0, run_b, seed=7, progress=False, stop_after=stop_after)
    assert part.interrupted and part.generation == stop_after
    resumed = evolve(evo, task, beta0, run_b, seed=7, progress=False, resume=True)
    assert resumed.generation == 6
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert _history(tmp_path / "a") == _history(tmp_path / "b")
    # one compiled generation served all three runs: init's state, step's and the
    # checkpoint's have the same types (init's were weakly typed: generation 1 recompiled)
    assert compilations["jit(_step)"] == 1


def test_a_run_of_ones_own_task_resumes_from_a_new_process_and_refuses_other_settings(tmp_path):
    """``evolve`` called directly (a user's task, no config of the caller's own) still
    writes what ``RunDir(out, resume=True)`` needs, so a later process resumes it; resuming
    it with another seed, population or inner loop is refused, not mixed into the
    checkpoint."""
    task, evo, beta0 = _setup()
    full = evolve(evo, task, beta0, RunDir(tmp_path / "a"), seed=7, progress=False)
    evolve(evo, task, beta0, RunDir(tmp_path / "b"), seed=7, progress=False, stop_after=3)
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert saved["experiment"] == "custom-evolution" and saved["seed"] == 7
    assert saved["es"]["population"] == 8
    with pytest.raises(RunDirError, match="seed: 7 then, 8 now"):
        evolve(evo, task, beta0, RunDir(tmp_path / "b", resume=True), seed=8, progress=False)
    _, other, _ = _setup()
    other = Evolution(other.inner, beta0, replace(other.config, population=16))
    with pytest.raises(RunDirError, match=r"es\.population: 8 then, 16 now"):
        evolve(other, task, beta0, RunDir(tmp_path / "b", resume=True), seed=7, resume=True)
    faster = Evolution(InnerLoop(evo.inner.strategy, 10, 20.0), beta0, evo.config)
    with pytest.raises(RunDirError, match=r"inner\.lr: 10\.0 then, 20\.0 now"):
        evolve(faster, task, beta0, RunDir(tmp_path / "b", resume=True), seed=7, resume=True)
    shorter = Evolution(InnerLoop(evo.inner.strategy, 5, 10.0), beta0, evo.config)
    with pytest.raises(RunDirError, match=r"inner\.steps: 10 then, 5 now"):
        evolve(shorter, task, beta0, RunDir(tmp_path / "b", resume=True), seed=7, resume=True)
    settings = saved["inner"].pop("strategy_settings")
    assert saved["inner"] == {"strategy": "TDCA", "steps": 10, "fitness_last": 1, "lr": 10.0}
    assert settings["net"]["hidden"] == [8] and settings["anchored"] is False
    longer = Evolution(evo.inner, beta0, replace(evo.config, generations=8))  # may grow
    run = RunDir(tmp_path / "b", resume=True)
    resumed = evolve(evo, task, beta0, run, seed=7, progress=False, resume=True)
    assert resumed.generation == 6
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert evolve(longer, task, beta0, run, seed=7, progress=False, resume=True).generation == 8
    # a numpy rate is recorded as a plain number, and such a run resumes
    np_rate = Evolution(InnerLoop(evo.inner.strategy, 10, np.float32(10.0)), beta0, evo.config)
    evolve(np_rate, task, beta0, RunDir(tmp_path / "c"), seed=7, progress=False, stop_after=2)
    again = RunDir(tmp_path / "c", resume=True)
    assert evolve(np_rate, task, beta0, again, seed=7, progress=False, resume=True).generation == 6


def test_a_resume_that_would_mix_or_lose_generations_is_refused(tmp_path):
    """Damage to a stopped run is refused on resume, never papered over: a missing
    checkpoint past the first checkpoint's generation (it would restart from 0; before it,
    restarting is the resume), a history missing generations before the
    checkpoint (the curves would start late), an edited config.json or a checkpoint
    copied from another run (one result would mix two runs' settings)."""
    import shutil

    task, evo, beta0 = _setup()

    def stopped(name, note="a run"):
        run = RunDir(tmp_path / name)  # a config of the caller's own, with a note in it
        run.write_config({"experiment": "my-task", "note": note})
        evolve(evo, task, beta0, run, seed=7, progress=False, stop_after=4)
        return tmp_path / name

    def resume(d):
        return evolve(evo, task, beta0, RunDir(d, resume=True), seed=7, progress=False, resume=True)

    d = stopped("no-checkpoint")
    (d / "checkpoint.npz").unlink()
    with pytest.raises(RunDirError, match=r"but this run wrote one \(metrics\.jsonl logs 4"):
        resume(d)
    d = stopped("killed-early")  # a hard kill before the first checkpoint was written
    (d / "checkpoint.npz").unlink()
    (d / "log.txt").write_text("")  # a SIGKILL leaves no "stopped ...; checkpoint saved"
    first = (d / "metrics.jsonl").read_text().splitlines()[0]
    (d / "metrics.jsonl").write_text(first + "\n")
    full = evolve(evo, task, beta0, RunDir(tmp_path / "full"), seed=7, progress=False)
    again = resume(d)  # nothing to restore: it starts again, as the same run would
    assert again.generation == 6
    for a, b in zip(_leaves(full.state), _leaves(again.state), strict=True):
        np.testing.assert_array_equal(a, b)
    d = tmp_path / "finished"  # checkpoint_every above the run's length: only the end's
    short = Evolution(evo.inner, beta0, replace(evo.config, generations=3, checkpoint_every=50))
    evolve(short, task, beta0, RunDir(d), seed=7, progress=False)
    (d / "checkpoint.npz").unlink()
    extended = Evolution(evo.inner, beta0, replace(short.config, generations=6))
    with pytest.raises(RunDirError, match="missing, but this run wrote one"):
        evolve(extended, task, beta0, RunDir(d, resume=True), seed=7, resume=True)
    d = stopped("flipped-byte")
    blob = bytearray((d / "checkpoint.npz").read_bytes())
    blob[len(blob) // 3] ^= 0xFF
    (d / "checkpoint.npz").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match=r"corrupt or truncated|not a tdca file"):
        resume(d)
    d = stopped("cut-history")
    rows = (d / "metrics.jsonl").read_text().splitlines()
    (d / "metrics.jsonl").write_text("\n".join([*rows[:1], "garbage", *rows[2:]]) + "\n")
    with pytest.raises(RunDirError, match="logs 3 of the 4 generations before the checkpoint"):
        resume(d)
    assert (d / "metrics.jsonl").read_text().count("\n") == 4  # left as it was
    d = stopped("edited")
    saved = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps(saved | {"note": "edited"}))
    with pytest.raises(ArtifactError, match=r"another config\.json .*\(note: 'a run' then"):
        resume(d)
    (d / "config.json").write_text(json.dumps(saved | {"added_later": 1}))
    assert resume(d).generation == 6  # a setting newer code adds is not an edit
    other = stopped("other", note="another run")
    shutil.copy(other / "checkpoint.npz", stopped("mine") / "checkpoint.npz")
    with pytest.raises(ArtifactError, match=r"written under another config\.json"):
        resume(tmp_path / "mine")
    assert resume(other).generation == 6  # untouched runs still resume


def test_time_limit_finishes_early_and_resume_reaches_the_uninterrupted_state(tmp_path):
    task, evo, beta0 = _setup()
    full = evolve(evo, task, beta0, RunDir(tmp_path / "a"), seed=7, progress=False)
    run_b = RunDir(tmp_path / "b")
    part = evolve(evo, task, beta0, run_b, seed=7, progress=False, time_limit=0.0)
    # A time limit is a finished result (the caller writes artifacts), not an interruption,
    # and it leaves a checkpoint at the generation reached.
    assert not part.interrupted and part.generation == 1
    assert "time limit" in (tmp_path / "b" / "log.txt").read_text()
    resumed = evolve(evo, task, beta0, run_b, seed=7, progress=False, resume=True)
    assert resumed.generation == 6 and not resumed.interrupted
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_saved_centre_is_scored_as_the_next_generation_would_score_it(tmp_path):
    """A row's centre_fitness scores the centre its generation started from, so the centre
    a run ends on (the one callers save) is scored separately: by the key of the generation
    that would come next, so that extending the run logs that same number."""
    task, evo, beta0 = _setup()
    full = evolve(evo, task, beta0, RunDir(tmp_path / "a"), seed=7, progress=False)
    rows = _history(tmp_path / "a")
    short = Evolution(evo.inner, beta0, replace(evo.config, generations=3))
    ended = evolve(short, task, beta0, RunDir(tmp_path / "b"), seed=7, progress=False)
    assert ended.saved_centre_fitness == pytest.approx(rows[3]["centre_fitness"], rel=1e-6)
    assert ended.saved_centre_fitness != pytest.approx(rows[2]["centre_fitness"], rel=1e-3)
    summary = ended.summary(8, 0.0)
    assert summary["final_centre_fitness"] == rows[2]["centre_fitness"]  # the last row's
    assert summary["saved_centre_fitness"] == ended.saved_centre_fitness
    assert full.saved_centre_fitness is not None and np.isfinite(full.saved_centre_fitness)
    stopped = evolve(evo, task, beta0, RunDir(tmp_path / "c"), seed=7, progress=False, stop_after=2)
    assert stopped.interrupted and stopped.saved_centre_fitness is None
    kept: dict[int, float] = {}  # a kept centre is scored the same way, with its own key
    keep = (2, lambda g, params, fitness: kept.__setitem__(g, fitness))
    evolve(evo, task, beta0, RunDir(tmp_path / "k"), seed=7, progress=False, keep=keep)
    assert sorted(kept) == [2, 4, 6]
    for g in (2, 4):
        assert kept[g] == pytest.approx(rows[g]["centre_fitness"], rel=1e-6)


def test_same_seed_same_result_different_seed_different(tmp_path):
    task, evo, beta0 = _setup(generations=3)
    r1 = evolve(evo, task, beta0, RunDir(tmp_path / "1"), seed=0, progress=False)
    r2 = evolve(evo, task, beta0, RunDir(tmp_path / "2"), seed=0, progress=False)
    r3 = evolve(evo, task, beta0, RunDir(tmp_path / "3"), seed=1, progress=False)
    same = lambda x, y: all(  # noqa: E731
        np.array_equal(a, b) for a, b in zip(_leaves(x.state), _leaves(y.state), strict=True)
    )
    assert same(r1, r2)
    assert not same(r1, r3)


@dataclass(frozen=True)
class _Exploding:
    """A strategy whose update is NaN when its first parameter is positive."""

    base: TDCA
    name: str = "exploding"

    def init(self, key):
        return self.base.init(key)

    def direction(self, sparams, task, theta, batch):
        d = self.base.direction(sparams, task, theta, batch)
        return jnp.where(sparams[0]["w"][0, 0] > 0, jnp.nan, d)


@pytest.mark.parametrize("offset", [0.0, 10.0])
def test_nan_candidates_get_worst_fitness_and_es_stays_finite(offset):
    task = GaussianTask(num_points=8)
    base = TDCA.for_task(task, hidden=(8,))
    beta0 = base.init(jax.random.PRNGKey(1))
    beta0[0]["w"] = beta0[0]["w"].at[0, 0].set(offset)  # offset 10: every candidate explodes
    evo = Evolution(
        InnerLoop(_Exploding(base), 5, 10.0), beta0, ESConfig(population=16, generations=1)
    )
    state = evo.init(jax.random.PRNGKey(0), beta0)
    new_state, stats = evo.step(state, task, jax.random.PRNGKey(3))
    population, _ = evo.es.ask(jax.random.split(jax.random.PRNGKey(3), 3)[0], state, evo.es_params)
    expected = int(np.sum(np.asarray(population[0]["w"][:, 0, 0]) > 0))
    assert int(stats["diverged"]) == expected > 0
    assert all(np.all(np.isfinite(x)) for x in _leaves(new_state))
    if offset == 0.0:
        assert np.isfinite(float(stats["best_fitness"]))
        assert np.isfinite(float(stats["mean_fitness"]))
        # The search centre moves towards the candidates that did not explode.
        assert float(evo.mean(new_state)[0]["w"][0, 0]) < 0
    else:  # no finite candidate: no mean (it was 0, which reads as a perfect -CE)
        assert int(stats["diverged"]) == 16 and np.isnan(float(stats["mean_fitness"]))


def test_a_generation_in_which_every_candidate_diverged_is_said_once(tmp_path, capsys):
    task = GaussianTask(num_points=8)
    base = TDCA.for_task(task, hidden=(8,))
    beta0 = base.init(jax.random.PRNGKey(1))
    beta0[0]["w"] = beta0[0]["w"].at[0, 0].set(10.0)  # every candidate explodes
    cfg = ESConfig(population=8, generations=3)
    evo = Evolution(InnerLoop(_Exploding(base), 5, 10.0), beta0, cfg)
    evolve(evo, task, beta0, RunDir(tmp_path / "r"), seed=0, progress=False)
    said = "every candidate diverged in generation 0 (no finite fitness)"
    assert capsys.readouterr().err.count(said) == 1
    assert (tmp_path / "r" / "log.txt").read_text().count(said) == 1


@pytest.mark.parametrize("fails_at", [3, 4])
def test_a_generation_that_fails_on_the_device_says_where_resuming_continues(tmp_path, fails_at):
    """A generation whose computation fails (JAX raises, e.g. out of device memory) stops
    the run with which generation failed and where a resume continues; alone, the process
    first checkpoints the generations it finished (3: between two checkpoints; 4: just
    written), and the resumed run ends where an uninterrupted one does, bit for bit."""
    task, evo, beta0 = _setup()  # checkpoints every 2 generations
    full = evolve(evo, task, beta0, RunDir(tmp_path / "a"), seed=7, progress=False)
    real_step, calls = evo.step, []

    def step(state, task, key):
        calls.append(key)
        if len(calls) == fails_at + 1:
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory\nmore")
        return real_step(state, task, key)

    evo.step = step
    run = RunDir(tmp_path / "b")
    with pytest.raises(GenerationFailed) as failed:
        evolve(evo, task, beta0, run, seed=7, progress=False)
    said = (
        f"generation {fails_at} failed: RESOURCE_EXHAUSTED: Out of memory; resuming "
        f"continues from the checkpoint of generation {fails_at}. Each device evaluated "
        f"{evo.config.population} candidate(s) at a time; resume with fewer (--chunk-size K, "
        f"K < {evo.config.population}; Evolution(chunk_size=K))"
    )
    assert str(failed.value) == f"{run.path}: {said}"
    assert isinstance(failed.value.__cause__, jax.errors.JaxRuntimeError)
    assert said in (tmp_path / "b" / "log.txt").read_text()
    _, meta = load_pytree(tmp_path / "b" / "checkpoint.npz", full.state)
    assert meta["generation"] == fails_at
    evo.step = real_step
    resumed = evolve(evo, task, beta0, run, seed=7, progress=False, resume=True)
    assert resumed.generation == 6
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert _history(tmp_path / "a") == _history(tmp_path / "b")


def test_an_initial_mean_shaped_unlike_the_template_is_refused():
    task, evo, _ = _setup()
    other = TDCA.for_task(task, hidden=(4,)).init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="initial mean is not shaped like the template"):
        evo.init(jax.random.PRNGKey(0), other)


def test_checkpoint_for_another_architecture_is_refused(tmp_path):
    task, evo, beta0 = _setup()
    state = evo.init(jax.random.PRNGKey(0), beta0)
    save_pytree(tmp_path / "c.npz", state, {"generation": 0})
    loaded, meta = load_pytree(tmp_path / "c.npz", state)
    assert meta == {"generation": 0}
    for a, b in zip(_leaves(loaded), _leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    other = TDCA.for_task(task, hidden=(9,))
    evo2 = Evolution(InnerLoop(other, 10, 10.0), other.init(jax.random.PRNGKey(0)), evo.config)
    with pytest.raises(ArtifactError, match="different"):
        load_pytree(
            tmp_path / "c.npz", evo2.init(jax.random.PRNGKey(0), other.init(jax.random.PRNGKey(0)))
        )


def test_corrupt_or_missing_checkpoint_gives_clear_error(tmp_path):
    _task, evo, beta0 = _setup()
    state = evo.init(jax.random.PRNGKey(0), beta0)
    path = save_pytree(tmp_path / "c.npz", state, {"generation": 0})
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        load_pytree(tmp_path / "cut.npz", state)
    with pytest.raises(ArtifactError, match="no such file"):
        load_pytree(tmp_path / "missing.npz", state)
    (tmp_path / "plain.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_pytree(tmp_path / "plain.npz", state)


def test_a_caller_config_is_written_only_once_the_resume_checks_pass(tmp_path):
    """``evolve(config=...)`` writes the caller's config.json after the run directory's
    checks: a resume refused on a damaged checkpoint leaves the saved config as it was (its
    generation count not raised to the refused attempt's), and the next resume, with the
    checkpoint restored, writes it."""
    task, evo, beta0 = _setup()
    config = {"experiment": "mine", "seed": 7, "es": evo.config.to_dict()}
    run = RunDir(tmp_path / "r")
    evolve(evo, task, beta0, run, seed=7, progress=False, stop_after=2, config=config)
    saved = (tmp_path / "r" / "config.json").read_bytes()
    assert json.loads(saved)["experiment"] == "mine"  # the caller's, not custom-evolution
    checkpoint = tmp_path / "r" / "checkpoint.npz"
    good = checkpoint.read_bytes()
    checkpoint.write_bytes(good[: len(good) // 2])
    longer = Evolution(evo.inner, beta0, replace(evo.config, generations=8))
    config8 = config | {"es": longer.config.to_dict()}
    again = RunDir(tmp_path / "r", resume=True)
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        evolve(longer, task, beta0, again, seed=7, progress=False, resume=True, config=config8)
    assert (tmp_path / "r" / "config.json").read_bytes() == saved
    checkpoint.write_bytes(good)
    result = evolve(longer, task, beta0, again, seed=7, progress=False, resume=True, config=config8)
    assert result.generation == 8
    assert json.loads((tmp_path / "r" / "config.json").read_text())["es"]["generations"] == 8


def test_a_resumed_run_keeps_the_code_versions_that_wrote_it_before(tmp_path, monkeypatch):
    """config.json is rewritten on resume; the code that started the run stays on record."""
    import tdca.rundir as rundir

    versions = iter([{"git_commit": "a"}, {"git_commit": "b"}, {"git_commit": "b"}])
    monkeypatch.setattr(rundir, "code_version", lambda: next(versions))
    RunDir(tmp_path / "r").write_config({"seed": 0})
    RunDir(tmp_path / "r", resume=True).write_config({"seed": 0})
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["code_version"] == {"git_commit": "b"}
    assert saved["earlier_code_versions"] == [{"git_commit": "a"}]
    RunDir(tmp_path / "r", resume=True).write_config({"seed": 0})  # same code again
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["earlier_code_versions"] == [{"git_commit": "a"}]


def test_config_records_the_versions_of_the_packages_that_shape_the_numbers(tmp_path):
    """A number is traceable to its stack: evosax's PGPE, optax, jaxlib's kernels and the
    rest, as installed now, sit in config.json's code_version beside JAX's own version."""
    import importlib.metadata

    from tdca.rundir import RECORDED_PACKAGES

    RunDir(tmp_path / "r").write_config({"seed": 0})
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["code_version"]
    assert set(saved["packages"]) == set(RECORDED_PACKAGES) >= {"evosax", "optax", "jaxlib"}
    for name, version in saved["packages"].items():
        assert version == importlib.metadata.version(name)
    assert saved["jax"] == jax.__version__
    # ... and the host: XLA compiles for the processor, whose extensions change float sums.
    host = saved["host"]
    assert host["device_kind"] == jax.devices()[0].device_kind
    assert host["device_count"] == jax.device_count() and host["machine"]
    assert host["process_count"] == jax.process_count()
    if Path("/proc/cpuinfo").is_file():
        flags = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
        assert all(f" {f}" in flags for f in host["cpu_features"])
        assert ("avx2" in host["cpu_features"]) == (" avx2" in flags)
    # ARM's cpuinfo names no model: its implementer and part numbers tell designs apart.
    from tdca.rundir import _cpu_model

    neoverse = {"CPU implementer": "0x41", "CPU part": "0xd40", "CPU variant": "0x1"}
    assert _cpu_model(neoverse) == "implementer 0x41 part 0xd40 variant 0x1"
    assert _cpu_model({"CPU implementer": "0x41", "CPU part": "0xd4f"}) != _cpu_model(neoverse)
    assert _cpu_model({}) is None


def test_a_swallowed_ctrl_c_still_stops_the_run_after_its_generation(tmp_path):
    """A Ctrl-C can land in a garbage-collector callback of JAX's, where Python prints the
    KeyboardInterrupt as "Exception ignored" and goes on. The run must still stop (after
    that generation, checkpointed), not run to its end as if nothing was pressed."""
    import signal
    import time

    task, evo, beta0 = _setup()
    real_step, fired = evo.step, []

    def step(state, task, key):
        out = real_step(state, task, key)
        if not fired:
            fired.append(True)
            try:  # what a gc callback does with the exception
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                pass
        return out

    evo.step = step
    # Ctrl-C as in a terminal, however pytest was started: a shell without job control
    # starts background commands (`./scripts/test &`) with SIGINT ignored, which evolve
    # rightly leaves ignored (checked below).
    launched = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = evolve(evo, task, beta0, RunDir(tmp_path / "r"), seed=7, progress=False)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, launched)
    assert result.interrupted and result.generation == 1
    _, meta = load_pytree(tmp_path / "r" / "checkpoint.npz", result.state)
    assert meta["generation"] == 1

    # An ignored Ctrl-C (nohup, a background job) stays ignored, and SIGTERM's default
    # (ending a script outright) is not taken over in a script's own evolve.
    fired.clear()
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = evolve(evo, task, beta0, RunDir(tmp_path / "s"), seed=7, progress=False)
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert not result.interrupted and result.generation == 6


def test_a_resume_with_another_credit_layout_anchoring_or_given_optimizer_is_refused(tmp_path):
    """The inner loop's record covers the strategy's settings and, for an optax optimizer
    passed in, what its first steps do: these resumes were silently mixed into one run."""
    import optax

    from tdca.credit import CreditLayout
    from tdca.networks import MLP
    from tdca.tasks import ClassificationTask

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    task = ClassificationTask.create(x, np.arange(24) % 3, MLP((6, 16, 3)), num_classes=3)

    def evolution(layout="line:4", anchored=False, optimizer=None, generations=2):
        lay = CreditLayout.parse(layout, task.credit_units)
        tdca = TDCA.for_task(task, hidden=(8,), layout=lay, anchored=anchored)
        beta0 = tdca.init(jax.random.PRNGKey(0))
        inner = InnerLoop(tdca, 3, 0.5, optimizer=optimizer or optax.adam(1e-2))
        return Evolution(inner, beta0, ESConfig(population=4, generations=generations)), beta0

    evo, beta0 = evolution()
    evolve(evo, task, beta0, RunDir(tmp_path / "r"), seed=0, progress=False)
    for changed, said in [
        ({"layout": "grid:2x2"}, r"inner\.strategy_settings\.layout"),
        ({"anchored": True}, r"inner\.strategy_settings\.anchored: False then, True now"),
        ({"optimizer": optax.adam(1.0)}, r"inner\.optimizer_probe: \[.*\] then, \[.*\] now"),
        ({"optimizer": optax.sgd(0.1)}, r"inner\.optimizer_probe"),
        ({"optimizer": optax.adamax(1e-2)}, r"inner\.optimizer_probe"),  # steps alike at first
        ({"optimizer": optax.adam(1e-2, b1=0.5)}, r"inner\.optimizer_probe"),
    ]:
        evo, beta0 = evolution(generations=3, **changed)
        with pytest.raises(RunDirError, match=said):
            evolve(evo, task, beta0, RunDir(tmp_path / "r", resume=True), seed=0, resume=True)
    evo, beta0 = evolution(generations=3)  # the same settings, a new optimizer object
    relabelled = task.replace(y=(task.y + 1) % 3)  # other data, same shapes
    with pytest.raises(RunDirError, match=r"task_digest: .*; the task's data or settings differ"):
        evolve(evo, relabelled, beta0, RunDir(tmp_path / "r", resume=True), seed=0, resume=True)
    with pytest.raises(RunDirError, match="task_digest"):  # a static setting
        evolve(
            evo,
            task.replace(fitness_metric="accuracy"),
            beta0,
            RunDir(tmp_path / "r", resume=True),
            seed=0,
            resume=True,
        )
    run = RunDir(tmp_path / "r", resume=True)
    assert evolve(evo, task, beta0, run, seed=0, progress=False, resume=True).generation == 3


def test_a_tasks_digest_is_the_same_in_every_process_and_takes_typed_keys():
    """Static settings held in a set are written in sorted order (Python seeds string
    hashing per process), object addresses are left out, and a typed PRNG key is digested
    by its key data; other values give another digest."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import jax
        from flax import struct
        from tdca.evolution.processes import tree_digest

        @struct.dataclass
        class T:
            x: jax.Array
            key: jax.Array
            names: frozenset = struct.field(pytree_node=False)
            fn: object = struct.field(pytree_node=False)

        names = frozenset({"alpha", "beta", "gamma", "delta", "epsilon"})
        t = T(jax.numpy.arange(3.0), jax.random.key(0), names, lambda v: v)
        print(tree_digest(t), tree_digest(t.replace(key=jax.random.key(1))))
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed, "JAX_PLATFORMS": "cpu"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        for seed in ("1", "2")
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    (a, other_key), (b, _) = (r.stdout.split() for r in runs)
    assert a == b and a != other_key
