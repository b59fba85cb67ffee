"""Driving an evolution: progress (tdca.terminal), per-generation log, checkpoints, resume.

Generation g uses the key ``fold_in(PRNGKey(seed), g)``, so a run resumed from the
checkpoint of generation g continues exactly as the uninterrupted run would have: on the
same device the results are bit for bit the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tdca.evolution import processes
from tdca.evolution.pgpe import Evolution
from tdca.files import atomic_file
from tdca.io import ArtifactError, load_pytree, save_pytree
from tdca.rundir import RunDir, RunDirError
from tdca.tasks.base import Task
from tdca.terminal import evolution_progress

CHECKPOINT = "checkpoint.npz"
HISTORY = "metrics.jsonl"


@dataclass
class EvolutionResult:
    state: Any
    params: Any
    generation: int
    history: list[dict[str, Any]]
    interrupted: bool


def config_for_resume(
    run: RunDir,
    saved: Any,
    *,
    given: Any = None,
    extend_to: int | None = None,
    free: tuple[str, ...] = ("data_dir",),
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
                f"{extend_to} would shorten it (stop a run early with Ctrl-C, or tdca evolve's "
                "--time-limit; it resumes from its checkpoint)"
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


OWN_KIND = "evolve"
"""config.json's "experiment" for a run whose caller wrote no config of its own."""


def _own_config(run: RunDir, cfg: Any, seed: int) -> RunDirError | None:
    """Give a run started by a caller of its own (a user's task, say) the config.json that
    ``RunDir(out, resume=True)`` needs, so a new process can resume it; resuming such a run
    with other PGPE settings or another seed is refused, as ``tdca evolve`` refuses it.
    Callers that write their own config (``tdca evolve``, ``tdca gaussian``) check theirs."""
    if not run.file("config.json").exists():
        run.write_config({"experiment": OWN_KIND, "seed": seed, "es": cfg.to_dict()})
        return None
    saved = run.read_json("config.json")
    if not isinstance(saved, dict) or saved.get("experiment") != OWN_KIND:
        return None
    a = _comparable({"seed": saved.get("seed"), "es": saved.get("es") or {}}, ())
    b = _comparable({"seed": seed, "es": cfg.to_dict()}, ())
    if a == b:
        return None
    return RunDirError(
        f"{run.path} was started with seed {a['seed']} and PGPE settings {a['es']}, "
        f"not seed {b['seed']} and {b['es']} (the generation count may change); "
        "start a new run for new settings"
    )


def _config_digest(run: RunDir) -> str | None:
    """A hash of the run's config.json without what a resume may change (generation count,
    data folder, code versions): a checkpoint records it, so that a resume under an edited
    config.json, or with another run's checkpoint, is refused rather than mixed."""
    path = run.file("config.json")
    saved = run.read_json("config.json") if path.exists() else None
    if not isinstance(saved, dict):
        return None
    kept = _comparable(saved, ("data_dir", "earlier_code_versions"))
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def _write_history(run: RunDir, rows: list[dict[str, Any]]) -> None:
    with atomic_file(run.file(HISTORY), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


def _key_for(seed: int, generation: int) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(seed), generation)


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
) -> EvolutionResult:
    """Run ``evolution.config.generations`` generations (or continue a checkpointed run).

    ``stop_after`` ends this call after that many generations of its own, as an
    interruption would (the run can then be resumed); a Ctrl-C does the same.
    ``time_limit`` (seconds) ends it early but as a finished result at the generation
    reached (the caller writes its artifacts), still checkpointed so that ``--resume``
    continues towards ``generations``: how a run spans several fixed-length GPU leases.
    ``keep`` = (every, fn) calls ``fn(generation, search centre, that generation's log row)``
    after every ``every``-th generation, so that a caller can keep the centre of several
    points of one run (e.g. to choose the generation count on a validation split).
    """
    if keep is not None and keep[0] < 1:
        raise ValueError(f"keep every must be >= 1 generation, got {keep[0]}")
    cfg = evolution.config
    # What is wrong with this run directory is raised by check_agree, on every process at
    # once (with several processes, one raising alone would leave the others waiting).
    problem: Exception | None = _own_config(run, cfg, seed)
    state = evolution.init(jax.random.PRNGKey(seed), initial_params)
    start = 0
    digest = _config_digest(run)
    if problem is None and resume and run.file(CHECKPOINT).exists():
        state, meta = load_pytree(run.file(CHECKPOINT), state)
        if meta.get("seed") != seed:
            raise ArtifactError(f"{run.file(CHECKPOINT)}: written with seed {meta.get('seed')}")
        if meta.get("config_digest", digest) != digest:  # checkpoints before 2026-12-03: none
            problem = ArtifactError(
                f"{run.file(CHECKPOINT)}: written under another config.json than the one in "
                f"{run.path} now (edited, or the checkpoint comes from another run); resuming "
                "would mix two runs' settings in one result. Restore that config.json or "
                "start a new run"
            )
        start = int(meta["generation"])
        run.log(f"resumed from generation {start}")
    elif problem is None and resume and (logged := read_history(run.path)):
        problem = RunDirError(
            f"{run.file(CHECKPOINT)}: missing, but {HISTORY} logs {len(logged)} generations; "
            "resuming would silently start again from generation 0. Restore the checkpoint, "
            "or start a new run"
        )
    history = _read_history(run, start)
    if problem is None and [r.get("generation") for r in history] != list(range(start)):
        problem = RunDirError(
            f"{run.file(HISTORY)}: logs {len(history)} of the {start} generations before the "
            "checkpoint; resuming would rewrite the run's curves (and first fitness) without "
            "them. Restore the file, or start a new run"
        )
    end = cfg.generations if stop_after is None else min(cfg.generations, start + stop_after)
    processes.check_agree(
        run, evolution, task, initial_params, start=start, end=end, seed=seed, problem=problem
    )
    _write_history(run, history)

    def checkpoint(generation: int) -> None:
        # Every process, into its own run directory: each resumes from its own checkpoint.
        meta = {"generation": generation, "seed": seed, "config_digest": digest}
        save_pytree(run.file(CHECKPOINT), state, meta)

    generation = start
    interrupted = False
    t_start = time.perf_counter()
    vote = processes.StopVote()  # several processes stop together, or not at all
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
                if keep is not None and generation % keep[0] == 0:
                    keep[1](generation, evolution.mean(state), row)
                if generation % cfg.checkpoint_every == 0 or generation == cfg.generations:
                    checkpoint(generation)
                late = time_limit is not None and time.perf_counter() - t_start > time_limit
                interrupted, late = vote(late)
                if interrupted or late:
                    break
        except KeyboardInterrupt:
            interrupted = True
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
    return EvolutionResult(state, evolution.mean(state), generation, history, interrupted)
