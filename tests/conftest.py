"""Shared fixtures: tests run on CPU in float32, deterministic.

Compiling takes most of the suite's time (small end-to-end runs, each compiling its own
programs), and many tests, xdist workers and subprocesses compile the same ones. So the
session shares one persistent XLA compilation cache, a fresh private folder removed at the
end (set ``JAX_COMPILATION_CACHE_DIR`` yourself to keep one between runs). A cache hit
loads the executable the miss compiled: results are the same bit for bit.

Most tests check behaviour (run directories, refusals, resumes, learning at all) on tiny
programs that run in milliseconds and take seconds to compile, so they compile with XLA's
optimisations mostly off (``jax_disable_most_optimizations``: about half the compile time;
results differ from a default compile in the last bits, and are as deterministic). Tests
marked ``full_optimisation`` compile as users do: those that compare numbers between
different programs bit for bit (1 vs 4 devices, chunked vs whole), and those whose time
goes in running, not compiling. (The zoo's accuracies were recorded on a GPU: the
0.2-point tolerance for that covers these last bits too.)

The behaviour tests also use XLA's older CPU code generator
(``--xla_cpu_use_fusion_emitters=false``), which compiles faster again (the programs it
makes ran slower, which matters to users, not here): a clean clone's ``.ci/run`` took
7 min 37 s instead of 11 min 30 s on a 2-core host (``results/cpu/suite-times.md``).
XLA reads its flags once per process, so a worker's marked tests keep that generator;
the subprocesses they start (the multi-device runs compared bit for bit) compile exactly
as users do. A JAX whose XLA no longer knows the flag is asked first and then not given it
(XLA aborts on a flag it does not know).
"""

import collections
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)  # test_compile_mode runs a session of its own

os.environ.setdefault("JAX_PLATFORMS", "cpu")

_OWN_CACHE: str | None = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # Set here, at import in the controlling process, before xdist starts its workers: they
    # and every subprocess a test starts inherit the variables.
    _OWN_CACHE = tempfile.mkdtemp(prefix="tdca-tests-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


# The compile mode of this process's tests, and of the subprocesses they start (which
# inherit the environment variable): optimisations mostly off from JAX's import on,
# switched only between tests that differ.
_FLAG, _ENV = "jax_disable_most_optimizations", "JAX_DISABLE_MOST_OPTIMIZATIONS"
os.environ[_ENV] = "1"

# The quicker code generator's flag, or "" where this JAX's XLA does not know it or the
# user's XLA_FLAGS choose a generator themselves. Decided once, in the controlling
# process; workers and subprocesses inherit the answer (and the flag in XLA_FLAGS).
QUICK_CODEGEN_ENV, _QUICK = "TDCA_TESTS_QUICK_CODEGEN", "--xla_cpu_use_fusion_emitters=false"


def _xla_knows(flag: str, flags: str) -> bool:
    """Whether a JAX process starts with ``flag`` added to ``flags`` (XLA aborts if not)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import jax; jax.devices()"],
            env={**os.environ, "XLA_FLAGS": f"{flags} {flag}".strip()},
            capture_output=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


if QUICK_CODEGEN_ENV not in os.environ:
    _flags = os.environ.get("XLA_FLAGS", "")
    _chosen = "xla_cpu_use_fusion_emitters" in _flags  # the user's own choice stands
    os.environ[QUICK_CODEGEN_ENV] = "" if _chosen or not _xla_knows(_QUICK, _flags) else _QUICK


def xla_flags(flags: str, full_optimisation: bool) -> str:
    """``flags`` (an XLA_FLAGS value) for a process compiling in the given mode: with the
    quicker code generator for behaviour tests, without it where users' compile is asked."""
    quick = os.environ[QUICK_CODEGEN_ENV]
    kept = [f for f in flags.split() if f != quick]  # split() yields no "", so "" keeps all
    return " ".join(kept if full_optimisation or not quick else [*kept, quick])


os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), full_optimisation=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "full_optimisation: compile with XLA's default optimisations, as users do "
        "(see tests/conftest.py)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Put this process in the test's compile mode before any of its fixtures is made: a
    fixture shared by a module (made when its first test asks) was otherwise made in the
    mode of the test that ran before, and compared bit for bit with what the test computed
    in its own mode, failed or passed by the order tests landed on a worker."""
    import jax

    full = item.get_closest_marker("full_optimisation") is not None
    if jax.config.values[_FLAG] == full:  # this process is in the other mode
        # Executables compiled in the other mode stay in jit's in-memory caches: drop them,
        # so that a test never mixes the two (the persistent cache keys on the mode).
        jax.clear_caches()
        jax.config.update(_FLAG, not full)
        os.environ[_ENV] = "0" if full else "1"
        os.environ["XLA_FLAGS"] = xla_flags(os.environ["XLA_FLAGS"], full)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE is not None:  # the process that made the folder removes it
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture
def compilations() -> Iterator[collections.Counter]:
    """How many times each jitted function was compiled during the test (by name, e.g.
    ``"jit(_step)"``); a load from the persistent cache counts as a compilation too."""
    import jax

    counts: collections.Counter = collections.Counter()

    def listener(event: str, _: float, fun_name: str = "", **__: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            counts[fun_name] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield counts
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.fixture
def piped_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Printed output as in a batch job's log: no terminal, and no variable that makes rich
    act as if there were one or fixes its width (captured output is not a terminal)."""
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def once_per_session(tmp_path_factory: pytest.TempPathFactory) -> Callable:
    """``once(name, make)``: the folder ``make(folder)`` filled, made by one process only.

    A module-scoped fixture runs in every xdist worker that takes one of the module's tests
    (the expensive multi-device runs ran twice); here the first worker makes the folder
    under the session's shared temporary root, holding a lock, and the others read it."""
    import fcntl

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()

    def once(name: str, make: Callable[[Path], None]) -> Path:
        folder = root / f"once-{name}"
        with open(root / f"once-{name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / ".done").exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                make(folder)
                (folder / ".done").touch()
        return folder

    return once
