"""``tdca task NAME``: evolve a credit network for a task of one's own, then compare it with
the learners that task supports.

The task comes from ``tdca.tasks.register_task`` in a file the command imports first
(``tdca --plugin FILE``). Writes a run directory with config.json (the task's name, its
options and the plugins, so ``tdca task --resume DIR`` rebuilds it), metrics.jsonl,
checkpoint.npz, credit_net.npz, metrics.json, log.txt and figures (evolution fitness;
the task's fitness against inner step for each learner).

The comparison is a fair one, as RL's: each baseline (BP, FA, DFA by default, or learners
of one's own) runs at the inner rate that did best on validation seeds, from a grid of five
rates around the credit network's (grown past an end where the best sat), and every
learner is reported as mean +- std over ``seeds`` test seeds that neither evolution nor
the pick saw. Each seed draws what is random in a learner's run: its start where that is
random (BP's Kaiming weights), FA's and DFA's feedback matrices, and what the task draws
from its keys (mini-batches, episodes); a full-batch task started from zeros gives TDCA
the same number on every seed.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np

from tdca.checks import check_seed, config_fields, is_finite_number, is_integer
from tdca.credit import dfa_like_init
from tdca.credit.artifact import save_credit_net
from tdca.credit.layout import CreditLayout, LayerCredits, check_layout_spec
from tdca.credit.strategies import LEARNERS, TDCA, build_learner, starts_from_zeros
from tdca.credit.strategies.bp import BP
from tdca.evolution import ESConfig, Evolution, evolve, processes, stream_key
from tdca.evolution.runner import config_for_resume
from tdca.experiments.lr_grid import fitness_curves, tune_rate, tuned_rate
from tdca.inner import OPTIMIZERS, InnerLoop, make_optimizer
from tdca.networks.credit_net import check_hidden_widths
from tdca.plugins import PluginError, digest, load_plugins, loaded, recorded_form, where_raised
from tdca.rundir import RUN_METADATA, RunDir, RunDirError, code_version
from tdca.tasks.base import Task
from tdca.tasks.registry import TASKS, build_task

KIND = "task"

# Key streams beside the evolution (``stream_key``: none is a generation's key).
INIT_STREAM = 1  # the credit network evolution starts from
VALIDATION_STREAM = 3  # the baselines' learning-rate pick
TEST_STREAM = 4  # every reported number

CREDIT_INITS = ("random", "dfa")


def default_es(credit_init: str = "random") -> ESConfig:
    """PGPE's settings for a new run: the library's defaults for a random start, and the
    small width ``tdca evolve`` searches with around the DFA-like start."""
    narrow = credit_init == "dfa"
    return ESConfig(
        population=32,
        generations=100,
        sigma_init=0.003 if narrow else 0.1,
        learning_rate=0.001 if narrow else 0.05,
        checkpoint_every=10,
    )


@dataclass(frozen=True)
class TaskConfig:
    """Everything that defines a ``tdca task`` run (saved as config.json)."""

    task: str
    lr: float  # the credit network's inner rate; the baselines' grid is around it
    options: dict[str, Any] = field(default_factory=dict)  # the task builder's keywords
    steps: int = 20
    optimizer: str = "sgd"
    credit_hidden: tuple[int, ...] = (30, 30)
    layout: str = "dense"
    credit_init: str = "random"
    baselines: tuple[str, ...] = ("bp", "fa", "dfa")
    seeds: int = 5
    seed: int = 0
    plugins: tuple[str, ...] = ()  # files or modules that register the task or a learner
    es: ESConfig | None = None  # None: default_es(credit_init), as the command's defaults

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task:
            raise ValueError(f"task must be a registered task's name, got {self.task!r}")
        if not isinstance(self.options, dict) or not all(
            isinstance(k, str) and k.isidentifier() for k in self.options
        ):
            raise ValueError(f"options must map Python names to values, got {self.options!r}")
        try:  # what config.json keeps is what a resume rebuilds the task from
            kept = json.loads(json.dumps(self.options, allow_nan=False))
        except (TypeError, ValueError):
            kept = None
        if kept != self.options:
            raise ValueError(
                f"options must be what config.json keeps as they are (numbers, text, true/"
                f"false, lists and dicts of them; no NaN, no tuples), got {self.options!r}"
            )
        if isinstance(self.lr, bool) or not (is_finite_number(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        object.__setattr__(self, "lr", float(self.lr))  # numpy's too: config.json keeps it
        for name in ("steps", "seeds"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            choose = ", ".join(sorted(OPTIMIZERS))
            raise ValueError(f"optimizer must be one of {choose}, got {self.optimizer!r}")
        if self.credit_init not in CREDIT_INITS:
            raise ValueError(f"credit_init must be one of {CREDIT_INITS}, got {self.credit_init!r}")
        if self.es is None:
            object.__setattr__(self, "es", default_es(self.credit_init))
        if not isinstance(self.es, ESConfig):
            raise ValueError(f"es must be an ESConfig, got {type(self.es).__name__}")
        if not isinstance(self.plugins, tuple) or not all(
            isinstance(p, str) and p.strip() for p in self.plugins
        ):
            raise ValueError(f"plugins must be a tuple of paths or module names: {self.plugins!r}")
        object.__setattr__(self, "plugins", tuple(recorded_form(p) for p in self.plugins))
        if not isinstance(self.baselines, tuple):
            raise ValueError(f"baselines must be a tuple of learner names: {self.baselines!r}")
        if any(b not in LEARNERS for b in self.baselines) and self.plugins:
            load_plugins(self.plugins)  # a learner of one's own, registered by a plugin
        unknown = [b for b in self.baselines if b not in LEARNERS]
        if unknown or len(set(self.baselines)) != len(self.baselines):
            what = f"unknown: {', '.join(unknown)}" if unknown else "one is given twice"
            raise ValueError(
                f"baselines must be learners, each once ({', '.join(LEARNERS)}, or one that "
                f"register_learner added): {list(self.baselines)} ({what})"
            )
        check_hidden_widths(self.credit_hidden)
        check_layout_spec(self.layout)
        check_seed(self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskConfig:
        """A saved config.json; unknown or missing settings are refused (``config_fields``)."""
        d = config_fields(cls, d, metadata=(*RUN_METADATA, "plugin_digests", "task_digest"))
        for name in ("credit_hidden", "baselines", "plugins"):
            d[name] = tuple(d[name])
        d["es"] = ESConfig.from_dict(d["es"])
        return cls(**d)


def rate_grid(lr: float) -> tuple[float, ...]:
    """Five rates around ``lr``, a tenth to ten times it (0.5 -> 0.05, 0.15, 0.5, 1.5, 5):
    the baselines' grid, which ``tune_rate`` grows past an end where the best rate sits."""
    return tuple(lr if f == 1.0 else float(f"{lr * f:.3g}") for f in (0.1, 0.3, 1.0, 3.0, 10.0))


def starting_point(cfg: TaskConfig, task: Task) -> tuple[TDCA, Any]:
    """The credit strategy a run of ``cfg`` evolves on ``task`` and the parameters it
    starts from (random, or the DFA-like rule, which needs a credit network that reads
    [prediction, target] of the output's width)."""
    layout = CreditLayout.parse(cfg.layout, tuple(task.credit_units))
    strategy = TDCA.for_task(task, hidden=cfg.credit_hidden, layout=layout)
    key = stream_key(cfg.seed, INIT_STREAM)
    if cfg.credit_init == "random":
        return strategy, strategy.init(key)
    width, outputs = task.credit_input_dim, layout.units[-1]
    if width != 2 * outputs:
        raise ValueError(
            f"--credit-init dfa starts from the rule B (target - prediction), so the credit "
            f"network must read [prediction, target], twice the output's {outputs} units; "
            f"task {cfg.task!r} gives it {width} inputs (use credit_init random: "
            "--credit-init random)"
        )
    dense = CreditLayout(tuple(LayerCredits(lc.num_credits) for lc in layout.layers))
    # Diffused layouts get DFA on their credit centres (for dense ones the view is the same).
    return strategy, dfa_like_init(TDCA(strategy.net, dense), key, task.credit_input_dim // 2)


def _one_inner_loop(cfg: TaskConfig, task: Task) -> tuple[TDCA, Any]:
    """Trace (not compile) one inner loop of the run's start on ``task``, so that a task
    whose parts do not fit together (a credit_input_dim its credit_state does not give, a
    shape error in its own code) is refused before the run directory exists; the start
    (``starting_point``), which the run then evolves from."""
    strategy, beta0 = starting_point(cfg, task)
    loop = InnerLoop(strategy, cfg.steps, optimizer=make_optimizer(cfg.optimizer, cfg.lr))
    pair = jax.tree.map(lambda a: jax.numpy.stack([a, a]), beta0)  # vmapped, as evolution does
    try:
        shape = jax.eval_shape(
            jax.vmap(loop.fitness, (0, None, None)), pair, task, jax.random.PRNGKey(0)
        ).shape
    except Exception as e:  # the user's code, traced: say it in one line, and where
        raise ValueError(
            f"task {cfg.task!r}: one inner loop of it fails ({_first_line(e)})"
            f"{where_raised(e)}; check credit_input_dim and credit_units against what "
            "credit_state and apply_credits give"
        ) from e
    if shape != (2,):
        raise ValueError(
            f"task {cfg.task!r}: its fitness must be one number per trained network (a "
            f"scalar), but gives shape {shape[1:]}; average it over examples"
        )
    return strategy, beta0


def _first_line(error: BaseException) -> str:
    """An error's type and the first line of its message (a traced error runs to pages)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _load_recorded_plugins(out: Path, raw: Any) -> None:
    """On a resume, import the plugins the run recorded where its task or a baseline is not
    known yet (each on its own: one that has moved need not stop another that registers
    what is missing), saying what to give where something is still missing."""
    raw = raw if isinstance(raw, dict) else {}
    name, plugins = raw.get("task"), raw.get("plugins")
    baselines = [b for b in raw.get("baselines") or () if isinstance(b, str)]

    def unknown() -> list[str]:
        task = [f"the task {name!r}"] if isinstance(name, str) and name not in TASKS else []
        return task + [f"the learner {b!r}" for b in baselines if b not in LEARNERS]

    if not unknown():
        return
    failed = []
    for plugin in plugins if isinstance(plugins, list) else ():
        try:
            load_plugins([plugin])
        except PluginError as e:
            failed.append(str(e))
    if missing := unknown():
        why = f" ({'; '.join(failed)})" if failed else ""
        raise RunDirError(
            f"{out}: this run needs {' and '.join(missing)}, which this process does not know; "
            f"the run was started with the plugins {plugins}{why}. Give the file that "
            f"registers it where it is now: tdca --plugin FILE task --resume {out}"
        )


TASKS_OWN_START = "the task's own"
"""How a run records the start of a learner that trains from the task's ``init_params`` as
they are (a task with no ``init_scheme`` field to give it another)."""


def _start_of(task: Task) -> str:
    """The start a task's inner loops train from: its ``init_scheme``, or its own."""
    scheme = getattr(task, "init_scheme", None)
    return scheme if isinstance(scheme, str) else TASKS_OWN_START


def _baseline(name: str, task: Task) -> tuple[Any, Task, str] | str:
    """(strategy, the task it trains, its start) for the learner ``name``, or why it cannot
    run on ``task``. Every learner trains from the task's own start, as the credit network
    does, but backprop, which cannot leave an all-zero start: it starts where
    ``train_learner`` starts it (Kaiming weights for ``bp``) through the task's
    ``init_scheme`` field, and is left out where the task starts from all zeros and has no
    such field."""
    try:
        strategy = build_learner(name, task)
    except (AttributeError, TypeError, ValueError) as e:  # FA/DFA on a task without taps
        return f"{type(e).__name__}: {e}"
    if not isinstance(strategy, BP):
        return strategy, task, _start_of(task)
    if not hasattr(task, "loss"):
        return "the task has no loss"
    if "init_scheme" in getattr(task, "__dataclass_fields__", {}):
        try:
            task = task.replace(init_scheme=LEARNERS[name].init_scheme)  # type: ignore[attr-defined]
        except (AttributeError, TypeError, ValueError) as e:
            return f"its start could not be set (task.replace(init_scheme=...): {e})"
    if starts_from_zeros(task):
        return (
            "backprop from the task's all-zero start moves only the output biases; give the "
            "task an init_scheme field (the learner's start is then used)"
        )
    return strategy, task, _start_of(task)


def _summary(curves: np.ndarray) -> dict[str, Any]:
    curves = curves.astype(np.float64)  # equal seeds then give a std of exactly 0
    final = curves[:, -1]
    return {
        "fitness_mean": float(final.mean()),
        "fitness_std": float(final.std()),
        "fitness_per_seed": final.tolist(),
        "start_fitness_mean": float(curves[:, 0].mean()),
        "curve_mean": curves.mean(0).tolist(),
        "curve_std": curves.std(0).tolist(),
    }


def compare(
    cfg: TaskConfig,
    task: Task,
    strategy: TDCA,
    beta: Any,
    beta0: Any,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(learners, skipped): each learner's fitness curve on the test seeds, and why a
    baseline could not run. Baselines get the rate ``pick_rate`` chooses on the validation
    seeds (``tune_rate`` on ``rate_grid(cfg.lr)``); the credit network, evolved and at the
    start of its evolution, runs at ``cfg.lr``."""
    keys = lambda stream: jax.random.split(stream_key(cfg.seed, stream), cfg.seeds)  # noqa: E731
    validation, test = keys(VALIDATION_STREAM), keys(TEST_STREAM)
    grid = rate_grid(cfg.lr)
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in cfg.baselines:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the start is checked below, said once
            made = _baseline(name, task)
        if isinstance(made, str):
            skipped[name] = made
            log(f"{name}: not run ({made})")
            continue
        s, t, scheme = made
        # sparams None: each seed draws the learner's own (FA's and DFA's feedback matrices)
        try:
            rates, curves = tune_rate(
                lambda lrs, s=s, t=t: fitness_curves(
                    s, None, t, cfg.steps, lrs, validation, cfg.optimizer
                ),
                grid,
                log=log,
                name=name,
            )
        except Exception as e:  # the task's code under this learner: said, not a traceback
            skipped[name] = f"failed: {_first_line(e)}{where_raised(e)}"
            log(f"{name}: not run ({skipped[name]})")
            continue
        lr, record = tuned_rate(rates, curves, grid)
        test_curves = fitness_curves(s, None, t, cfg.steps, (lr,), test, cfg.optimizer)[0]
        out[name] = {**record, "init": scheme, **_summary(test_curves)}
    start = _start_of(task)
    for name, params in (("tdca", beta), ("tdca_start", beta0)):
        curves = fitness_curves(strategy, params, task, cfg.steps, (cfg.lr,), test, cfg.optimizer)
        out[name] = {"lr": cfg.lr, "init": start, **_summary(curves[0])}
    return out, skipped


def run_task(
    cfg: TaskConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    extend_to: int | None = None,
    plugins: tuple[str, ...] = (),
    progress: bool = True,
    stop_after: int | None = None,
    time_limit: float | None = None,
    make_figures: bool = True,
    chunk_size: int | Literal["auto"] | None = None,
) -> dict[str, Any] | None:
    """Evolve, compare and plot; returns metrics, or None if the evolution was interrupted.

    ``resume`` continues ``out`` with its saved config (``cfg`` may be None or must agree
    with it but for its generation count, which then extends the run), importing the
    plugins it recorded where the task or a learner is not registered yet; ``plugins`` are
    imported first and recorded (on a resume, a moved file's new place). ``extend_to``
    raises the generation count; ``time_limit`` (seconds) ends the evolution early as a
    finished run that a resume continues, and ``stop_after`` (generations) as an
    interrupted one. ``chunk_size``: how many candidates each device evaluates at once (one
    vmap by default; the command's is auto), a matter of memory only. ``progress``: a
    progress bar (or lines); ``make_figures``: fitness.png and learners.png.
    """
    out = Path(out)
    given = load_plugins(plugins)  # first: a moved plugin's new place, say
    task, start = None, None
    if not resume:  # a config that cannot work leaves no folder behind
        if cfg is None:
            raise ValueError("a new run needs a config")
        cfg = replace(cfg, plugins=tuple(dict.fromkeys((*cfg.plugins, *given))))
        task = _built(cfg)
        start = _one_inner_loop(cfg, task)
    elif cfg is not None and extend_to is None:
        extend_to = cfg.es.generations  # a config asking for more generations extends the run
    run = RunDir(out, resume=resume, kind=KIND)
    saved_json: dict[str, Any] = {}
    if resume:
        _load_recorded_plugins(out, run.read_json("config.json"))
        saved, saved_json = run.saved_config(TaskConfig.from_dict)
        cfg = config_for_resume(run, saved, given=cfg, extend_to=extend_to)
        if given:  # given now: they, and those saved ones this process imported, are kept
            kept = (p for p in cfg.plugins if p in loaded())
            cfg = replace(cfg, plugins=tuple(dict.fromkeys((*given, *kept))))
        task = _built(cfg)
    assert cfg is not None and task is not None
    task_digest, digests = _same_task(run, cfg, task, saved_json)
    run.log(f"{KIND} run: {cfg.to_dict()}")
    strategy, beta0 = start or starting_point(cfg, task)
    loop = InnerLoop(strategy, cfg.steps, optimizer=make_optimizer(cfg.optimizer, cfg.lr))
    t0 = time.perf_counter()
    result = evolve(
        Evolution(loop, beta0, cfg.es, chunk_size=chunk_size),
        task,
        beta0,
        run,
        seed=cfg.seed,
        resume=resume,
        stop_after=stop_after,
        progress=progress,
        label=f"evolving TDCA ({cfg.task})",
        time_limit=time_limit,
        config={**cfg.to_dict(), "plugin_digests": digests, "task_digest": task_digest},
    )
    if result.interrupted:
        return None
    seconds = time.perf_counter() - t0
    save_credit_net(
        run.file("credit_net.npz"),
        strategy,
        result.params,
        {
            "task": KIND,
            "task_name": cfg.task,
            "options": cfg.options,
            "lr": cfg.lr,
            "optimizer": cfg.optimizer,
            "steps": cfg.steps,
            "generation": result.generation,
            "config": cfg.to_dict(),
            "code_version": code_version(),
        },
    )
    run.log("comparing the baselines and the credit network on the test seeds")
    learners, skipped = compare(cfg, task, strategy, result.params, beta0, run.log)
    metrics: dict[str, Any] = {
        "task": cfg.task,
        "options": cfg.options,
        "steps": cfg.steps,
        "optimizer": cfg.optimizer,
        "seeds": cfg.seeds,
        "learners": learners,
        "baselines_not_run": skipped,
        "evolution": {
            **result.summary(cfg.es.population, seconds),
            "generations_configured": cfg.es.generations,
        },
    }
    run.write_json("metrics.json", metrics)
    for line in summary_lines(metrics):
        run.log(line)
    if make_figures:
        from tdca.plotting.curves import fitness_figure, return_curves

        fitness_figure(result.history, run.file("fitness.png"))
        return_curves(
            learners,
            run.file("learners.png"),
            f"task {cfg.task}",
            xlabel="inner step",
            ylabel="task fitness",
        )
        run.log("wrote fitness.png, learners.png")
    run.log("done")
    return metrics


def _built(cfg: TaskConfig) -> Task:
    """The task ``cfg`` names, its plugins imported first where it is not known yet."""
    if cfg.task not in TASKS and cfg.plugins:
        load_plugins(cfg.plugins)
    return build_task(cfg.task, cfg.options)


def _same_task(
    run: RunDir, cfg: TaskConfig, task: Task, saved: dict[str, Any]
) -> tuple[str, dict[str, str | None]]:
    """(the task's digest, the plugins' sha256) that config.json records. A resumed run
    (``saved``, its config.json) on another task is refused; under other plugin code that
    builds the same task, it is said and goes on."""
    # its arrays and static settings; not the modules its classes came from (the same file
    # imported as a module or by its path)
    task_digest = processes.tree_digest(task, modules=False)
    if saved.get("task_digest") not in (None, task_digest):
        raise RunDirError(
            f"{run.path}: the task {cfg.task!r} built now (options {cfg.options}) is not the "
            "one this run started on: its data or settings differ (edited plugin code, data "
            "it reads that changed, or data it computes that came out otherwise in the last "
            "bits on this machine or device); a resume would mix two tasks, so start a new run"
        )
    digests = {p: digest(p) for p in cfg.plugins}
    # By content, so that a plugin moved to another place (given anew) is the same code.
    then = saved.get("plugin_digests") or {}
    before, now = ({v for v in d.values() if v} for d in (then, digests))
    if not before <= now:
        note = (
            f"the plugins' code is not the code this run was started with (sha256 {then} "
            f"then, {digests} now); the task they build is the same (its data and "
            "settings), so the resume goes on with the code as it is now"
        )
        warnings.warn(note, stacklevel=3)
        run.log(note)
    return task_digest, digests


def command_line(cfg: dict[str, Any]) -> str:
    """The ``tdca`` command that makes a run of the saved config ``cfg`` (config.json, as
    ``TaskConfig.to_dict`` writes it; what ``tdca report`` shows, so read without the
    plugins that registered its task and learners). Numbers are written as Python's
    shortest exact form, so the line parses back into the same config; PGPE settings the
    command has no flag for are said after it."""
    import shlex

    q, es = shlex.quote, cfg["es"]
    words = [f"--plugin {q(p)}" for p in cfg["plugins"]] + ["task", q(cfg["task"])]
    words += [f"--option {q(f'{k}={json.dumps(v)}')}" for k, v in cfg["options"].items()]
    words += [f"--lr {cfg['lr']!r}", f"--steps {cfg['steps']}"]
    words += [f"--optimizer {cfg['optimizer']}"]
    words += [f"--credit-hidden {','.join(map(str, cfg['credit_hidden']))}"]
    words += [f"--layout {q(cfg['layout'])}", f"--credit-init {cfg['credit_init']}"]
    words += [f"--baselines {q(','.join(cfg['baselines']))}", f"--seeds {cfg['seeds']}"]
    words += [f"--seed {cfg['seed']}", f"--generations {es['generations']}"]
    words += [f"--population {es['population']}", f"--sigma {es['sigma_init']!r}"]
    words += [f"--es-lr {es['learning_rate']!r}"]
    fixed = default_es(cfg["credit_init"])
    other = [
        f"es.{k}={es[k]}"
        for k in ("optimizer", "std_lr", "std_max_change", "checkpoint_every")
        if es.get(k) != getattr(fixed, k)
    ]
    command = "tdca " + " ".join(words)
    return command + (f" (config.json also sets {', '.join(other)})" if other else "")


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """What ``tdca task`` prints of a run's metrics.json (log.txt keeps it too)."""
    m = metrics
    lines = [
        f"task {m['task']}: fitness after {m['steps']} inner steps ({m['optimizer']}), "
        f"mean +- std over {m['seeds']} test seeds"
    ]
    nan = float("nan")  # metrics.json keeps a NaN (a diverged learner) as null
    for name, r in m["learners"].items():
        mean, std, start = (
            nan if r[k] is None else r[k]
            for k in ("fitness_mean", "fitness_std", "start_fitness_mean")
        )
        lines.append(
            f"  {name:<10} {mean:12.5g} +- {std:<10.3g} (start {start:.5g}; lr {r['lr']:g})"
        )
    lines += [f"  {name:<10} not run: {why}" for name, why in m["baselines_not_run"].items()]
    return lines


__all__ = [
    "KIND",
    "TaskConfig",
    "command_line",
    "compare",
    "default_es",
    "rate_grid",
    "run_task",
    "summary_lines",
]
