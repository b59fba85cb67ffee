"""Several processes (``jax.distributed``) running one evolution.

Every process runs the same program: the same generations, the same collectives. Anything
a process decides on its own (where to start, what to evolve, when to stop) must
therefore be agreed by all of them first, or one process leaves the rest waiting in a
collective forever, or they silently compute a mixture of two evolutions. With one
process everything here is a no-op.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jax
import numpy as np

from tdca.rundir import RunDir, RunDirError

JOIN_TIMEOUT = 300
"""Seconds a process waits for the others to join (JAX's own default)."""


def wait_for_coordinator(coordinator: str, timeout: float) -> float:
    """Wait until something accepts TCP connections at process 0's coordinator address,
    for at most ``timeout`` seconds; returns the seconds left. JAX itself aborts the whole
    process (a C++ check failure, no Python error) when it cannot reach the coordinator in
    time; a closed port or a wrong address fails here first, in one line that says what to
    check. Process 0 may start later than the others: retried until the deadline."""
    host, sep, port = coordinator.rpartition(":")
    unbracketed_ipv6 = ":" in host and not (host.startswith("[") and host.endswith("]"))
    if not sep or not host or unbracketed_ipv6 or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"--coordinator must be HOST:PORT (an IPv6 address in brackets, [::1]:PORT), "
            f"got {coordinator!r}"
        )
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=min(5.0, timeout)):
                return max(deadline - time.monotonic(), 0.0)
        except OSError as e:
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"could not reach the coordinator {coordinator} in {timeout:g} s ({e}); "
                    "is process 0 started with this address, is the address right and its "
                    "port open to this host? (--join-timeout waits longer)"
                ) from e
            time.sleep(0.5)


def join(
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    timeout: int = JOIN_TIMEOUT,
) -> None:
    """``jax.distributed.initialize`` with a message that says what to change. Omitted
    values are detected by JAX where it can (Slurm, Open MPI, Cloud TPU); must run before
    any JAX computation. ``timeout`` bounds each process's wait for the others. A process
    given a coordinator and an id other than 0 first checks, within it, that the
    coordinator's port accepts connections (``wait_for_coordinator``); a failure past that
    (a process that never joins) ends as JAX ends it, aborting the process."""
    if coordinator is not None and process_id not in (None, 0):
        timeout = max(int(wait_for_coordinator(coordinator, timeout)), 1)
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=timeout,
        )
    except (RuntimeError, ValueError) as e:
        raise ValueError(
            f"could not join the jax.distributed job ({e}); give --coordinator HOST:PORT, "
            f"--num-processes N and --process-id I, or run under a cluster manager JAX "
            f"detects (Slurm, Open MPI)"
        ) from e


def compilation_cache_problem(
    process_count: int | None = None, platform: str | None = None
) -> str | None:
    """Why this job must not run with JAX's persistent compilation cache, or None.

    With several processes only process 0 writes the cache, and on CPUs the others' keys
    never match its entries (measured: they never hit), so they compile every program
    anyway. On JAX 0.12.1 a program with cross-process collectives that process 0 loads
    from the cache while the others compile it hangs in its first collective (a resumed
    evolution, or a second one in the same job; JAX 0.10.2 and 0.11.2 ran it). So a
    multi-process job on CPUs gains nothing from the cache and may hang with it; it is
    refused before the first collective. (GPUs: not measured, not refused.) The arguments
    default to this process's."""
    count = jax.process_count() if process_count is None else process_count
    if count == 1 or (platform or jax.default_backend()) != "cpu":
        return None
    folder = jax.config.jax_compilation_cache_dir
    if not (folder and jax.config.jax_enable_compilation_cache):
        return None
    return (
        f"a {count}-process job on CPUs cannot use JAX's persistent compilation cache "
        f"({folder}): only process 0 could load from it, and on JAX 0.12 a program that "
        "process 0 loads from it while the others compile it hangs in its first "
        "collective. Turn it off in every process: JAX_ENABLE_COMPILATION_CACHE=false, or "
        "jax.config.update('jax_enable_compilation_cache', False) before the first "
        "compile (the tdca command does this itself)"
    )


def fingerprint(evolution: Any, task: Any, initial_params: Any) -> int:
    """A 31-bit digest of what an evolution computes: the ES config, the inner loop's
    settings, the strategy's type, and every array of the task and of the starting
    parameters. Two processes with different data (another subset, another file on one
    host) or settings get different digests."""
    inner = evolution.inner
    loop = getattr(inner, "loop", inner)  # an evaluator may wrap the InnerLoop ("All")
    # Plain settings only: a repr of the whole loop would hold function addresses (optax),
    # which differ between processes.
    settings = [type(inner).__qualname__, type(getattr(loop, "strategy", None)).__qualname__]
    settings += [getattr(loop, a, None) for a in ("steps", "lr", "fitness_last")]
    h = hashlib.sha256(repr((evolution.config, settings)).encode())
    _add_arrays(h, jax.tree.leaves((task, initial_params)))
    return int.from_bytes(h.digest()[:4], "little") & 0x7FFFFFFF


def _add_arrays(h: Any, leaves: list[Any]) -> None:
    """Every array's dtype, shape and bytes (a typed PRNG key by its key data)."""
    for leaf in leaves:
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())


def tree_digest(tree: Any, modules: bool = True) -> str:
    """A hex digest of a pytree (a task, say): its arrays (``_add_arrays``) and its
    structure with its static settings (a network's sizes, a class count), written the
    same way in every process: sets and dicts sorted, object addresses and the place of a
    plugin's file left out; with ``modules`` False, the modules of the classes too."""
    leaves, treedef = jax.tree.flatten(tree)
    # A plugin's module is named after the file's place (tdca.plugins): the same code moved
    # elsewhere, or at another path on another host, is the same task.
    structure = _canonical_structure(treedef, modules)
    structure = re.sub(r"tdca_plugin_[0-9a-f]{12}", "tdca_plugin", structure)
    h = hashlib.sha256(structure.encode())
    _add_arrays(h, leaves)
    return h.hexdigest()[:16]


def _canonical_structure(treedef: Any, modules: bool = True) -> str:
    data = treedef.node_data()
    if data is None:  # a leaf
        return "*"
    kind, static = data
    children = ",".join(_canonical_structure(c, modules) for c in treedef.children())
    name = f"{kind.__module__}.{kind.__qualname__}" if modules else kind.__qualname__
    return f"{name}[{_canonical(static)}]({children})"


def _canonical(value: Any) -> str:
    """``repr`` that does not depend on the process: set order follows string hashing,
    which Python seeds per process, and default reprs hold addresses."""
    if isinstance(value, set | frozenset):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__}(" + ",".join(_canonical(v) for v in value) + ")"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ",".join(
            f"{f.name}={_canonical(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__qualname__}({fields})"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


_agreements = 0
"""How many agreements (``check_agree``, ``fail_together``) this process has entered. Every
process enters the same ones in the same order, so the count names each one's keys in the
coordination service; from the first one on every process runs the same collectives, and
a failure needs no more sharing."""

AGREE_TIMEOUT = 1800
"""Seconds a process waits at the agreement for the others (one host may load its data
much later than another)."""


def _exchange(tag: str, value: list[int]) -> np.ndarray:
    """Every process's ``value`` (rows in process order), through ``jax.distributed``'s
    coordination service (its key-value store), not through device collectives: the
    agreement runs no XLA program, so a process that stops before compiling anything and
    one that has compiled and run its own programs still meet (JAX 0.12.1 on CPUs hung both
    in a ``broadcast_one_to_all`` there), and a persistent compilation cache cannot make
    them disagree on a program."""
    from jax._src import distributed

    client = distributed.global_state.client
    if client is None:
        raise RuntimeError(
            f"{jax.process_count()} processes but no jax.distributed client: join the job "
            "with jax.distributed.initialize"
        )
    key = f"tdca/agree/{_agreements}/{tag}"
    client.key_value_set(f"{key}/{jax.process_index()}", ",".join(map(str, value)))
    deadline = time.monotonic() + AGREE_TIMEOUT
    rows = []
    for i in range(jax.process_count()):
        left_ms = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            got = client.blocking_key_value_get(f"{key}/{i}", left_ms)
        except Exception as e:  # (jaxlib's error: deadline exceeded, or the job went away)
            raise RunDirError(
                f"process {i} did not reach the run-directory agreement within "
                f"{AGREE_TIMEOUT} s ({' '.join(str(e).split())[:300]})"
            ) from e
        rows.append([int(v) for v in got.split(",")])
    return np.array(rows, dtype=np.int64)


def fail_together() -> None:
    """Take part in ``check_agree`` as a process that cannot start.

    A process of a multi-process job that fails before the run-directory agreement (a
    wrong ``--resume`` folder, a locked or non-empty ``--out``, data it cannot read) would
    otherwise exit while the others wait for it in that agreement until it times out; so
    it joins the agreement with a problem and no run directory, the others stop with
    "processes [i] cannot ..." and every process exits. A no-op with one process, or once
    the agreement was entered."""
    if jax.process_count() == 1 or _agreements:
        return
    # what it raises back is this process's own problem (already said), or, where another
    # process died first, the agreement's timeout: either way this process just exits
    with contextlib.suppress(Exception):
        check_agree(
            None, None, None, None, start=0, end=0, seed=0, problem=RunDirError("cannot start")
        )


def host_key() -> int:
    """A 31-bit name for the memory this process shares with others: the running kernel's
    boot id (processes that read the same /proc/meminfo, containers included), else the
    host name."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            name = f.read().strip()
    except OSError:
        name = ""
    name = name or socket.gethostname()
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little") & 0x7FFFFFFF


ONE_VMAP = 2**31 - 1
"""How the agreement writes a chunk size of None (the whole per-device population in one
vmap): above any chunk, so the smallest chunk wins."""


def check_agree(
    run: RunDir | None,
    evolution: Any,
    task: Any,
    initial_params: Any,
    *,
    start: int,
    end: int,
    seed: int,
    problem: Exception | None = None,
    chunk: Callable[[int], int | None] | None = None,
) -> int | None:
    """Before any process writes: no two processes share one run directory (their
    checkpoints and logs would interleave; on different hosts the run lock does not see
    it), and all start at the same generation, stop at the same one, with the same seed and
    the same evolution (``fingerprint``, computed only with several processes). Every
    process raises the same error, so none is left waiting. ``problem`` is what this
    process found wrong with its own run directory (raised here, not before: with several
    processes the others raise too instead of waiting for it); a process with a problem
    needs no run directory or evolution (``fail_together``). Exchanged through the
    coordination service (``_exchange``), not device collectives.

    ``chunk``: called with the number of the job's processes on this host (which share its
    memory), it returns this process's chunk size (None: one vmap; an "auto" one chosen
    for that memory) or raises where not even one candidate fits (a problem, as above).
    The processes must run one program, but each one's free memory (or its --chunk-size)
    may differ, so all take the smallest chunk any of them chose, which is returned (None:
    one vmap; also None without ``chunk``)."""
    global _agreements
    if jax.process_count() == 1:
        if problem is None and chunk is not None:
            return chunk(1)
        if problem is not None:
            raise problem
        return None
    digest = 0 if problem is not None else fingerprint(evolution, task, initial_params)
    try:
        launched = _exchange("launch", [time.time_ns() % 2**31, host_key()])
        launch = int(launched[0, 0])  # process 0's
        mine = f".process-{jax.process_index()}"
        if run is not None:
            run.file(mine).write_text(f"{launch}\n")
        _exchange("markers", [1])  # every process's marker is written
        shared = run is not None and any(
            p.name != mine and p.read_text().strip() == str(launch)
            for p in run.path.glob(".process-*")
        )
        chosen: int | None = None
        if problem is None and chunk is not None:
            on_host = int((launched[:, 1] == launched[jax.process_index(), 1]).sum())
            try:
                chosen = chunk(on_host)
            except (ValueError, RuntimeError) as e:  # not even one candidate fits, or JAX
                problem = e  # could not compile the analysis: every process stops with it
        mine_row = [start, end, seed % 2**31, digest, int(shared), int(problem is not None)]
        rows = _exchange("rows", [*mine_row, ONE_VMAP if chosen is None else chosen])
    finally:
        _agreements += 1
    if rows[:, 4].any():
        where = [i for i, r in enumerate(rows) if r[4]]
        raise RunDirError(
            f"processes {where} write the same run directory ({getattr(run, 'path', None)} on "
            f"process {jax.process_index()}); give each process its own --out"
        )
    if rows[:, 5].any():  # before the comparisons: its own reason is the clearer one
        if problem is not None:
            raise problem
        where = [i for i, r in enumerate(rows) if r[5]]
        raise RunDirError(
            f"processes {where} cannot resume their run directories or cannot start (each "
            "says why); no process starts"
        )
    if (rows[:, 0] != rows[0, 0]).any() or (rows[:, 2] != rows[0, 2]).any():
        raise RunDirError(
            f"the {len(rows)} processes would start from generations {rows[:, 0].tolist()} "
            f"with seeds {rows[:, 2].tolist()}; each must resume from the same checkpoint "
            f"(copy one process's checkpoint into every process's run directory)"
        )
    if (rows[:, 1] != rows[0, 1]).any():
        raise RunDirError(
            f"the {len(rows)} processes would stop at generations {rows[:, 1].tolist()}; "
            f"give them all the same --generations"
        )
    if (rows[:, 3] != rows[0, 3]).any():
        groups = {int(d): [i for i, r in enumerate(rows) if r[3] == d] for d in rows[:, 3]}
        raise RunDirError(
            f"the {len(rows)} processes would evolve different things (processes "
            f"{list(groups.values())} agree among themselves): the same settings, data and "
            f"code are needed on every process"
        )
    agreed = int(rows[:, 6].min())
    return None if agreed == ONE_VMAP else agreed


class StopVote:
    """When to stop early, agreed by every process after each generation.

    A time limit is measured by each process's own clock, and a Ctrl-C or SIGTERM reaches
    the processes at different moments; acting on either alone would stop one process
    while the others wait for it in the next generation's collectives. So, with several
    processes, the signals only raise a flag here (a second signal to the same process
    stops it at once, as usual), and after each generation all processes stop together if
    any of them asks to. With one process, a signal raises KeyboardInterrupt at once, as
    usual, and also raises the flag: where the KeyboardInterrupt is swallowed (it can land
    in a garbage-collector callback of JAX's, which Python only prints as "Exception
    ignored"), the run still stops after the generation, checkpointed.
    """

    def __init__(self) -> None:
        self.multi = jax.process_count() > 1
        self.signalled = False

    @contextmanager
    def catching_signals(self) -> Iterator[StopVote]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def note(signum: int, frame: object) -> None:
            if self.signalled or not self.multi:
                self.signalled = True
                raise KeyboardInterrupt
            self.signalled = True

        # With one process, only a signal that already stops the run by an exception (Ctrl-C;
        # SIGTERM under the tdca command) is taken over: one that is ignored, or that ends a
        # user's script outright, keeps doing so.
        # SIGHUP only where the tdca command made it a stop (not ignored under nohup).
        always = (signal.SIGINT, signal.SIGTERM) if self.multi else ()
        hangup = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
        taken = [
            s
            for s in (signal.SIGINT, signal.SIGTERM, *hangup)
            if s in always or callable(signal.getsignal(s))
        ]
        previous = {s: signal.signal(s, note) for s in taken}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def __call__(self, out_of_time: bool) -> tuple[bool, bool]:
        """(interrupted, out of time), each true on every process if true on any."""
        if not self.multi:
            return self.signalled, out_of_time
        from jax.experimental import multihost_utils

        votes = np.asarray(
            multihost_utils.process_allgather(
                np.array([self.signalled, out_of_time], dtype=np.int32)
            )
        )
        interrupted, late = votes.any(axis=0)
        return bool(interrupted), bool(late)
