"""Run directories: every experiment writes its config, code version, log and metrics.

A run directory is the unit of reproducibility: ``config.json`` (what ran),
``metrics.json`` (what it measured), ``log.txt``, figures, and for evolutions
``metrics.jsonl`` (one line per generation) and ``checkpoint.npz``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np

import tdca
from tdca.files import atomic_file

T = TypeVar("T")


class RunDirError(Exception):
    """The output directory cannot be used as asked."""


class RunDirInUse(RunDirError):
    """Another live process on this machine is writing the run directory."""

    def __init__(self, message: str, pid: int) -> None:
        super().__init__(message)
        self.pid = pid


RUN_METADATA = ("experiment", "code_version", "earlier_code_versions")
"""Keys a run directory's config.json holds beside the experiment's settings."""

RECORDED_PACKAGES = ("jaxlib", "evosax", "optax", "flax", "gymnax", "numpy")
"""Dependencies whose version can change a run's numbers (kernels, PGPE, optimisers,
environments), recorded beside JAX's so that a number can be traced to the exact stack."""


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# What a checkout holds besides code: the run directories and pages that `tdca reproduce` and
# `tdca report` rewrite in place, and the tests, which no run executes. A change there does not
# change what the code computes, so it does not make a run "dirty" (before, rerunning a
# committed results folder always did).
NOT_CODE = ("results", "docs", "tests", "*.md")
# Where a new, untracked file does change what runs: the package imports and reads its own
# folder (`tdca zoo list` lists every .npz in src/tdca/zoo/, say). Editors' and merge tools'
# leftovers there (a vim swap file of an open source file) are not code.
PACKAGE = "src"
LEFTOVERS = (".swp", ".swo", ".orig", ".rej", ".bak", "~")


def _counts_when_new(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        path.startswith(PACKAGE + "/") and not name.startswith(".") and not name.endswith(LEFTOVERS)
    )


MODIFIED_LISTED = 20


def code_version() -> dict[str, Any]:
    """The package version, the versions of the dependencies that shape the numbers, and,
    when running from a git checkout of tdca, the commit (``git_state``)."""
    info: dict[str, Any] = {"tdca": tdca.__version__, "jax": jax.__version__}
    info["packages"] = {name: _installed_version(name) for name in RECORDED_PACKAGES}
    info |= git_state(Path(__file__).resolve().parents[2])
    info |= {"python": platform.python_version(), "backend": jax.default_backend()}
    info["host"] = host()
    return info


# Instruction-set extensions that change what XLA's CPU compiler emits (vector width, fused
# multiply-add, matrix units), so they change the order and rounding of float sums.
CPU_FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "amx_tile",
    "asimd",
    "sve",
    "sve2",
)


def host() -> dict[str, Any]:
    """What the numbers were computed on. XLA compiles for the processor it runs on: the same
    code, data and seed give the same numbers bit for bit on one kind of processor, and may
    differ in the last bits on another (AVX-512 against AVX2), which a chaotic task such as
    Pendulum then amplifies. A rerun on another host is told apart by this record. In a
    job of several processes, the devices are the whole job's and the processor is that of
    the process writing the run (process 0); ``cpu_features`` is None where unknown."""
    devices = jax.devices()
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_features": None,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "process_count": jax.process_count(),
    }
    with contextlib.suppress(OSError):  # Linux; elsewhere platform.processor() is all
        first = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]  # one core's block
        fields = {
            k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())
        }
        info["processor"] = _cpu_model(fields) or info["processor"]
        flags = set((fields.get("flags") or fields.get("Features") or "").split())
        info["cpu_features"] = [f for f in CPU_FEATURES if f in flags]
    return info


def _cpu_model(fields: dict[str, str]) -> str | None:
    """x86's "model name"; ARM's cpuinfo has none, but its implementer and part numbers
    tell one core design from another (a Neoverse V1 from a V2)."""
    if fields.get("model name"):
        return fields["model name"]
    arm = [
        f"{k} {fields[f'CPU {k}']}"
        for k in ("implementer", "part", "variant")
        if fields.get(f"CPU {k}")
    ]
    return " ".join(arm) or None


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=True
    ).stdout


def git_state(root: Path) -> dict[str, Any]:
    """The commit of the checkout at ``root`` and whether its code differs from it
    (``git_dirty``; the changed files in ``git_modified``, NOT_CODE left out, and a new file
    counted only inside the package, where it can be imported or read). Only a
    checkout of the package itself counts: an installed copy inside some other repository
    (a project's .venv) must not record that project's commit as tdca's. A checkout git
    refuses to read (another user's, "dubious ownership") says why in ``git_unreadable``."""
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "tdca").is_dir():
        return {"git_commit": None}
    try:
        top, sha = _git(root, "rev-parse", "--show-toplevel", "HEAD").splitlines()
        if Path(top).resolve() != root.resolve():
            return {"git_commit": None}
        changed = _git(
            root,
            "status",
            "--porcelain",
            "-z",  # paths as they are: no quotes or escapes around spaces and non-ASCII
            "--untracked-files=all",
            "--",
            ".",
            *(f":(exclude){p}" for p in NOT_CODE),
        )
    except subprocess.CalledProcessError as e:  # e.g. "detected dubious ownership"
        if not (root / ".git").exists():
            return {"git_commit": None}
        said = (e.stderr or "").strip().splitlines()
        return {
            "git_commit": None,
            "git_unreadable": said[0] if said else f"git exit {e.returncode}",
        }
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None}
    paths: set[str] = set()
    entries = iter(changed.split("\0"))
    for entry in entries:  # "XY path"; a rename or copy is followed by its source's path
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            next(entries, None)
        if status != "??" or _counts_when_new(path):
            paths.add(path)
    state: dict[str, Any] = {"git_commit": sha, "git_dirty": bool(paths)}
    if paths:
        more = len(paths) - MODIFIED_LISTED
        state["git_modified"] = sorted(paths)[:MODIFIED_LISTED] + (
            [f"... and {more} more"] if more > 0 else []
        )
    return state


def _jsonable(obj: Any) -> Any:
    """Plain JSON: arrays as lists, and NaN/inf as null (bare NaN is not JSON, and strict
    readers such as jq or browsers refuse the whole file; a diverged run says so itself)."""
    if isinstance(obj, float | np.floating) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray | jax.Array):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def read_json(path: Path) -> Any:
    """A run file's JSON; an unreadable or damaged file is a one-line error naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: not readable as JSON ({e})") from e


def experiment_of(path: Path) -> str | None:
    """The kind of run a config.json or metrics.json belongs to ("train", "gaussian",
    "evolve-classification", "reproduce", "bench"; None if it does not say). Files written
    before metrics carried the field are recognised by their keys."""
    d = read_json(path)
    if not isinstance(d, dict):
        raise RunDirError(f"{path}: not a tdca run file (a JSON object was expected)")
    if "experiment" in d:
        return str(d["experiment"])
    if "seconds_per_generation" in d:
        return "bench"
    if "table" in d and "rows" in d:
        return "reproduce"
    return None


def refuse_foreign_folder(path: Path, kind: str, flag: str = "--out") -> None:
    """For commands that may write into their own earlier output (reproduce reuses its
    cache, bench overwrites its figures): never into a folder another command's run owns."""
    for name in ("config.json", "metrics.json"):
        f = path / name
        if f.is_file() and (other := experiment_of(f)) != kind:
            raise RunDirError(
                f"{flag} {path}: holds {'a ' + repr(other) if other else 'another'} run "
                f"({name}), not a {kind!r} one; choose a new folder"
            )


def check_folder(path: Path, kind: str | None = None, flag: str = "--out") -> None:
    """A folder a command will write into is not a file and, with ``kind``, holds no other
    kind of run (``refuse_foreign_folder``). Checked before any work; ``make_folder``
    creates it once the command's arguments are known to be good."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{flag} {path}: is a file, not a folder")
    if path.is_symlink() and not path.exists():  # mkdir would say "File exists"
        raise RunDirError(
            f"{flag} {path}: is a link to {os.readlink(path)}, which does not exist; create "
            "that folder, or give another"
        )
    if kind is not None and path.is_dir():
        refuse_foreign_folder(path, kind, flag)


def make_folder(path: Path, flag: str = "--out") -> None:
    """Make ``path`` (and its parents) and check that files can be written in it, before
    the work that would write them rather than after."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"{flag} {path}: cannot create it ({e.strerror})") from e
    check_writable(path, flag)


def check_writable(folder: Path, flag: str = "--out", shown: Path | None = None) -> None:
    """Create and remove a file in ``folder``: the one check that also holds for ACLs,
    read-only mounts and root (whom permission bits do not stop)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tdca-probe-"):
            pass
    except OSError as e:
        raise RunDirError(
            f"{flag} {shown or folder}: cannot write in {folder} ({e.strerror})"
        ) from e


def write_json_file(target: Path, obj: Any) -> Path:
    """Write JSON to a fresh temporary file beside ``target`` and move it into place, so a
    run killed mid-write, or two processes writing at once, never leave a truncated file."""
    with atomic_file(target, "w") as f:
        f.write(json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")
    return target


@contextlib.contextmanager
def exclusive(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an advisory lock on ``path`` (created if missing) for the ``with`` block, so that
    processes sharing a file (a --cache given to two reproduce commands) update it in turn;
    ``on_wait`` is called once if another holder makes this one wait. The lock goes with
    its process (a killed holder frees it). Where ``fcntl`` is missing (Windows), or the
    lock file cannot be created (a read-only folder, which is then only read), the block
    runs unlocked."""
    try:
        import fcntl

        f = open(path, "a")  # noqa: SIM115 - closed below, after the block
    except (ImportError, OSError):
        f = None
    if f is None:
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_json_or_set_aside(path: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """A JSON object kept as a cache (recomputable), or {} when there is none. A damaged
    one (a crash of older code mid-write, a bad edit) is renamed aside, not deleted, and
    ``warn`` says so: its entries are recomputed rather than the run failing."""
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text())
        if isinstance(value, dict):
            return value
        reason = f"a JSON object was expected, not {type(value).__name__}"
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        reason = f"not valid JSON ({e})"
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    warn(f"{path}: {reason}; moved to {aside.name}, and its entries will be recomputed")
    return {}


LOCK = ".lock"
# What a run that failed before doing any work leaves behind; such a folder may be reused.
_LEFT_BY_A_FAILED_START = {"log.txt", LOCK}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _release(lock: Path, holder: str) -> None:
    with contextlib.suppress(OSError):
        if lock.read_text().strip() == holder:
            lock.unlink()


def live_holder(path: Path) -> int | None:
    """The process id holding ``path/.lock``, if that process runs on this machine and is
    alive; None for a free folder or a stale lock (its process gone, or another machine's)."""
    try:
        holder = (path / LOCK).read_text(errors="replace").strip()
    except OSError:
        return None
    host, _, pid = holder.rpartition(":")
    mine = holder == f"{socket.gethostname()}:{os.getpid()}"
    if mine or host != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid) if _process_alive(int(pid)) else None


def wait_until_free(path: Path, poll: float = 5.0) -> None:
    """Block until no live process holds ``path/.lock`` (Ctrl-C stops the wait)."""
    while live_holder(path) is not None:
        time.sleep(poll)


def claim(path: Path) -> None:
    """Hold ``path/.lock`` for this process until it exits, so that two commands started
    on one run directory (a double-clicked resume, two jobs given the same --out) cannot
    interleave their generations and overwrite each other's checkpoint. A lock whose
    process is gone (killed, or written on another machine, e.g. a GPU lease) is stale
    and taken over."""
    lock = path / LOCK
    me = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with open(lock, "x") as f:
            f.write(me)
    except PermissionError as e:  # a read-only run directory: said as such, not as Errno 13
        raise RunDirError(f"{path}: cannot write in it ({e.strerror})") from e
    except FileExistsError:
        if (pid := live_holder(path)) is not None:
            raise RunDirInUse(
                f"{path}: in use by process {pid} (another tdca command writing there); "
                f"wait for it to finish, or delete {lock} if no such process is running",
                pid,
            ) from None
        lock.write_text(me)
    atexit.register(_release, lock, me)


class RunDir:
    """An experiment's output folder, of one ``kind`` (config.json's "experiment")."""

    def __init__(
        self,
        path: str | Path,
        *,
        resume: bool = False,
        kind: str | None = None,
        resumable: bool = True,
    ) -> None:
        self.path = Path(path)
        check_folder(self.path, flag="--resume" if resume else "--out")
        if resume:
            config = self.path / "config.json"
            if not config.is_file():
                if self.path.is_dir() and not self._contents():
                    raise RunDirError(
                        f"--resume {self.path}: the folder is empty: no run to resume (no "
                        f"config.json); start one with --out {self.path}"
                    )
                if self.path.is_dir() and self._left_by_a_failed_start(kind, resumable):
                    raise RunDirError(
                        f"--resume {self.path}: the run stopped before its first generation "
                        "(only its log is there), so there is nothing to resume; run the "
                        f"command that started it again (--out {self.path}): it reuses the folder"
                    )
                if config.is_dir():
                    raise RunDirError(
                        f"--resume {self.path}: its config.json is a folder, not the run's "
                        "config; is it a tdca run directory?"
                    )
                raise RunDirError(
                    f"--resume {self.path}: no config.json there; is it a tdca run directory?"
                )
            if kind is not None and (other := experiment_of(config)) != kind:
                raise RunDirError(
                    f"--resume {self.path}: that is {'a ' + repr(other) if other else 'another'}"
                    f" run, not a {kind!r} one"
                )
        elif self.path.exists() and not self._left_by_a_failed_start(kind, resumable):
            # --resume is suggested only where it would work: a run of this kind is there
            config = self.path / "config.json"
            try:
                other = experiment_of(config) if config.is_file() else None
            except RunDirError:
                other = None
            if not resumable or not config.is_file():
                hint = ""
            elif kind is not None and other != kind:
                hint = f" (it holds another kind of run: {other!r})"
            else:
                hint = f", or pass --resume {self.path} to continue that run"
            raise RunDirError(f"--out {self.path}: directory is not empty; choose a new one{hint}")
        make_folder(self.path)
        claim(self.path)
        self.logger = self._make_logger()

    def _contents(self) -> set[str]:
        """The names in the existing folder, less the .process-N markers with which the
        processes of a job checked they agree."""
        return {p.name for p in self.path.iterdir() if not p.name.startswith(".process-")}

    def _left_by_a_failed_start(self, kind: str | None, resumable: bool) -> bool:
        """Whether the existing folder holds only what a run of this kind leaves when it
        fails before its results (a log; for a run that cannot be resumed, also its config),
        so that the corrected command may reuse it."""
        names = self._contents()
        if names <= _LEFT_BY_A_FAILED_START:
            return True
        config = self.path / "config.json"
        return (
            not resumable
            and kind is not None
            and names <= _LEFT_BY_A_FAILED_START | {"config.json"}
            and experiment_of(config) == kind
        )

    def _make_logger(self) -> logging.Logger:
        logger = logging.getLogger(f"tdca.run.{self.path.resolve()}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.FileHandler(self.path / "log.txt")
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
        return logger

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, obj: Any) -> Path:
        return write_json_file(self.path / name, obj)

    def read_json(self, name: str) -> Any:
        target = self.path / name
        if not target.exists():
            raise RunDirError(f"{target}: missing")
        return read_json(target)

    def saved_config(self, parse: Callable[[dict[str, Any]], T]) -> tuple[T, dict[str, Any]]:
        """config.json parsed by ``parse`` (a config class's ``from_dict``), and the raw
        dict; a config with missing or malformed fields is refused, naming the file."""
        raw = self.read_json("config.json")
        try:
            return parse(raw), raw
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise RunDirError(
                f"{self.path / 'config.json'}: incomplete or damaged config ({e!r}); "
                "it cannot be resumed"
            ) from e

    def write_config(self, config: dict[str, Any]) -> None:
        """Write config.json with the code version running now. A resumed run rewrites it, so
        the versions that wrote the run before are kept, oldest first, in
        ``earlier_code_versions``: a run continued by newer code says so."""
        now = code_version()
        earlier: list[dict[str, Any]] = []
        target = self.path / "config.json"
        if target.exists():
            saved = self.read_json("config.json")
            earlier = list(saved.get("earlier_code_versions", []))
            if saved.get("code_version") not in (None, now):
                earlier.append(saved["code_version"])
        extra: dict[str, Any] = {"code_version": now}
        if earlier:
            extra["earlier_code_versions"] = earlier
        self.write_json("config.json", config | extra)

    def log(self, message: str) -> None:
        self.logger.info(message)
