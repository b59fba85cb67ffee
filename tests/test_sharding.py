"""The population axis past one device: sharded, chunked and multi-process evaluation give
the one-device ES state bit for bit; bad populations and chunk sizes fail clearly.

Device counts are fixed when JAX starts, so the multi-device runs happen in subprocesses
with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set before JAX is imported.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import xla_flags

from tdca.credit import TDCA
from tdca.evolution import ESConfig, Evolution, evolve, pgpe
from tdca.evolution.pgpe import (
    analytic_candidate_bytes,
    auto_chunk_size,
    candidate_memory,
    fitting_chunk_size,
    free_memory_per_device,
    host_memory_budget,
)
from tdca.evolution.processes import compilation_cache_problem
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.rundir import RunDir
from tdca.tasks import ClassificationTask

# Programs compared bit for bit here are compiled as users compile them (tests/conftest.py).
pytestmark = pytest.mark.full_optimisation

CHILD = textwrap.dedent(
    """
    import json, sys
    import jax
    import numpy as np
    from tdca.credit import TDCA
    from tdca.evolution import ESConfig, Evolution
    from tdca.inner import InnerLoop
    from tdca.networks import MLP
    from tdca.tasks import ClassificationTask, GaussianTask

    def evolve(task, strategy, population, steps, lr, generations, chunk=None):
        beta0 = strategy.init(jax.random.PRNGKey(1))
        evo = Evolution(InnerLoop(strategy, steps, lr), beta0, ESConfig(population=population),
                        chunk_size=chunk)
        state = evo.init(jax.random.PRNGKey(0), beta0)
        for g in range(generations):
            state, _ = evo.step(state, task, jax.random.fold_in(jax.random.PRNGKey(0), g))
        return evo, [np.asarray(x) for x in jax.tree.leaves(state)]

    compiled = []  # the generation's compilations (cache hits from disk included)
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _, fun_name="", **__: compiled.append(fun_name)
        if event == "/jax/core/compile/backend_compile_duration" else None
    )
    out, info = {}, {"devices": jax.device_count()}
    gauss = GaussianTask(num_points=8)
    g_strategy = TDCA.for_task(gauss, hidden=(8,))
    evo, leaves = evolve(gauss, g_strategy, 16, 10, 10.0, 4)
    info["mesh_devices"] = evo.num_devices
    info["step_compilations"] = compiled.count("jit(_step)")
    out.update({f"gauss_{i}": v for i, v in enumerate(leaves)})
    _, leaves = evolve(gauss, g_strategy, 16, 10, 10.0, 4, chunk=2)
    out.update({f"gauss_chunked_{i}": v for i, v in enumerate(leaves)})
    k = jax.random.PRNGKey(3)
    x = jax.random.uniform(k, (256, 20))
    y = jax.random.randint(k, (256,), 0, 4)
    task = ClassificationTask.create(x, y, MLP((20, 16, 4)), 4)
    clf_strategy = TDCA.for_task(task, hidden=(8, 8))
    evo, leaves = evolve(task, clf_strategy, 8, 5, 0.5, 3)
    out.update({f"clf_{i}": v for i, v in enumerate(leaves)})
    state = evo.init(jax.random.PRNGKey(0), clf_strategy.init(jax.random.PRNGKey(1)))
    population, _ = evo.es.ask(jax.random.PRNGKey(5), state, evo.es_params)
    key = jax.random.PRNGKey(7)
    out["clf_fitness"] = np.asarray(jax.jit(evo.evaluate)(population, task, key))
    vmapped = jax.jit(jax.vmap(evo.inner.fitness, in_axes=(0, None, None)))
    out["clf_fitness_blocks_of_2"] = np.concatenate([
        np.asarray(vmapped(jax.tree.map(lambda a: a[i:i + 2], population), task, key))
        for i in range(0, 8, 2)
    ])
    try:
        Evolution(InnerLoop(g_strategy, 2), g_strategy.init(jax.random.PRNGKey(0)),
                  ESConfig(population=6))
        info["indivisible_error"] = None
    except ValueError as e:
        info["indivisible_error"] = str(e)
    np.savez(sys.argv[1] + ".npz", **out)
    with open(sys.argv[1] + ".json", "w") as f:
        json.dump(info, f)
    """
)


def _env(devices: int, full_optimisation: bool = True) -> dict[str, str]:
    """A child's environment: ``devices`` CPU devices, compiled as users compile (the
    children's programs are compared bit for bit), or with XLA's optimisations mostly off
    where what is tested is the command line around them (tests/conftest.py)."""
    env = dict(os.environ)
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "0" if full_optimisation else "1"
    flags = xla_flags(env.get("XLA_FLAGS", ""), full_optimisation).split()
    flags = [f for f in flags if "xla_force_host_platform_device_count" not in f]
    if devices > 1:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _arrays(path: Path | str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _load(stem: Path) -> tuple[dict[str, np.ndarray], dict]:
    return _arrays(f"{stem}.npz"), json.loads(Path(f"{stem}.json").read_text())


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], prefix: str, other: str = "") -> None:
    keys = sorted(k for k in a if k.startswith(prefix) and k[len(prefix) :].isdigit())
    assert keys
    for k in keys:
        np.testing.assert_array_equal(a[k], b[(other or prefix) + k[len(prefix) :]])


def _local_children(tmp: Path) -> None:
    """CHILD on 1 and on 4 (virtual CPU) devices, side by side, writing into ``tmp``."""
    script = tmp / "child.py"
    script.write_text(CHILD)
    procs = {
        n: subprocess.Popen(
            [sys.executable, str(script), str(tmp / f"dev{n}")],
            env=_env(n),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (1, 4)
    }
    for n, p in procs.items():
        output, _ = p.communicate(timeout=240)
        assert p.returncode == 0, f"{n}-device child failed:\n{output}"


@pytest.fixture(scope="module")
def runs(once_per_session) -> dict[int, tuple[dict[str, np.ndarray], dict]]:
    """The same evolutions on 1 and on 4 (virtual CPU) devices, each in its own process
    (once per test session, however many xdist workers take this module's tests)."""
    tmp = once_per_session("sharding-children", _local_children)
    return {n: _load(tmp / f"dev{n}") for n in (1, 4)}


def test_children_see_the_devices_they_were_given(runs):
    assert runs[1][1]["devices"] == 1 and runs[1][1]["mesh_devices"] == 1
    assert runs[4][1]["devices"] == 4 and runs[4][1]["mesh_devices"] == 4


def test_a_sharded_evolution_compiles_its_generation_once(runs):
    """init's state is placed as step's output is (replicated on the mesh), so generation
    1 reuses generation 0's compilation on 4 devices as on one."""
    assert runs[1][1]["step_compilations"] == 1
    assert runs[4][1]["step_compilations"] == 1


def test_four_devices_give_the_one_device_state_bit_for_bit(runs):
    """Gaussian task: bit for bit (the ES update runs replicated, in one-device order)."""
    _same(runs[1][0], runs[4][0], "gauss_")


def test_four_devices_classification_within_float_rounding(runs):
    """Classification: a candidate's fitness depends in the last bit on how many candidates
    XLA:CPU's batched matmul sees at once (2 per device here, 8 on one device), so the ES
    states agree to 1e-6, not bit for bit. Each device's fitnesses equal the one-device
    fitnesses of the same 2-candidate blocks bit for bit: sharding itself adds nothing."""
    one, four = runs[1][0], runs[4][0]
    np.testing.assert_array_equal(four["clf_fitness"], one["clf_fitness_blocks_of_2"])
    np.testing.assert_allclose(four["clf_fitness"], one["clf_fitness"], rtol=0, atol=1e-6)
    keys = [k for k in one if k.startswith("clf_") and k[4:].isdigit()]
    assert keys
    for k in keys:
        np.testing.assert_allclose(four[k], one[k], rtol=0, atol=1e-6)


def test_chunked_sharded_evaluation_is_bit_identical(runs):
    # chunk 2 per device on 4 devices, and chunk 2 on one device, vs unchunked on one.
    _same(runs[1][0], runs[4][0], "gauss_", other="gauss_chunked_")
    _same(runs[1][0], runs[1][0], "gauss_", other="gauss_chunked_")


def test_population_not_divisible_by_devices_is_refused(runs):
    assert runs[1][1]["indivisible_error"] is None
    message = runs[4][1]["indivisible_error"]
    assert message is not None
    assert "population 6 must be divisible by the 4 devices" in message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(
    script: Path,
    args: Callable[[int, str], list[str]],
    timeout: float = 120,
    full_optimisation: bool = True,
    compilation_cache: bool = True,
) -> list[tuple[int, str]]:
    """Run ``script`` as processes 0 and 1 of one jax.distributed job on localhost (2 CPU
    devices each), process i with ``args(i, port)``; their exit codes and output. Without
    ``compilation_cache`` JAX's persistent cache is off in them, as tdca's evolve asks of a
    multi-process job on CPUs (``processes.compilation_cache_problem``); with it they get
    the session's, which the tdca command turns off itself."""
    port = str(_free_port())
    env = _env(2, full_optimisation)
    if not compilation_cache:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *args(i, port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [(p.returncode, o) for p, o in zip(procs, outputs, strict=True)]


CHILD_RUN = textwrap.dedent(
    """
    import os, signal, socket, sys, threading
    pid = int(sys.argv[1])
    socket.gethostname = lambda: f"host{pid}"  # as on two hosts: the run lock is no guard
    import jax
    jax.distributed.initialize(
        coordinator_address=f"localhost:{sys.argv[2]}", num_processes=2, process_id=pid
    )
    import numpy as np
    from jax.experimental import multihost_utils
    from tdca.credit import TDCA
    from tdca.evolution import ESConfig, Evolution, evolve, pgpe
    from tdca.inner import InnerLoop
    from tdca.rundir import RunDir, RunDirError
    from tdca.tasks import GaussianTask

    # One job runs every phase in turn (PHASE=FOLDER arguments; starting a job is what
    # takes the time): whole (4 generations in one go, first: its compilations are
    # counted) | first-leg | resume, "drop" (this process deletes its checkpoint in
    # FOLDER; an empty FOLDER: nothing), "cut" (it drops its log's first row), or one
    # process (pid 1) differing: "late" (its
    # time limit is already over), "signal" (Ctrl-C after 2 s), "other-lr", "other-end",
    # "auto-chunk" (chunk_size "auto"; only it has too little free memory for one vmap).
    compiled = []  # the compilations so far (cache hits from disk included)
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _, fun_name="", **__: compiled.append(fun_name)
        if event == "/jax/core/compile/backend_compile_duration" else None
    )
    odd = pid == 1
    task = GaussianTask(num_points=8)
    strategy = TDCA.for_task(task, hidden=(8,))
    beta0 = strategy.init(jax.random.PRNGKey(1))
    for spec in sys.argv[3:]:
        phase, out = spec.split("=", 1)
        tag = f"PHASE {phase} {os.path.basename(out)}:"
        if phase == "drop":
            if out:
                os.remove(out + "/checkpoint.npz")
            continue
        if phase == "cache-on":  # JAX's persistent cache, as if it had been left on
            jax.config.update("jax_enable_compilation_cache", True)
            if not jax.config.jax_compilation_cache_dir:  # (the test session gives one)
                jax.config.update("jax_compilation_cache_dir", out + "/xla-cache")
            try:
                evolve(Evolution(InnerLoop(strategy, 10, 10.0), beta0, ESConfig(population=16)),
                       task, beta0, RunDir(out, resume=True), seed=0, resume=True,
                       progress=False)
            except ValueError as e:
                print(tag, "ValueError:", " ".join(str(e).split()), flush=True)
            jax.config.update("jax_enable_compilation_cache", False)
            continue
        if phase == "cut":  # this process loses the first row of its log
            if out:
                with open(out + "/metrics.jsonl") as f:
                    rows = f.readlines()
                with open(out + "/metrics.jsonl", "w") as f:
                    f.writelines(rows[1:])
            continue
        generations = 10**6 if phase == "signal" else 4
        cfg = ESConfig(population=16, generations=generations, checkpoint_every=1)
        lr = 9.0 if phase == "other-lr" and odd else 10.0
        chunk = None
        if phase == "auto-chunk":  # process 1 has room for 2 of its 4 candidates at once
            chunk = "auto"
            mem = pgpe.candidate_memory(Evolution(InnerLoop(strategy, 10, lr), beta0, cfg), task)
            room = (mem["fixed"] + 2.5 * mem["per_candidate"]) / 0.8 if odd else 10**13
            on_host = []
            pgpe.free_memory_per_device = lambda n=1: on_host.append(n) or int(room)
            alone = Evolution(InnerLoop(strategy, 10, lr), beta0, cfg, chunk_size="auto")
            try:  # a generation run outside evolve would choose per process: refused
                alone.step(alone.init(jax.random.PRNGKey(0), beta0), task, jax.random.PRNGKey(0))
            except ValueError as e:
                print(tag, "alone ValueError:", " ".join(str(e).split()), flush=True)
        evo = Evolution(InnerLoop(strategy, 10, lr), beta0, cfg, chunk_size=chunk)
        stop_after = {"first-leg": 2, "other-end": 1 if odd else 2}.get(phase)
        time_limit = 0.0 if phase == "late" and odd else None
        if phase == "signal" and odd:
            threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        before = compiled.count("jit(_step)")
        try:
            run = RunDir(out, resume=True)
            result = evolve(evo, task, beta0, run, seed=0, resume=True, progress=False,
                            stop_after=stop_after, time_limit=time_limit)
        except RunDirError as e:
            print(tag, "RunDirError:", " ".join(str(e).split()), flush=True)
            continue
        leaves = [
            x if x.is_fully_addressable else multihost_utils.process_allgather(x, tiled=True)
            for x in jax.tree.leaves(result.state)
        ]
        np.savez(out + "/state.npz", **{f"gauss_{i}": np.asarray(x) for i, x in enumerate(leaves)})
        print(tag, "generation", result.generation, "interrupted", result.interrupted,
              "devices", jax.device_count(), "processes", jax.process_count(),
              "mesh_devices", evo.num_devices,
              "step_compilations", compiled.count("jit(_step)") - before,
              *(["chunk", evo.chunk_size, "on_host", *on_host] if chunk else []), flush=True)
    """
)

# (phase, folder of process 0, folder of process 1), in the order the job runs them
PHASES = [
    ("whole", "whole0", "whole1"),
    ("first-leg", "p0", "p1"),
    ("first-leg", "lost0", "lost1"),
    ("resume", "p0", "p1"),
    ("drop", "", "lost1"),  # process 1's checkpoint is lost
    ("resume", "lost0", "lost1"),
    ("first-leg", "cut0", "cut1"),
    ("cut", "", "cut1"),  # process 1's log lost a generation: both stop, each saying why
    ("resume", "cut0", "cut1"),
    ("first-leg", "shared", "shared"),  # two processes given one folder
    ("late", "late0", "late1"),
    ("signal", "signal0", "signal1"),
    ("other-lr", "other-lr0", "other-lr1"),
    ("other-end", "other-end0", "other-end1"),
    ("cache-on", "cache0", "cache1"),
    ("auto-chunk", "chunk0", "chunk1"),
]


def _phase_job(tmp: Path) -> None:
    """CHILD_RUN's phases as the two processes of one job; each one's output in tmp/outI."""
    for _, *folders in PHASES:
        for f in folders:
            if f and not (tmp / f).exists():
                _run_folder(tmp / f)
    script = tmp / "child_run.py"
    script.write_text(CHILD_RUN)
    args = [[f"{p}={tmp / f[i] if f[i] else ''}" for p, *f in PHASES] for i in range(2)]
    done = _two_processes(
        script, lambda i, port: [str(i), port, *args[i]], timeout=300, compilation_cache=False
    )
    for i, (code, output) in enumerate(done):
        assert code == 0, f"process {i} failed:\n{output}"
        (tmp / f"out{i}").write_text(output)


@pytest.fixture(scope="module")
def phases(once_per_session) -> tuple[Path, list[dict[tuple[str, str], str]]]:
    """The phase job's folder and, per process, what each (phase, folder) printed."""
    tmp = once_per_session("distributed-phases", _phase_job)
    said = []
    for i in range(2):
        lines = (tmp / f"out{i}").read_text().splitlines()
        said.append(
            {
                tuple(line.split(":", 1)[0].split()[1:]): line.split(":", 1)[1]
                for line in lines
                if line.startswith("PHASE ")
            }
        )
    return tmp, said


def _run_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"experiment": "test"}))
    return path


def test_two_processes_with_jax_distributed_match_one_device(runs, phases):
    """Two CPU processes x 2 devices each, joined by jax.distributed (localhost only): the
    population spreads over all 4 devices, the generation compiles once, and both end at
    the one-device state bit for bit (the phase job's first, uninterrupted run)."""
    tmp, said = phases
    for i in range(2):
        line = said[i][("whole", f"whole{i}")]
        expected = "generation 4 interrupted False devices 4 processes 2 mesh_devices 4"
        assert line.split() == f"{expected} step_compilations 1".split(), line
        _same(runs[1][0], _arrays(tmp / f"whole{i}" / "state.npz"), "gauss_")


def test_two_processes_checkpoint_and_resume_their_own_run_directories(runs, phases):
    """Each process of a jax.distributed evolution writes and resumes its own run directory:
    stopped after 2 generations and resumed, both end at the uninterrupted one-device state
    bit for bit. A process whose checkpoint is missing or whose log lost a generation
    (it says why; the other says which process), or two processes given one folder
    (on different hosts, where the run lock cannot see it), stop every process with the
    reason instead of desynchronising or interleaving their files."""
    tmp, said = phases
    for i in range(2):
        assert "generation 2" in said[i][("first-leg", f"p{i}")], said[i]
        assert "generation 4" in said[i][("resume", f"p{i}")], said[i]
        _same(runs[1][0], _arrays(tmp / f"p{i}" / "state.npz"), "gauss_")
        assert len((tmp / f"p{i}" / "metrics.jsonl").read_text().splitlines()) == 4

        lost = said[i][("resume", f"lost{i}")]
        reason = (  # the process that lost it says why; the other, which process
            "checkpoint.npz: missing, but this run wrote one (metrics.jsonl logs 2 generations)"
            if i == 1
            else "processes [1] cannot resume their run directories"
        )
        assert "RunDirError" in lost and reason in lost, lost
        shared = said[i][("first-leg", "shared")]
        assert "processes [0, 1] write the same run directory" in shared, shared
    assert len((tmp / "lost0" / "metrics.jsonl").read_text().splitlines()) == 2  # as it was
    cut = said[1][("resume", "cut1")]
    assert "logs 1 of the 2 generations before the checkpoint" in cut, cut
    waiting = said[0][("resume", "cut0")]  # it was not left waiting for process 1
    assert "processes [1] cannot resume their run directories" in waiting, waiting
    assert not (tmp / "shared" / "checkpoint.npz").exists()


def test_processes_stop_together_and_refuse_to_evolve_different_things(phases):
    """What one process decides alone is agreed by all before it acts: a time limit that
    is over on one process, or a Ctrl-C that reaches one process, stops both at the same
    generation, checkpointed (before: the other process waited in the next generation's
    collectives); processes set up with another inner lr, or to stop at another
    generation, are refused before any generation runs."""
    tmp, said = phases
    ends = set()
    for i in range(2):
        assert "generation 1 interrupted False" in said[i][("late", f"late{i}")], said[i]
        meta = json.loads(_arrays(tmp / f"late{i}" / "checkpoint.npz")["__meta__"].item())
        assert meta["generation"] == 1
        signalled = said[i][("signal", f"signal{i}")]
        assert "interrupted True" in signalled, signalled
        ends.add(signalled.split("generation ")[-1].split()[0])
        for phase, reason in [
            ("other-lr", "would evolve different things"),
            ("other-end", "would stop at generations [2, 1]"),
        ]:
            line = said[i][(phase, f"{phase}{i}")]
            assert "RunDirError" in line and reason in line, line
            assert not (tmp / f"{phase}{i}" / "checkpoint.npz").exists()
    assert len(ends) == 1 and 1 <= int(ends.pop()) < 10**6, said


def test_processes_agree_on_the_smallest_chunk_and_share_their_host_memory(phases):
    """chunk_size "auto" in a job: each process plans with its share of the host's memory
    (both processes run on this host: each is told 2 share it), and where one process has
    room for fewer candidates at once than another, both evaluate in its chunks (one
    program for the job; before, each chose its own, and the job aborted in Gloo's
    "collective mismatch"), say so, and end where the one-device run does (within float
    rounding: chunks may change the last bit). A generation run outside evolve, which
    could not agree, is refused."""
    tmp, said = phases
    for i in range(2):
        line = said[i][("auto-chunk", f"chunk{i}")]
        assert line.split()[:2] == ["generation", "4"], line
        outside = (tmp / f"out{i}").read_text()
        assert 'alone ValueError: chunk_size "auto" in a job of 2 processes' in outside
        assert line.split()[-4:] == ["chunk", "2", "on_host", "2"], line
        log = (tmp / f"chunk{i}" / "log.txt").read_text()
        assert "each device evaluates 2 candidates at a time (chunk_size)" in log, log
        alone = "this process alone would evaluate all its candidates at a time"
        assert (alone in log) == (i == 0), log
        last = json.loads((tmp / f"chunk{i}" / "metrics.jsonl").read_text().splitlines()[-1])
        assert last["generation"] == 3
        state = _arrays(tmp / f"chunk{i}" / "state.npz")
        whole = _arrays(tmp / f"whole{i}" / "state.npz")
        assert state.keys() == whole.keys()
        for k in state:
            np.testing.assert_allclose(state[k], whole[k], rtol=0, atol=1e-5, err_msg=k)


def test_a_multi_process_evolution_on_cpus_refuses_a_persistent_compilation_cache(phases):
    """With JAX's persistent compilation cache on, every process of a CPU job stops before
    its first collective, saying how to turn the cache off (on JAX 0.12.1 such a job hung
    in its second evolution: process 0 loaded the generation's program from the cache while
    process 1, which never hits it, compiled its own)."""
    tmp, said = phases
    for i in range(2):
        line = said[i][("cache-on", f"cache{i}")]
        assert "ValueError" in line and "JAX_ENABLE_COMPILATION_CACHE=false" in line, line
        assert not (tmp / f"cache{i}" / "metrics.jsonl").exists()


CHILD_LATE = textwrap.dedent(
    """
    import sys, time
    pid = int(sys.argv[1])
    import jax
    jax.distributed.initialize(
        coordinator_address=f"localhost:{sys.argv[2]}", num_processes=2, process_id=pid
    )
    from tdca.evolution import processes
    from tdca.rundir import RunDirError

    jax.devices()  # (the backends start together: each waits for every process's devices)
    if pid == 1:  # never enters the agreement (as if still loading its data)
        time.sleep(8)
        sys.exit(0)
    processes.AGREE_TIMEOUT = 2
    try:
        processes.check_agree(
            None, None, None, None, start=0, end=0, seed=0, problem=RunDirError("own reason")
        )
    except RunDirError as e:
        print("RunDirError:", e, flush=True)
    """
)


def test_a_process_that_never_reaches_the_agreement_is_named_after_the_timeout(tmp_path):
    """The agreement goes through the coordination service, so a process that never comes
    is not waited for forever: after ``AGREE_TIMEOUT`` the waiting one stops, naming it."""
    script = tmp_path / "child_late.py"
    script.write_text(CHILD_LATE)
    done = _two_processes(script, lambda i, port: [str(i), port], timeout=60)
    assert [code for code, _ in done] == [0, 0], done
    said = "process 1 did not reach the run-directory agreement within 2 s"
    assert said in done[0][1] and "own reason" not in done[0][1], done[0][1]


def test_a_process_killed_mid_evolution_leaves_the_other_saying_so(tmp_path):
    """A process of a running job killed outright (a host lost, the OOM killer): the one
    left fails in its next collective, says which generation failed, that another process
    has probably gone, and where resuming continues, and exits (2) at once rather than
    wait for JAX's shutdown barrier to time out; both then resume."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 255, (60, 6, 6), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    script = tmp_path / "tdca_cli.py"
    script.write_text("import runpy\nrunpy.run_module('tdca', run_name='__main__')\n")
    common = [sys.executable, str(script), "evolve", "--dataset", f"npz:{tmp_path / 'a.npz'}"]
    common += ["--train-size", "40", "--steps", "3", "--lr", "0.1", "--population", "8"]
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [
                *[*common, "--generations", "100000", "--no-progress"],
                *["--out", str(tmp_path / f"p{i}"), "--coordinator", f"localhost:{port}"],
                *["--num-processes", "2", "--process-id", str(i)],
            ],
            env=_env(2, full_optimisation=False),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        rows = tmp_path / "p1" / "metrics.jsonl"
        while not (rows.exists() and len(rows.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline and procs[1].poll() is None, "no generations"
            time.sleep(0.2)
        procs[1].kill()
        killed = time.monotonic()
        output = procs[0].communicate(timeout=60)[0]
        waited = time.monotonic() - killed
    finally:
        for p in procs:
            p.kill()
    procs[1].communicate(timeout=30)
    assert procs[0].returncode == 2 and waited < 30, (procs[0].returncode, waited, output)
    log = tmp_path / "p0" / "log.txt"
    said = log.read_text().splitlines()[-1]
    assert "failed:" in said and "(process 0 of 2: a collective failing usually" in said, said
    assert said.endswith(
        "no checkpoint was written yet, so resuming starts again from generation 0"
    )
    assert f"tdca evolve: error: {tmp_path / 'p0'}: generation " in output, output
    # Resumed as the message says, both processes start again from generation 0, together
    # (and stop together after it: their time limits are over at once).
    done = _two_processes(
        script,
        lambda i, port: [
            *["evolve", "--resume", str(tmp_path / f"p{i}"), "--time-limit", "0.001"],
            *["--no-progress", "--coordinator", f"localhost:{port}", "--num-processes", "2"],
            *["--process-id", str(i)],
        ],
        full_optimisation=False,
    )
    for i, (code, out) in enumerate(done):
        assert code == 0, f"process {i} failed:\n{out}"
        history = (tmp_path / f"p{i}" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["generation"] for r in history] == [0]


def _job_and_one_process(tmp_path: Path, argv: list[str]) -> tuple[Path, list[str]]:
    """The `tdca` command line ``argv`` run as a two-process job (2 CPU devices each, into
    tmp_path/p0 and p1) and as one process with 4 devices (tmp_path/one), compiled with
    optimisations mostly off; the script that ran them and the job's outputs."""
    script = tmp_path / "tdca_cli.py"
    script.write_text("import runpy\nrunpy.run_module('tdca', run_name='__main__')\n")
    done = _two_processes(
        script,
        lambda i, port: [
            *argv,
            "--out",
            str(tmp_path / f"p{i}"),
            *["--coordinator", f"localhost:{port}", "--num-processes", "2"],
            *["--process-id", str(i)],
        ],
        full_optimisation=False,
    )
    for i, (code, output) in enumerate(done):
        assert code == 0, f"process {i} failed:\n{output}"
    one = subprocess.run(
        [sys.executable, str(script), *argv, "--out", str(tmp_path / "one")],
        env=_env(4, full_optimisation=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr
    return script, [output for _, output in done]


def test_tdca_evolve_joins_a_distributed_job(tmp_path):
    """`tdca evolve --coordinator ... --num-processes 2 --process-id I` (two data sets, one
    credit network): the two processes (2 CPU devices each) write the same credit network
    as one process with all 4 devices, and record how the population was spread. The
    command line is what is tested (the CHILD tests compare the programs at XLA's default
    optimisations), so all three compile with optimisations mostly off, which is faster."""
    rng = np.random.default_rng(1)
    argv = ["evolve"]
    for name in ("a", "b"):  # a multi-data-set ("All") evolution: one credit network, two tasks
        x = rng.integers(0, 255, (60, 6, 6), dtype=np.uint8)
        y = np.arange(60) % 3
        np.savez(tmp_path / f"{name}.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
        argv += ["--dataset", f"npz:{tmp_path / name}.npz"]
    argv += ["--train-size", "40", "--steps", "3"]
    argv += ["--lr", "0.1", "--population", "8", "--generations", "2", "--no-progress"]
    script, done = _job_and_one_process(tmp_path, argv)
    for output in done:
        assert "persistent compilation cache is off in this multi-process job" in output
    nets = [_arrays(tmp_path / d / "credit_net.npz") for d in ("p0", "p1", "one")]
    metas = [json.loads(net.pop("__meta__").item()) for net in nets]
    # The same network and record, but for the job's size, which the host record says.
    counts = [meta["code_version"]["host"].pop("process_count") for meta in metas]
    assert counts == [2, 2, 1] and metas[1] == metas[2] == metas[0]
    for net in nets[1:]:
        assert net.keys() == nets[0].keys()
        for k in nets[0]:
            np.testing.assert_array_equal(net[k], nets[0][k])
    for d, processes in [("p0", 2), ("p1", 2), ("one", 1)]:
        evolution = json.loads((tmp_path / d / "metrics.json").read_text())["evolution"]
        assert (evolution["devices"], evolution["processes"]) == (4, processes)
        assert evolution["chunk_size"] is None  # "auto": all fits in one vmap per device
        assert evolution["devices_by_generation"] == [{"from": 0, "to": 1, "devices": 4}]
    # Resumed on one device, the run says that its first generations ran on four.
    resume = [sys.executable, str(script), "evolve", "--resume", str(tmp_path / "one")]
    more = subprocess.run(
        [*resume, "--generations", "3", "--no-progress"],
        env=_env(1, full_optimisation=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert more.returncode == 0, more.stderr
    evolution = json.loads((tmp_path / "one" / "metrics.json").read_text())["evolution"]
    assert evolution["devices"] == 1
    assert evolution["devices_by_generation"] == [
        {"from": 0, "to": 1, "devices": 4},
        {"from": 2, "to": 2, "devices": 1},
    ]
    said = "the population is now sharded over 1 device(s); generations before 2 ran on 4"
    assert said in (tmp_path / "one" / "log.txt").read_text()
    # A process that cannot start (a --resume folder that is not there) tells the other,
    # which stops with the reason; both used to wait in the agreement until JAX aborted.
    resumed = (tmp_path / "p1" / "metrics.jsonl").read_text()
    done = _two_processes(
        script,
        lambda i, port: [
            *["evolve", "--resume", str(tmp_path / ("nowhere" if i == 0 else "p1"))],
            *["--generations", "3", "--no-progress", "--coordinator", f"localhost:{port}"],
            *["--num-processes", "2", "--process-id", str(i)],
        ],
        timeout=90,
        full_optimisation=False,
    )
    assert done[0][0] == 2 and "no config.json there" in done[0][1], done[0][1]
    said = "processes [0] cannot resume their run directories or cannot start"
    assert done[1][0] == 2 and said in done[1][1], done[1][1]
    assert (tmp_path / "p1" / "metrics.jsonl").read_text() == resumed


# ----------------------------------------------------------------------------- in process


def _clf(
    population: int = 8, chunk: int | None = None
) -> tuple[Evolution, ClassificationTask, list]:
    k = jax.random.PRNGKey(3)
    x = jax.random.uniform(k, (128, 12))
    y = jax.random.randint(k, (128,), 0, 3)
    task = ClassificationTask.create(x, y, MLP((12, 10, 3)), 3)
    strategy = TDCA.for_task(task, hidden=(6, 6))
    beta0 = strategy.init(jax.random.PRNGKey(1))
    evo = Evolution(InnerLoop(strategy, 4, 0.5), beta0, ESConfig(population=population), chunk)
    return evo, task, beta0


@pytest.mark.parametrize("chunk", [1, 3, 8, 20])
def test_chunked_fitness_equals_vmap_including_a_ragged_last_chunk(chunk):
    whole, task, beta0 = _clf()
    chunked, _, _ = _clf(chunk=chunk)
    state = whole.init(jax.random.PRNGKey(0), beta0)
    population, _ = whole.es.ask(jax.random.PRNGKey(5), state, whole.es_params)
    key = jax.random.PRNGKey(7)
    a = jax.jit(whole.evaluate)(population, task, key)
    b = jax.jit(chunked.evaluate)(population, task, key)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_chunked_generation_equals_unchunked_bit_for_bit():
    whole, task, beta0 = _clf()
    chunked, _, _ = _clf(chunk=3)
    states = []
    for evo in (whole, chunked):
        state = evo.init(jax.random.PRNGKey(0), beta0)
        for g in range(2):
            state, stats = evo.step(state, task, jax.random.PRNGKey(g))
        states.append((state, stats))
    for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("bad", [0, -2, True])
def test_bad_chunk_size_is_refused(bad):
    with pytest.raises(ValueError, match="chunk_size"):
        _clf(chunk=bad)


def test_auto_chunk_size_fits_the_budget():
    evo, task, _ = _clf(population=8)
    mem = candidate_memory(evo, task)
    assert mem["per_candidate"] > 0 and mem["source"] in ("xla_memory_analysis", "analytic")
    assert mem["analytic"] == analytic_candidate_bytes(task, (6, 6, 13))
    assert auto_chunk_size(evo, task, budget_bytes=10**12) is None  # everything fits
    tight = int((mem["fixed"] + 3.5 * mem["per_candidate"]) / 0.8)
    assert auto_chunk_size(evo, task, budget_bytes=tight) == 2  # 3 fit; 2 divides 8
    with pytest.raises(ValueError, match="one candidate needs"):
        auto_chunk_size(evo, task, budget_bytes=int(mem["fixed"] / 0.8))


def test_auto_chunk_size_without_device_stats_needs_a_budget():
    evo, task, _ = _clf()
    if jax.devices()[0].memory_stats():
        pytest.skip("this device reports memory statistics")
    with pytest.raises(ValueError, match="budget_bytes"):
        auto_chunk_size(evo, task)


def test_auto_chunking_checks_the_estimate_first_and_asks_xla_only_where_it_does_not_fit(
    monkeypatch,
):
    evo, task, _ = _clf(population=8)
    mem = candidate_memory(evo, task)
    tight = int((mem["fixed"] + 3.5 * mem["per_candidate"]) / 0.8)  # 3 fit: chunks of 2
    assert fitting_chunk_size(evo, task, budget_bytes=tight) == 2
    assert mem["analytic"] > mem["per_candidate"]  # the estimate errs on the safe side

    def no_analysis(*args):
        raise AssertionError("XLA's memory analysis was compiled")

    monkeypatch.setattr(pgpe, "candidate_memory", no_analysis)
    assert fitting_chunk_size(evo, task, budget_bytes=10**9) is None  # by the estimate alone
    monkeypatch.setattr(pgpe, "free_memory_per_device", lambda: None)
    assert fitting_chunk_size(evo, task) is None  # no budget known: one vmap, as before


def test_the_host_memory_is_the_budget_of_cpu_devices():
    if jax.devices()[0].platform != "cpu" or not Path("/proc/meminfo").exists():
        pytest.skip("a CPU device on Linux")
    budget = host_memory_budget()
    assert budget is not None and 0 < budget < os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES"
    )
    planned = free_memory_per_device()  # the same reading a moment later, in part
    assert abs(planned - budget * pgpe.HOST_MEMORY_SHARE) < 2**30
    # two processes of one job on this host: each device has half as much
    assert abs(host_memory_budget(processes_on_host=2) - budget / 2) < 2**30
    assert abs(free_memory_per_device(2) - planned / 2) < 2**30


def test_an_evolution_whose_population_does_not_fit_is_chunked_not_failed(tmp_path, monkeypatch):
    """chunk_size "auto" (what the classification experiments use): with less free memory
    than the population needs in one vmap, the run evaluates it in chunks, says so, records
    it, and evolves what the unchunked run evolves: the same search centre bit for bit
    (fitnesses may differ in the last bit, as XLA:CPU's batched matmuls see 2 candidates
    instead of 8, and PGPE only ranks them); with less than one candidate needs it stops
    before its first generation, saying why."""
    whole, task, beta0 = _clf(population=8)
    mem = candidate_memory(whole, task)
    tight = int((mem["fixed"] + 3.5 * mem["per_candidate"]) / 0.8)
    auto = Evolution(whole.inner, beta0, whole.config, chunk_size="auto")
    monkeypatch.setattr(pgpe, "free_memory_per_device", lambda on_host=1: tight)
    chunked = evolve(auto, task, beta0, RunDir(tmp_path / "c"), seed=3, progress=False)
    plain = evolve(whole, task, beta0, RunDir(tmp_path / "w"), seed=3, progress=False)
    assert auto.chunk_size == chunked.chunk_size == 2 and plain.chunk_size is None
    said = "each device evaluates 2 candidates at a time (chunk_size)"
    assert said in (tmp_path / "c" / "log.txt").read_text()
    for a, b in zip(jax.tree.leaves(chunked.params), jax.tree.leaves(plain.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(jax.tree.leaves(chunked.state), jax.tree.leaves(plain.state), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    for a, b in zip(chunked.history, plain.history, strict=True):
        assert a["generation"] == b["generation"] and a["diverged"] == b["diverged"]
        assert abs(a["mean_fitness"] - b["mean_fitness"]) < 1e-6
    assert chunked.summary(8, 0.0)["chunk_size"] == 2

    monkeypatch.setattr(pgpe, "free_memory_per_device", lambda on_host=1: int(mem["fixed"] / 0.8))
    auto = Evolution(whole.inner, beta0, whole.config, chunk_size="auto")
    with pytest.raises(ValueError, match="one candidate needs"):
        evolve(auto, task, beta0, RunDir(tmp_path / "n"), seed=3, progress=False)
    assert not (tmp_path / "n" / "metrics.jsonl").exists()


def test_mesh_argument():
    evo, _, beta0 = _clf()
    assert evo.mesh is None and evo.num_devices == 1  # one device: no mesh
    with pytest.raises(ValueError, match="mesh must be"):
        Evolution(evo.inner, beta0, evo.config, mesh="everywhere")


def test_only_a_multi_process_cpu_job_with_a_persistent_cache_is_refused():
    """The refusal's conditions, in this process: several processes, CPUs, and a cache that
    is both given a folder and enabled; one process or a GPU job keeps the cache."""
    names = ("jax_compilation_cache_dir", "jax_enable_compilation_cache")
    before = [getattr(jax.config, n) for n in names]

    def cache(folder: str | None, enabled: bool) -> None:
        for name, value in zip(names, (folder, enabled), strict=True):
            jax.config.update(name, value)

    try:
        cache("/tmp/some-cache", True)
        assert "2-process job on CPUs" in compilation_cache_problem(2, "cpu")
        assert compilation_cache_problem(1, "cpu") is None
        assert compilation_cache_problem(2, "gpu") is None
        cache("/tmp/some-cache", False)
        assert compilation_cache_problem(2, "cpu") is None
        cache(None, True)
        assert compilation_cache_problem(2, "cpu") is None
    finally:
        cache(*before)


def test_tdca_task_joins_a_distributed_job(tmp_path):
    """`tdca --plugin FILE task NAME --coordinator ...`: a task of the user's own, evolved
    by two processes (2 CPU devices each), gives the credit network one process with all
    4 devices gives (the command line is what is tested, so compiled as the test above)."""
    blobs = Path(__file__).resolve().parents[1] / "examples" / "blobs_task.py"
    argv = ["--plugin", str(blobs), "task", "blobs", "--lr", "1", "--steps", "2"]
    argv += ["--population", "8", "--generations", "2", "--seeds", "1", "--baselines", "dfa"]
    argv += ["--no-progress"]
    _job_and_one_process(tmp_path, argv)
    nets = [_arrays(tmp_path / d / "credit_net.npz") for d in ("p0", "p1", "one")]
    for net in nets:
        net.pop("__meta__")
    for net in nets[1:]:
        assert net.keys() == nets[0].keys()
        for k in nets[0]:
            np.testing.assert_array_equal(net[k], nets[0][k])
    for d in ("p0", "p1", "one"):
        evolution = json.loads((tmp_path / d / "metrics.json").read_text())["evolution"]
        assert evolution["devices_by_generation"] == [{"from": 0, "to": 1, "devices": 4}]
