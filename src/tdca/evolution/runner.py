"""Driving an evolution: progress (tdca.terminal), per-generation log, checkpoints, resume.

Generation g uses the key ``fold_in(PRNGKey(seed), g)``, so a run resumed from the
checkpoint of generation g continues exactly as the uninterrupted run would have: on the
same device the results are bit for bit the same. Work outside the evolution that must
not share its randomness (an initial credit network, validation and test seeds) draws from
``stream_key``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tdca.evolution import processes
from tdca.evolution.pgpe import Evolution
from tdca.files import atomic_file
from tdca.inner import InnerLoop
from tdca.io import ArtifactError, load_pytree, save_pytree
from tdca.rundir import RunDir, RunDirError
from tdca.tasks.base import Task
from tdca.terminal import evolution_progress

CHECKPOINT = "checkpoint.npz"
HISTORY = "metrics.jsonl"


class GenerationFailed(RuntimeError):
    """A generation's computation failed on the device (out of memory, or, with several
    processes, a collective whose peer has gone); the message says which generation and
    from which checkpoint ``--resume`` continues. Raised from JAX's own error."""


@dataclass
class EvolutionResult:
    state: Any
    params: Any
    generation: int
    history: list[dict[str, Any]]
    interrupted: bool
    saved_centre_fitness: float | None = None
    """The fitness of ``params`` (the centre the run ended on, which callers save), scored
    with the key of the generation that would come next; None for an interrupted run. The
    last row's ``centre_fitness`` scores the centre one update earlier."""
    chunk_size: int | None = None
    """Candidates evaluated at a time per device in this session (None: all in one vmap,
    also where the chunk given holds the whole per-device population)."""

    def summary(self, population: int, seconds: float) -> dict[str, Any]:
        """What an experiment's metrics.json says of its evolution: where it ended, and
        how many candidates diverged along the way (``seconds``: this session's time)."""
        last = self.history[-1] if self.history else {}
        return {
            "generations": self.generation,
            "population": population,
            # the centre the last generation started from (its row); the saved one is next
            "final_centre_fitness": last.get("centre_fitness"),
            "saved_centre_fitness": self.saved_centre_fitness,
            "final_best_fitness": last.get("best_fitness"),
            "diverged_total": int(sum(r["diverged"] for r in self.history)),
            "devices_by_generation": devices_by_generation(self.history),
            "chunk_size": self.chunk_size,
            "chunk_size_by_generation": chunk_size_by_generation(self.history),
            "seconds_this_session": round(seconds, 2),
        }


def devices_by_generation(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many devices the population was sharded over, as runs of generations
    (``{"from": 0, "to": 49, "devices": 1}``, both ends included): a run resumed on another
    machine says so. ``devices`` is None for rows logged before the count was recorded."""
    return _spans(history, "devices", "devices", None)


def chunk_size_by_generation(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many candidates each device evaluated at a time, as runs of generations
    (``{"from": 0, "to": 49, "chunk_size": 4}``; None: the whole population in one vmap):
    a resume may change it, and chunked fitnesses may differ from unchunked ones in the
    last bit. "unrecorded" for rows logged before it was recorded (2026-12-07)."""
    return _spans(history, "chunk", "chunk_size", "unrecorded")


def _spans(
    history: list[dict[str, Any]], key: str, name: str, missing: Any
) -> list[dict[str, Any]]:
    """Runs of generations over which the rows' ``key`` stayed the same, as ``name``."""
    spans: list[dict[str, Any]] = []
    for row in history:
        value, generation = row.get(key, missing), row.get("generation")
        if spans and spans[-1][name] == value:
            spans[-1]["to"] = generation
        else:
            spans.append({"from": generation, "to": generation, name: value})
    return spans


def open_run(
    out: str | Path,
    kind: str,
    cfg: Any,
    from_dict: Callable[[dict[str, Any]], Any],
    *,
    resume: bool,
    extend_to: int | None,
    write: bool = True,
) -> tuple[RunDir, Any]:
    """An experiment's run directory and the config it runs with: ``cfg`` for a new run;
    on ``resume`` the saved one (``config_for_resume``, ``cfg`` may be None or must agree).
    The config is logged and written to config.json; with ``write=False`` it is not, and
    the caller passes ``cfg.to_dict()`` as ``evolve``'s ``config``, which writes it only
    once the run directory's checks pass (so a refused resume changes nothing). ``cfg``
    has ``to_dict``."""
    run = RunDir(out, resume=resume, kind=kind)
    if resume:
        saved, _ = run.saved_config(from_dict)
        cfg = config_for_resume(run, saved, given=cfg, extend_to=extend_to)
    elif cfg is None:
        raise ValueError("a new run needs a config")
    if write:
        run.write_config(cfg.to_dict())
    run.log(f"{kind} run: {cfg.to_dict()}")
    return run, cfg


def config_for_resume(
    run: RunDir,
    saved: Any,
    *,
    given: Any = None,
    extend_to: int | None = None,
    free: tuple[str, ...] = ("data_dir", "plugins"),
) -> Any:
    """The config a resumed run continues with: ``saved``, the one ``run`` was started with
    (parsed by the caller, who may need more of that file).

    ``extend_to`` raises its generation count (to extend a finished run); asking for fewer
    generations than it was configured for is refused (``--time-limit`` stops a run early).
    ``given``, when a caller has a config of its own (a cache of evolutions, say), must
    agree with the saved one except for the generation count and the ``free`` fields (such
    as where the data is read): resuming someone else's run is refused, never silently done.
    """
    if given is not None:
        a, b = _comparable(saved.to_dict(), free), _comparable(given.to_dict(), free)
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if differ:
            raise RunDirError(
                f"{run.path} was started with another config ({', '.join(differ)} differ: "
                f"saved {[a.get(k) for k in differ]}, asked {[b.get(k) for k in differ]}); "
                "resume it without a config of your own, or start a new run"
            )
    if extend_to is not None:
        if extend_to < saved.es.generations:
            raise ValueError(
                f"{run.path} is configured for {saved.es.generations} generations; --generations "
                f"{extend_to} would shorten it (stop a run early with Ctrl-C, or --time-limit "
                "where the command has it; it resumes from its checkpoint)"
            )
        saved = replace(saved, es=replace(saved.es, generations=extend_to))
    return saved


def _comparable(config: dict[str, Any], free: tuple[str, ...]) -> dict[str, Any]:
    """A config as JSON values, without the fields a resumed run may change."""
    d = json.loads(json.dumps(config))
    d.get("es", {}).pop("generations", None)
    d.pop("code_version", None)
    for name in free:
        d.pop(name, None)
    return d


OWN_KIND = "custom-evolution"
"""config.json's "experiment" for a run whose caller wrote no config of its own."""


def _inner_record(inner: Any, task: Any) -> dict[str, Any] | None:
    """What an evolution's inner loop is, as far as config.json can say it: the strategy's
    class and settings (its credit layout, anchoring, ...), the step count, the rate (or,
    for an optimizer given, a probe of what it does) and ``fitness_last``. None for an
    evaluator of the user's own, which the run cannot describe."""
    loop = getattr(inner, "loop", inner)  # MeanOverTasks (the "All" fitness) wraps one
    if not isinstance(loop, InnerLoop):
        return None
    record = {  # plain numbers: a numpy rate would not go through json.dumps
        "strategy": type(loop.strategy).__name__,
        "strategy_settings": _settings(loop.strategy),
        "steps": int(loop.steps),
        "fitness_last": int(loop.fitness_last),
    }
    if loop.optimizer is None:
        return record | {"lr": float(loop.lr)}
    probe = _optimizer_probe(loop.optimizer, task[0] if isinstance(task, tuple) else task)
    return record | {"optimizer": "given"} | ({"optimizer_probe": probe} if probe else {})


PERFORMANCE_ONLY = ("kernel", "tiling")
"""Strategy fields that change how fast a step runs, not what it computes."""


def _settings(obj: Any) -> Any:
    """A strategy's settings as JSON values: numbers, strings, layouts (``describe``) and
    nested dataclasses such as its credit network's sizes; arrays and callables, which
    config.json cannot hold, are left out (None)."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    if callable(getattr(obj, "describe", None)):
        return obj.describe()
    if isinstance(obj, tuple | list):
        items = [_settings(v) for v in obj]
        return (
            None
            if any(v is None and o is not None for v, o in zip(items, obj, strict=True))
            else items
        )
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _settings(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {k: v for k, v in fields.items() if v is not None and k not in PERFORMANCE_ONLY}
    return None


PROBE_RTOL = 1e-4
"""How far two probes of one optimizer may differ (float32 steps on other devices differ
near the 7th digit; other optimizers or rates differ by far more)."""


def _optimizer_probe(tx: Any, task: Any) -> list[float] | None:
    """What an optax optimizer does, in six numbers: over three steps with changing fixed
    gradients on the task's parameter shapes, the summed size of each update and its sum
    weighted by a fixed pattern (signs matter: sign-SGD and Lion differ there). A probe,
    not a proof: optax's usual optimizers, their rates and betas differ in it (measured);
    two optimizers that step alike on these gradients do not. None where it cannot run
    (an optimizer whose update needs more arguments, a task without ``init_params``)."""
    try:
        shapes = jax.eval_shape(task.init_params, jax.random.PRNGKey(0))
        leaves, treedef = jax.tree.flatten(shapes)

        def pattern(f: Callable[[np.ndarray], np.ndarray]) -> Any:
            return treedef.unflatten(
                [f(np.arange(1, a.size + 1)).reshape(a.shape).astype(a.dtype) for a in leaves]
            )

        weights = pattern(lambda i: np.cos(5 * i))
        params = pattern(lambda i: 10 * np.sin(i))
        state = tx.init(params)
        numbers = []
        for f in (np.sin, lambda i: 3 * np.cos(2 * i), lambda i: 0.1 * np.sin(3 * i) + 0.05):
            updates, state = tx.update(pattern(f), state, params)
            pairs = zip(jax.tree.leaves(updates), jax.tree.leaves(weights), strict=True)
            u, w = zip(*((np.asarray(u, np.float64), np.asarray(w)) for u, w in pairs), strict=True)
            numbers += [sum(float(np.abs(a).sum()) for a in u)]
            numbers += [sum(float((a * b).sum()) for a, b in zip(u, w, strict=True))]
    except Exception:  # a probe only: an optimizer it cannot run is not refused for that
        return None
    return numbers if all(np.isfinite(numbers)) else None


def _probes_differ(then: Any, now: Any) -> bool:
    """Two unequal optimizer probes (``_differing`` found them so) beyond float rounding."""
    if not (isinstance(then, list) and isinstance(now, list)) or len(then) != len(now):
        return True
    return not np.allclose(then, now, rtol=PROBE_RTOL, atol=1e-12)


def _own_config(run: RunDir, evolution: Evolution, task: Any, seed: int) -> RunDirError | None:
    """Give a run started by a caller of its own (a user's task, say) the config.json that
    ``RunDir(out, resume=True)`` needs, so a new process can resume it; resuming such a run
    with other PGPE settings, another inner loop (steps, rate, strategy) or another seed is
    refused, as ``tdca evolve`` refuses it, and so is one on another task (other data or
    settings: ``processes.tree_digest``). Callers that write their own config (``tdca
    evolve``, ``tdca gaussian``) check theirs."""
    cfg, inner = evolution.config, _inner_record(evolution.inner, task)
    now = {"seed": seed, "es": cfg.to_dict()} | ({"inner": inner} if inner else {})
    now["task_digest"] = processes.tree_digest(task)  # of its arrays and static settings
    if not run.file("config.json").exists():
        run.write_config({"experiment": OWN_KIND, **now})
        return None
    saved = run.read_json("config.json")
    if not isinstance(saved, dict) or saved.get("experiment") != OWN_KIND:
        return None
    then = {k: saved.get(k) for k in ("seed", "es", "inner", "task_digest") if k in saved}
    differ = _differing(then, now)
    probes = differ.pop("inner.optimizer_probe", None)  # unequal: within float rounding?
    if probes is not None and _probes_differ(*probes):
        differ["inner.optimizer_probe"] = probes
    if not differ:
        return None
    task_note = (
        "; the task's data or settings differ from those the run started on"
        if "task_digest" in differ
        else ""
    )
    return RunDirError(
        f"{run.path} was started with other settings ({_described(differ)}{task_note}; the "
        "generation count may change); start a new run for new settings"
    )


def _resumable_config(run: RunDir, config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's config (``config``, the one it runs with now, or else its config.json)
    without what a resume may change (generation count, data folder, its plugins' place and
    code, tdca's code version), flattened to dotted keys: a checkpoint records it, so that a
    resume under an edited config.json, or with another run's checkpoint, is refused rather
    than mixed."""
    if config is None:
        path = run.file("config.json")
        config = run.read_json("config.json") if path.exists() else None
    if not isinstance(config, dict):
        return None
    free = ("data_dir", "plugins", "plugin_digests", "earlier_code_versions")
    return _flat(_comparable(config, free))


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """A config as dotted keys (``es.population``); anything but a dict has none."""
    if not isinstance(d, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _differing(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """The settings two configs both have and give different values; a setting only one of
    them has (one that newer code added with its default) does not count."""
    fa, fb = _flat(json.loads(json.dumps(a))), _flat(json.loads(json.dumps(b)))
    fa.pop("es.generations", None)
    fb.pop("es.generations", None)
    return {k: (fa[k], fb[k]) for k in sorted(fa.keys() & fb.keys()) if fa[k] != fb[k]}


def _described(differ: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in differ.items())


def _write_history(run: RunDir, rows: list[dict[str, Any]]) -> None:
    with atomic_file(run.file(HISTORY), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


def _checkpoint_problem(
    run: RunDir, meta: dict[str, Any], seed: int, config: dict[str, Any] | None
) -> Exception | None:
    """Why this checkpoint cannot continue this run (None if it can): another seed, or
    written under a config.json whose settings differ from the one there now (checkpoints
    written before 2026-12-03 record none and are taken as they are)."""
    if meta.get("seed") != seed:
        return ArtifactError(f"{run.file(CHECKPOINT)}: written with seed {meta.get('seed')}")
    saved = meta.get("config")
    differ = _differing(saved, config) if isinstance(saved, dict) and config else {}
    if differ:
        return ArtifactError(
            f"{run.file(CHECKPOINT)}: written under another config.json than the one in "
            f"{run.path} now ({_described(differ)}): edited, or the checkpoint comes from "
            "another run; resuming would mix two runs' settings in one result. Restore "
            "that config.json, or start a new run"
        )
    return None


def _lost_checkpoint_problem(run: RunDir, cfg: Any) -> RunDirError | None:
    """Why a resume without a checkpoint must not start again from generation 0 (None
    where that is the resume). A checkpoint is written every ``checkpoint_every``
    generations, at the end, and whenever a run stops (Ctrl-C, SIGTERM, time limit); only
    a hard kill before the first of these leaves logged generations without one."""
    logged = [r.get("generation") for r in read_history(run.path)]
    last = max((g for g in logged if isinstance(g, int)), default=-1)
    if last < 0:
        return None
    had_one = (
        last >= cfg.checkpoint_every  # that checkpoint was written before this row
        or run.file("metrics.json").exists()  # the run finished (or met its time limit)
        or "checkpoint saved" in _text(run.file("log.txt"))  # it was stopped
    )
    if not had_one:
        run.log(f"no checkpoint yet ({len(logged)} generations logged): from generation 0")
        return None
    return RunDirError(
        f"{run.file(CHECKPOINT)}: missing, but this run wrote one ({HISTORY} logs "
        f"{len(logged)} generations); resuming would silently start again from generation "
        "0. Restore the checkpoint, or start a new run"
    )


def _failed(
    run: RunDir,
    generation: int,
    saved: int | None,
    error: Exception,
    checkpoint: Callable[[int], None],
    at_once: int,
) -> GenerationFailed:
    """What to say (and log) when generation ``generation`` failed on the device. Alone, a
    process checkpoints the generations it finished first (its state is whole: a failed
    step replaces nothing, and nothing is donated). With several processes it does not:
    they checkpoint at the same generations, and a survivor saving a later one than the
    process that died would make their resume disagree. Out of memory, it says what needs
    less: fewer than the ``at_once`` candidates each device evaluated at a time."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    said = f"generation {generation} failed: {first}"
    if jax.process_count() > 1:
        said += (
            f" (process {jax.process_index()} of {jax.process_count()}: a collective failing "
            "usually means another process stopped, killed or out of memory; its log says "
            "why)"
        )
    elif saved != generation:
        try:
            checkpoint(generation)
            saved = generation
        except Exception as e:  # the device may be unusable now: say where the last one is
            said += f"; saving generation {generation}'s checkpoint failed too ({e})"
    if saved is None:
        said += "; no checkpoint was written yet, so resuming starts again from generation 0"
    else:
        said += f"; resuming continues from the checkpoint of generation {saved}"
    if "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower():
        said += f". Each device evaluated {at_once} candidate(s) at a time; " + (
            "a smaller training set or network needs less memory, or a device with more"
            if at_once == 1
            else f"resume with fewer (--chunk-size K, K < {at_once}; Evolution(chunk_size=K))"
        )
    run.log(said)
    return GenerationFailed(f"{run.path}: {said}")


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _key_for(seed: int, generation: int) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(seed), generation)


RESERVED_GENERATION = 2**32 - 1
"""A generation index no run reaches (fold_in takes 32 bits): its key is the root of
``stream_key``, so no generation's key, nor a key split from one, is a stream's."""


def stream_key(seed: int, stream: int) -> jax.Array:
    """A key for work beside the evolution of ``seed`` (stream 1, 2, ...: e.g. the initial
    credit network, validation seeds, test seeds) that no generation's key equals.

    Why not ``fold_in(PRNGKey(seed), stream)``: that *is* generation ``stream``'s key, and
    ``split(k, n)[i] == fold_in(k, i)``, so test seeds drawn that way at stream 2000 would
    replay the episodes of generation 2000's population in a 3,000-generation run.
    """
    root = jax.random.fold_in(jax.random.PRNGKey(seed), RESERVED_GENERATION)
    return jax.random.fold_in(root, stream)


def read_history(folder: Path) -> list[dict[str, Any]]:
    """A run's per-generation records (metrics.jsonl), skipping a line an interruption cut;
    [] when it has none."""
    path = Path(folder) / HISTORY
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
    return rows


def _read_history(run: RunDir, upto: int) -> list[dict[str, Any]]:
    """Generations before ``upto`` (later lines were not checkpointed)."""
    return [r for r in read_history(run.path) if r.get("generation", upto) < upto]


def evolve(
    evolution: Evolution,
    task: Task,
    initial_params: Any,
    run: RunDir,
    *,
    seed: int,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    label: str = "evolving",
    time_limit: float | None = None,
    keep: tuple[int, Callable[[int, Any, dict[str, Any]], None]] | None = None,
    config: dict[str, Any] | None = None,
    notes: tuple[str, ...] = (),
) -> EvolutionResult:
    """Run ``evolution.config.generations`` generations (or continue a checkpointed run).

    ``stop_after`` ends this call after that many generations of its own, as an
    interruption would (the run can then be resumed); a Ctrl-C does the same.
    ``time_limit`` (seconds) ends it early but as a finished result at the generation
    reached (the caller writes its artifacts), still checkpointed so that ``--resume``
    continues towards ``generations``: how a run spans several fixed-length GPU leases.
    ``keep`` = (every, fn) calls ``fn(generation, search centre, its fitness)`` after every
    ``every``-th generation, so that a caller can keep the centre of several points of one
    run (e.g. to choose the generation count on a validation split); the fitness is
    ``Evolution.centre_fitness``'s, as for the result's ``saved_centre_fitness``.
    ``config`` is the experiment's config, written to config.json only once every check on
    the run directory has passed: a refused resume (another run's checkpoint, an edited
    network) leaves the saved config as it was, not half-updated with the refused one's
    generation count or plugin record. Without it, a new run gets a config.json of its own
    (``OWN_KIND``) and a caller that wrote its own keeps it. ``notes`` (what a resume
    changes, e.g. plugins it records from now on) go to the log and out as RuntimeWarnings
    at the same point, so a refused resume never says it went on.
    """
    if keep is not None and keep[0] < 1:
        raise ValueError(f"keep every must be >= 1 generation, got {keep[0]}")
    cfg = evolution.config
    # What is wrong with this run directory is raised by check_agree, on every process at
    # once (with several processes, one raising alone would leave the others waiting).
    problem: Exception | None = _own_config(run, evolution, task, seed) if config is None else None
    if problem is None and (cache_problem := processes.compilation_cache_problem()):
        problem = ValueError(cache_problem)  # before the first collective could hang
    chunk_auto = evolution.chunk_auto
    state = evolution.init(jax.random.PRNGKey(seed), initial_params)
    start = 0
    saved: int | None = None  # the generation of this run's checkpoint on disk
    to_write, config = config, _resumable_config(run, config)
    if problem is None and resume and run.file(CHECKPOINT).exists():
        try:
            loaded, meta = load_pytree(run.file(CHECKPOINT), state)
            generation = meta.get("generation") if isinstance(meta, dict) else None
            if not (isinstance(generation, int) and 0 <= generation <= cfg.generations):
                raise ArtifactError(f"{run.file(CHECKPOINT)}: records no usable generation")
        except ArtifactError as e:
            problem = e
        else:
            problem = _checkpoint_problem(run, meta, seed, config)
            state, start = loaded, generation
            saved = generation
    elif problem is None and resume:
        problem = _lost_checkpoint_problem(run, cfg)
    history = _read_history(run, start)
    if problem is None and [r.get("generation") for r in history] != list(range(start)):
        problem = RunDirError(
            f"{run.file(HISTORY)}: logs {len(history)} of the {start} generations before the "
            "checkpoint; resuming would rewrite the run's curves (and first fitness) without "
            "them. Restore the file, or start a new run"
        )
    end = cfg.generations if stop_after is None else min(cfg.generations, start + stop_after)
    own_chunk: list[int | None] = []  # this process's chunk size, before the agreement

    def choose_chunk(processes_on_host: int) -> int | None:
        own_chunk.append(evolution.resolve_chunk_size(task, processes_on_host))
        return own_chunk[-1]

    agreed = processes.check_agree(
        run,
        evolution,
        task,
        initial_params,
        start=start,
        end=end,
        seed=seed,
        problem=problem,
        chunk=choose_chunk,
    )
    if own_chunk:
        evolution.chunk_size = agreed  # the smallest any process chose (one program)
    if to_write is not None:
        run.write_config(to_write)
    for note in notes:
        run.log(note)
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    if start:
        run.log(f"resumed from generation {start}")
        before = {r.get("devices") for r in history} - {None}
        if before and before != {evolution.num_devices}:
            counts = " and ".join(map(str, sorted(before)))
            run.log(
                f"the population is now sharded over {evolution.num_devices} device(s); "
                f"generations before {start} ran on {counts} (metrics.json: "
                "devices_by_generation)"
            )
    per_device = evolution.per_device_population
    # what each device really evaluates at once (a chunk as large as its share is one vmap)
    chunk = evolution.chunk_size if (evolution.chunk_size or per_device) < per_device else None
    if chunk is not None:
        why = "the population does not fit the device's free memory in one vmap: "
        run.log(
            f"{why if chunk_auto else ''}each device evaluates {chunk} "
            f"candidates at a time (chunk_size{'' if chunk_auto else ', as given'})"
        )
        if own_chunk and own_chunk[0] != evolution.chunk_size:
            run.log(
                f"(this process alone would evaluate {own_chunk[0] or 'all its'} candidates at "
                "a time; every process runs the smallest chunk any of them chose)"
            )
    _write_history(run, history)

    def checkpoint(generation: int) -> None:
        # Every process, into its own run directory: each resumes from its own checkpoint.
        nonlocal saved
        meta = {"generation": generation, "seed": seed, "config": config}
        save_pytree(run.file(CHECKPOINT), state, meta)
        saved = generation

    scored: dict[int, float] = {}  # the centre after generation g: scored once, kept or saved

    def centre_fitness(g: int) -> float:
        if g not in scored:
            scored[g] = evolution.centre_fitness(state, task, _key_for(seed, g))
        return scored[g]

    generation = start
    interrupted = False
    t_start = time.perf_counter()
    vote = processes.StopVote()  # several processes stop together, or not at all
    all_diverged = False  # has a generation had no finite fitness yet (said once)
    with (
        evolution_progress(label, cfg.generations, start, enabled=progress) as advance,
        run.file(HISTORY).open("a") as log,
        vote.catching_signals(),
    ):
        try:
            while generation < end:
                t0 = time.perf_counter()
                new_state, stats = evolution.step(state, task, _key_for(seed, generation))
                stats = {k: np.asarray(v).item() for k, v in stats.items()}
                row = {
                    "generation": generation,
                    **stats,
                    "seconds": round(time.perf_counter() - t0, 4),
                    "devices": evolution.num_devices,  # a resume may run on another count
                    "chunk": chunk,  # and another chunk (chunk_size_by_generation)
                }
                # The row goes into the history before the state counts the generation, so
                # a Ctrl-C anywhere leaves no checkpointed generation without its row.
                history.append(row)
                state, generation = new_state, generation + 1
                log.write(json.dumps(row) + "\n")
                log.flush()
                advance(
                    f"best {stats['best_fitness']:.4g} mean {stats['mean_fitness']:.4g} "
                    f"diverged {stats['diverged']}"
                )
                if stats["diverged"] >= cfg.population and not all_diverged:
                    all_diverged = True
                    said = (
                        f"every candidate diverged in generation {row['generation']} (no finite "
                        "fitness), so the search did not move; look at the data (NaN?), the "
                        "inner-loop rate and the credit network's scale"
                    )
                    run.log(f"warning: {said}")
                    print(f"tdca: warning: {run.path}: {said}", file=sys.stderr)
                if keep is not None and generation % keep[0] == 0:
                    keep[1](generation, evolution.mean(state), centre_fitness(generation))
                if generation % cfg.checkpoint_every == 0 or generation == cfg.generations:
                    checkpoint(generation)
                late = time_limit is not None and time.perf_counter() - t_start > time_limit
                interrupted, late = vote(late)
                if interrupted or late:
                    break
        except KeyboardInterrupt:
            interrupted = True
        except jax.errors.JaxRuntimeError as e:
            at_once = min(evolution.chunk_size or per_device, per_device)
            raise _failed(run, generation, saved, e, checkpoint, at_once) from e
    interrupted = interrupted or vote.signalled  # a signal during the last generation
    if interrupted:  # a Ctrl-C may have cut the log's last line: the rows are all in memory
        _write_history(run, history[:generation])
    if generation < cfg.generations:
        checkpoint(generation)
        timed_out = not interrupted and generation < end
        interrupted = not timed_out
        limit = "of another process" if time_limit is None else f"{time_limit:g} s"
        why = f"time limit {limit} reached" if timed_out else "stopped"
        run.log(f"{why} at generation {generation} of {cfg.generations}; checkpoint saved")
    elif generation > start:
        run.log(f"finished at generation {generation}; checkpoint saved")
    saved_fitness = None if interrupted else centre_fitness(generation)
    return EvolutionResult(
        state,
        evolution.mean(state),
        generation,
        history,
        interrupted,
        saved_fitness,
        chunk,  # resolved above
    )
