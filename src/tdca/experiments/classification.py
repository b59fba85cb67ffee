"""Supervised classification: train a bottom-up network with any learner, or evolve a TDCA
credit network for one or several data sets.

Learners (all share one inner loop, full batch unless ``batch_size`` is set):
``bp`` (Kaiming init, SGD), ``bp-zero`` (init within +-1e-16, SGD), ``fa`` and ``dfa`` (zero
init, fixed random feedback), ``tdca:PATH`` (zero init, a saved credit network), and
``bp-adam`` (Kaiming init, Adam on mini-batches for many epochs: the architecture's ceiling).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from tdca.checks import check_seed, config_fields, is_finite_number, is_integer
from tdca.credit.artifact import check_fits, load_credit_net, resolve, save_credit_net
from tdca.credit.layout import CreditLayout, check_layout_spec
from tdca.credit.strategies import (
    LEARNERS,
    TDCA,
    build_learner,
    warn_if_backprop_from_zeros,
)
from tdca.credit.strategies.tdca import dfa_like_init
from tdca.data import Dataset, canonical_name, load_dataset
from tdca.data.cache import resolve_data_dir
from tdca.data.loader import npz_path
from tdca.evolution import (
    ESConfig,
    Evolution,
    chunk_size_by_generation,
    config_for_resume,
    devices_by_generation,
    evolve,
)
from tdca.experiments.lr_grid import LR_GRID_EXTENSION, inner_neighbour, next_rate
from tdca.inner import OPTIMIZERS, InnerLoop, make_optimizer
from tdca.io import ArtifactError, read_meta
from tdca.kernels import check_kernel
from tdca.networks.credit_net import check_gain_speed, check_hidden_widths
from tdca.networks.mlp import INIT_SCHEMES
from tdca.networks.registry import ARCHITECTURES, build_model, code_files
from tdca.plugins import PluginError, digest, load_plugins, loaded, recorded_form
from tdca.precision import PRECISIONS, check_precision, matmul_precision
from tdca.rundir import RUN_METADATA, RunDir, RunDirError, code_version
from tdca.tasks.classification import (
    FITNESS_METRICS,
    ClassificationTask,
    accuracy,
    cross_entropy,
)

VALIDATION_SIZE = 5000
FITNESS_DATA = ("train", "validation", "within")
SUBSET_SEED = 0


def _load(
    spec: str, data_dir: str | None, allow_pickle: bool = False
) -> tuple[Dataset, np.ndarray, np.ndarray, np.ndarray]:
    """``_load_cached``, keyed also by the data folder it resolves to now (``$TDCA_DATA_DIR``
    may change within a session) and by an npz file's size and modification time, so that
    a user's file rewritten within one Python session is read again, not served stale."""
    stamp = None
    data_dir = str(resolve_data_dir(data_dir))
    if spec.lower().startswith("npz:"):
        # the file the loader reads (a relative name may resolve through the data folder)
        path = npz_path(spec[4:], Path(data_dir))
        with contextlib.suppress(OSError):  # a missing file is reported by the reader
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns, str(path.absolute()))
    return _load_cached(spec, data_dir, allow_pickle, stamp)


@functools.lru_cache(maxsize=4)
def _load_cached(
    spec: str, data_dir: str | None, allow_pickle: bool, stamp: tuple[int, int, str] | None
) -> tuple[Dataset, np.ndarray, np.ndarray, np.ndarray]:
    """The data set with its training set in a fixed random order (seed 0).

    Files may be sorted by class (the CIFAR-10 image folders are), so "the first N training
    images" must come from a shuffled order to be a class-balanced subset; the order is the
    same on every run and machine.
    """
    ds = load_dataset(spec, data_dir, allow_pickle=allow_pickle)
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.y_train))
    return ds, ds.features("train")[order], ds.features("test"), ds.y_train[order]


@dataclass(frozen=True)
class Split:
    """Arrays for one experiment cell: the inner-loop training set and an evaluation set."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    dataset: Dataset


def make_split(
    spec: str,
    data_dir: str | None,
    train_size: int,
    *,
    validation: bool = False,
    allow_pickle: bool = False,
    whole_cell: bool = False,
    window: int = 0,
) -> Split:
    """The first ``train_size`` training images (in the fixed shuffled order), evaluated on
    the test set; with ``validation`` the evaluation set is 5,000 *training* images the
    learner never sees (used to pick learning rates, so the test set is never used for
    tuning). When the cell leaves too few images for that, the learner is tuned on fewer
    than ``train_size`` images, unless ``whole_cell`` (held-out fitness for an evolution
    that reports ``train_size``), which refuses instead. ``window`` 1 takes the next
    5,000 images instead (disjoint from window 0: choosing among kept centres of an
    evolution whose fitness used window 0)."""
    if window and not validation:
        raise ValueError("a held-out window other than 0 needs validation=True")
    if not is_integer(train_size):  # 2.5 would reach numpy's slicing as a TypeError
        raise ValueError(f"train_size must be an integer, got {train_size!r}")
    ds, xtr, xte, ytr = _load(spec, data_dir, allow_pickle)
    n_total = len(xtr)
    if not 1 <= train_size <= n_total:
        raise ValueError(f"--train-size must be in [1, {n_total}] for {ds.name}, got {train_size}")
    if not validation:
        return Split(ds.name, xtr[:train_size], ytr[:train_size], xte, ds.y_test, ds)
    v = min(VALIDATION_SIZE, n_total // 10)
    if v == 0:
        raise ValueError(
            f"{ds.name} has {n_total} training images: too few to hold a tenth out for "
            "validation (picking a learning rate, held-out fitness, scoring the centres "
            "--keep-every keeps); give --lr, use the training-set fitness, and no --keep-every"
        )
    if window:
        start = train_size + window * v
        if start + v > n_total:
            raise ValueError(
                f"{ds.name} has {n_total} training images: too few for a cell of "
                f"{train_size} and {window + 1} held-out sets of {v} (the evolution's fitness "
                "takes the first); drop --keep-every or use another --fitness-data"
            )
        tr, va = slice(0, train_size), slice(start, start + v)
    elif train_size + v <= n_total:
        tr, va = slice(0, train_size), slice(train_size, train_size + v)
    elif whole_cell:
        raise ValueError(
            f"--fitness-data validation holds {v} training images out of the inner loop, so "
            f"--train-size can be at most {n_total - v} for {ds.name} (got {train_size}); or "
            "use --fitness-data within"
        )
    else:  # the whole training set is in use: tune on the rest, validate on the held-out end
        tr, va = slice(0, n_total - v), slice(n_total - v, n_total)
    return Split(ds.name, xtr[tr], ytr[tr], xtr[va], ytr[va], ds)


def fingerprint(split: Split) -> str:
    """A short sha256 of a cell's arrays (training and evaluation images and labels), saved
    with a run so that a resume on other files (another --data-dir, a changed npz) is
    refused instead of silently continuing on different data."""
    h = hashlib.sha256()
    for a in (split.x_train, split.y_train, split.x_eval, split.y_eval):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


WITHIN_FRACTION = 0.2


def within_count(n: int, fraction: float = WITHIN_FRACTION) -> int:
    """How many of a cell's ``n`` training images ``--fitness-data within`` holds out of
    each generation's inner loop for fitness (>= 1, < n)."""
    k = round(n * fraction)
    if not 1 <= k < n:
        raise ValueError(
            f"--fitness-data within holds {fraction:.0%} of the training images out for "
            f"fitness, which needs at least one image on each side; --train-size {n} is too few"
        )
    return k


def make_task(
    split: Split,
    model: Any,
    init: str,
    batch_size: int | None = None,
    fitness_metric: str = "neg_ce",
    fitness_on_eval: bool = False,
    fit_holdout: int = 0,
) -> ClassificationTask:
    """The task for a split; ``fitness_on_eval`` measures fitness on the split's evaluation
    part (use it with a validation split only, so the test set never steers evolution);
    ``fit_holdout`` holds that many training images out of each generation instead."""
    extra = {"x_fit": split.x_eval, "y_fit": split.y_eval} if fitness_on_eval else {}
    return ClassificationTask.create(
        split.x_train,
        split.y_train,
        model,
        num_classes=split.dataset.num_classes,
        init_scheme=init,
        batch_size=batch_size,
        fitness_metric=fitness_metric,
        fit_holdout=fit_holdout,
        **extra,
    )


def learner_parts(learner: str, task: ClassificationTask, key: jax.Array) -> tuple[Any, Any, str]:
    """(strategy, its parameters, bottom-up init scheme) for a learner name: one of
    ``LEARNERS`` (``register_learner`` adds to them), ``bp-adam`` or ``tdca:PATH``."""
    name = "bp" if learner == "bp-adam" else learner  # bp-adam: BP, with its own optimizer
    if name in LEARNERS:
        strategy = build_learner(name, task)
        warn_if_backprop_from_zeros(name, strategy, LEARNERS[name].init_scheme)
        return strategy, strategy.init(key), LEARNERS[name].init_scheme
    if learner.startswith("tdca:"):
        source = learner.split(":", 1)[1]
        strategy, beta, meta = load_credit_net(source)
        check_fits(strategy, task, source)
        return strategy, beta, evolved_init(meta)
    raise ValueError(
        f"unknown learner {learner!r}; choose one of {(*LEARNERS, 'bp-adam')} or tdca:PATH "
        "(a learner of your own: give the file that registers it, tdca --plugin FILE.py)"
    )


def evolved_init(meta: dict[str, Any]) -> str:
    """The bottom-up start a credit network was evolved with (the papers' zero where it
    records none): trained from another, it would meet networks it never saw."""
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    init = config.get("init", "zero")
    if init not in INIT_SCHEMES:
        raise ArtifactError(f"the credit network records an unknown bottom-up start {init!r}")
    return str(init)


def evolved_meta(learner: str) -> dict[str, Any] | None:
    """A ``tdca:`` learner's credit-network metadata, read once for a whole command (None
    for other learners, or where it cannot be read: loading the learner then reports why)."""
    if not learner.startswith("tdca:"):
        return None
    try:
        return read_meta(resolve(learner.split(":", 1)[1]))
    except (ArtifactError, OSError):
        return None


def evolved_setting(meta: dict[str, Any] | None, key: str) -> str | None:
    """The ``arch`` or ``precision`` a credit network's evolution used, from its metadata
    (None where it records none). An architecture this process does not know (one a user
    registered where it was evolved) is refused rather than replaced by the default, which
    could have the same credit layout and train the wrong network without a word."""
    if meta is None:
        return None
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    value = meta.get(key, config.get(key))
    if key == "arch" and isinstance(value, str) and value not in ARCHITECTURES:
        plugins = config.get("plugins")
        where = (
            f"it was evolved with the plugins {plugins}: give them (tdca --plugin FILE "
            "train ...), or register it first (tdca.networks.register_arch)"
            if isinstance(plugins, list) and plugins
            else "register it first (tdca --plugin FILE train ..., or tdca.networks.register_arch)"
        )
        raise ArtifactError(
            f"the credit network was evolved for the architecture {value!r}, which this "
            f"process does not know ({', '.join(ARCHITECTURES)}); {where}, or choose one "
            "(--arch, or arch=)"
        )
    return value if value in {"arch": ARCHITECTURES, "precision": PRECISIONS}[key] else None


def plugin_code_note(meta: dict[str, Any] | None, arch: str) -> str | None:
    """What to say where a credit network evolved for a plugin's architecture is used with
    other code under that name: the file that registers ``arch`` in this process is not,
    by its sha256, any of the plugins the network was evolved with (None: nothing to say,
    or nothing recorded: files saved before 2026-12-07, networks evolved from a script)."""
    recorded = (meta or {}).get("plugin_digests")
    files = code_files(arch)
    if not isinstance(recorded, dict) or not recorded or not files:
        return None
    source, now = files[0]  # the file that registered it, as a plugin's digest is
    if now in recorded.values():
        return None
    then = ", ".join(f"{p} (sha256 {v[:12] if v else '?'})" for p, v in recorded.items())
    return (
        f"the credit network was evolved with the plugins {then}; {arch!r} is registered "
        f"here by {source} (sha256 {now[:12]}), other code: if it builds another network "
        "under that name, this trains a network the credit network was not evolved for"
    )


def learner_setup(
    learner: str, split: Split, arch: str, key: jax.Array, batch_size: int | None = None
) -> tuple[Any, Any, Any, str]:
    """(bottom-up model, strategy, its parameters, init scheme) for a run seeded by ``key``,
    as ``train_learner`` makes it (its strategy's parameters drawn from ``key`` folded with
    7), so that other analyses of a learner's run retrace the same one."""
    model = build_model(arch, split.dataset)
    probe = make_task(split, model, "zero", batch_size)
    return model, *learner_parts(learner, probe, jax.random.fold_in(key, 7))


@functools.partial(jax.jit, static_argnames=("strategy", "steps", "lr", "optimizer", "curves"))
def _run_learner(
    sparams: Any,
    task: ClassificationTask,
    key: jax.Array,
    x_eval: jax.Array,
    y_eval: jax.Array,
    *,
    strategy: Any,
    steps: int,
    lr: float,
    optimizer: str,
    curves: bool,
) -> tuple[Any, Any]:
    """``train_learner``'s inner loop, compiled once per learner, step count, rate, optimizer
    and shapes: the seed's key and the data are arguments, so the seeds of a baseline reuse
    one compilation (at small scale compiling took longer than training). The rate stays a
    compile-time constant: as an argument it changed the rounding (XLA folds a constant rate
    into the step), and a chaotic run (e.g. Table 1's TrTDCA at lr 1) then ended 2 points
    elsewhere than the committed results."""

    def record(t: ClassificationTask, theta: Any) -> Any:
        if not curves:
            return None
        tr = t.model.apply(theta, t.x)
        ev = t.model.apply(theta, x_eval)
        return accuracy(tr, t.y), accuracy(ev, y_eval)

    loop = InnerLoop(strategy, steps, optimizer=OPTIMIZERS[optimizer](lr))
    return loop.run(sparams, task, key, record=record)


def train_learner(
    learner: str,
    split: Split,
    *,
    arch: str | None = None,
    steps: int,
    lr: float,
    seed: int = 0,
    batch_size: int | None = None,
    curves: bool = True,
    keep_theta: bool = False,
    optimizer: str = "sgd",
    init: str | None = None,
) -> dict[str, Any]:
    """Train a fresh bottom-up network; return accuracies (fractions) and per-step curves
    (and, with ``keep_theta``, the trained parameters under ``"theta"``). ``arch`` defaults
    to the one a ``tdca:`` credit network was evolved for, else ``mlp-100``: another network
    with the same credited layers would load without complaint and train the wrong one.
    ``init`` overrides the learner's own start (an evolution's DFA run starts where the
    evolution's inner loops did)."""
    check_seed(seed)  # 2**32 would be seed 0's run again (PRNGKey keeps 32 bits)
    if arch is None:
        arch = evolved_setting(evolved_meta(learner), "arch") or "mlp-100"
    key = jax.random.PRNGKey(seed)
    model, strategy, sparams, own_init = learner_setup(learner, split, arch, key, batch_size)
    init = own_init if init is None else init
    if learner == "bp-adam":  # the convergence reference: always Adam on mini-batches
        optimizer, batch_size = "adam", bp_adam_batch(batch_size, len(split.x_train))
    make_optimizer(optimizer, lr)  # checks the name and the rate before any work
    task = make_task(split, model, init, batch_size)
    # evaluated in the same dtype the network trained in (bf16 under bfloat16-activations)
    x_eval, y_eval = jnp.asarray(split.x_eval, task.x.dtype), jnp.asarray(split.y_eval)
    t0 = time.perf_counter()
    static = {
        "strategy": strategy,
        "steps": steps,
        "lr": float(lr),
        "optimizer": optimizer,
        "curves": curves,
    }
    try:
        hash(strategy)
        run = functools.partial(_run_learner, **static)
    except TypeError:  # e.g. a user's strategy holding arrays: compiled for this call only
        run = jax.jit(functools.partial(_run_learner.__wrapped__, **static))
    theta, trace = run(sparams, task, key, x_eval, y_eval)
    train_logits, eval_logits = model.apply(theta, task.x), model.apply(theta, x_eval)
    out: dict[str, Any] = {
        "learner": learner,
        "dataset": split.name,
        "arch": arch,
        "init": init,  # the bottom-up start (a tdca: learner's: what it was evolved with)
        "train_size": len(task.x),
        "steps": steps,
        "lr": lr,
        "optimizer": optimizer,
        "seed": seed,
        "batch_size": batch_size,
        "train_accuracy": float(accuracy(train_logits, task.y)),
        "test_accuracy": float(accuracy(eval_logits, y_eval)),
        "train_loss": float(cross_entropy(train_logits, task.y)),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if not np.isfinite(out["train_loss"]):
        out["diverged"] = True
    if isinstance(strategy, TDCA) and strategy.net.has_gain:
        out["credit_gain"] = float(strategy.net.gain(sparams))  # under SGD: lr x this
    if keep_theta:
        out["theta"] = theta
    if curves:
        # rounded in float64: float32 has no 0.59, and its nearest (0.58999997) read as a
        # different number from the run's train_accuracy
        out["curve_train_accuracy"] = np.asarray(trace[0], np.float64).round(5).tolist()
        out["curve_test_accuracy"] = np.asarray(trace[1], np.float64).round(5).tolist()
    return out


LR_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
BP_ADAM_LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3)
"""Rates for ``bp-adam``, the convergence reference (Adam on mini-batches, many steps)."""


def baseline_grid(learner: str, optimizer: str) -> tuple[float, ...]:
    """The rates ``tune_lr`` starts from for a baseline: ``bp-adam``'s own; otherwise the
    grid of the inner optimizer. The one rule behind ``tdca train`` and ``tdca reproduce``."""
    if learner == "bp-adam":
        return BP_ADAM_LR_GRID
    return ADAM_LR_GRID if optimizer == "adam" else LR_GRID


def bp_adam_batch(batch_size: int | None, train_size: int) -> int:
    """The mini-batch ``bp-adam`` trains on: the one given, else 128 (or the whole set)."""
    return batch_size or min(128, train_size)


def tune_lr(
    learner: str,
    spec: str,
    data_dir: str | None,
    *,
    arch: str,
    train_size: int,
    steps: int,
    grid: tuple[float, ...] = LR_GRID,
    batch_size: int | None = None,
    allow_pickle: bool = False,
    optimizer: str = "sgd",
    extend: int = LR_GRID_EXTENSION,
) -> dict[str, Any]:
    """Pick the learning rate with the best accuracy on a validation split (never the test
    set). When the best rate sits at an end of the grid, really trains (beats chance) and
    beats the rate beside it, the grid is extended past that end, up to ``extend`` more
    rates, so that a baseline is never clipped by the grid it was given. Returns the grid
    tried, each validation accuracy and the pick."""
    split = make_split(spec, data_dir, train_size, validation=True, allow_pickle=allow_pickle)
    bar = above_chance(split.dataset.num_classes, len(split.y_eval))

    def score(lr: float) -> float:
        r = train_learner(
            learner,
            split,
            arch=arch,
            steps=steps,
            lr=lr,
            curves=False,
            batch_size=batch_size,
            optimizer=optimizer,
        )
        return r["test_accuracy"] if np.isfinite(r["train_loss"]) else -1.0

    tried = {lr: score(lr) for lr in sorted(grid)}
    for _ in range(extend):
        best = max(sorted(tried), key=lambda lr: tried[lr])
        beside = inner_neighbour(list(tried), best)
        if beside is None or tried[best] <= max(bar, tried[beside]):
            break
        new = next_rate(best, up=best > beside)
        tried[new] = score(new)
    rates = sorted(tried)
    scores = [tried[lr] for lr in rates]
    return {
        "grid": rates,
        "validation_accuracy": scores,
        "lr": rates[int(np.argmax(scores))],
        "above_chance": bool(max(scores) > bar),  # False: no rate trained the network
    }


def seeds_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """mean +- std over seeds of the accuracies."""
    out: dict[str, Any] = {"seeds": len(runs)}
    for k in ("train_accuracy", "test_accuracy"):
        v = np.asarray([r[k] for r in runs])
        out[k], out[f"{k}_std"] = float(v.mean()), float(v.std(ddof=1) if len(v) > 1 else 0.0)
    return out


# ---------------------------------------------------------------- evolution


EVOLVE_ADDED_LATER = (
    "data_dir",
    "optimizer",
    "gain_speed",
    "fitness_data",
    "fitness_last",
    "precision",
    "keep_every",
    "kernel",
    "anchored",
    "plugins",
    "init",
)
"""EvolveConfig settings a saved config.json may lack: added after the first release (or,
for data_dir, dropped from copies such as the zoo cards), with defaults that are what those
runs did."""


@dataclass(frozen=True)
class EvolveConfig:
    """One TDCA evolution for classification (saved as config.json)."""

    datasets: tuple[str, ...] = ("mnist",)
    arch: str = "mlp-100"
    train_size: int = 1000
    steps: int = 20
    lr: float | None = None  # None: picked on a validation split for the initial network
    optimizer: str = "sgd"  # inner-loop optimizer (tdca.inner.OPTIMIZERS)
    layout: str = "dense"
    hidden: tuple[int, ...] = (30, 30)
    credit_init: str = "dfa"
    # The bottom-up network's start in every inner loop: "zero" (the papers'), or
    # "near_zero"/"kaiming" for a network that cannot learn from zero (g'(0) = 0: ReLU).
    init: str = "zero"
    # > 0: one more evolved parameter, an overall credit gain exp(gain_speed * g) (CreditNet)
    gain_speed: float = 0.0
    fitness: str = "neg_ce"
    # "train": fitness on the inner loop's own training images (the papers);
    # "validation": on 5,000 held-out training images (meta-validation; never the test set);
    # "within": on a fifth of the cell's own training images, redrawn every generation
    # and held out of that generation's inner loop (ClassificationTask.for_generation).
    fitness_data: str = "train"
    # The fitness is averaged over the last K inner steps (1: step M only, the papers').
    fitness_last: int = 1
    # Matmul precision of the whole run (tdca.precision); "default" is JAX's own choice.
    precision: str = "default"
    # > 0: keep the search centre every N generations (snapshots/) and score each kept one
    # on the validation split at the end, so the generation count can be chosen without
    # the test set (with the papers' fitness, test accuracy peaks early: docs/gpu-h200.md).
    keep_every: int = 0
    # How each inner step runs: "xla" (XLA's fusions) or "fused" (one Pallas kernel for the
    # per-example work, tdca.kernels; one-hidden-layer MLP, dense credits; for GPUs).
    kernel: str = "xla"
    # Credits anchored to vanish where the bottom-up network is right (TDCA.anchored).
    anchored: bool = False
    seed: int = 0
    data_dir: str | None = None
    # Files or modules that register ``arch`` (tdca.plugins; ``tdca --plugin``), imported
    # when the config is made and ``arch`` is not known yet: a resume finds the network
    # without a wrapper script. Where they now live may differ on resume.
    plugins: tuple[str, ...] = ()
    es: ESConfig = field(
        default_factory=lambda: ESConfig(
            population=32,
            generations=150,
            sigma_init=0.003,
            learning_rate=0.001,
            checkpoint_every=25,
        )
    )

    def __post_init__(self) -> None:
        if not isinstance(self.datasets, tuple | list) or not all(
            isinstance(d, str) for d in self.datasets
        ):  # a bare string would be read letter by letter
            said = f"got {self.datasets!r}"
            raise ValueError(f"datasets must be a tuple of names, such as ('mnist',); {said}")
        if not self.datasets:
            raise ValueError("need at least one data set")
        if len({canonical_name(d).lower() for d in self.datasets}) != len(self.datasets):
            raise ValueError(f"a data set is given twice: {list(self.datasets)}")
        if not isinstance(self.plugins, tuple) or not all(
            isinstance(p, str) and p.strip() for p in self.plugins
        ):
            raise ValueError(f"plugins must be a tuple of paths or module names: {self.plugins!r}")
        # a file by its absolute path, so a resume from another folder finds the same file
        object.__setattr__(self, "plugins", tuple(recorded_form(p) for p in self.plugins))
        if self.arch not in ARCHITECTURES and self.plugins:
            load_plugins(self.plugins)
        if self.arch not in ARCHITECTURES:
            unregistered = f" (the plugins {list(self.plugins)} do not register it)"
            raise ValueError(
                f"unknown architecture {self.arch!r}; choose one of {tuple(ARCHITECTURES)}"
                f"{unregistered if self.plugins else ''}"
            )
        if self.credit_init not in ("dfa", "random"):
            raise ValueError("credit_init must be 'dfa' or 'random'")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"init must be one of {INIT_SCHEMES}, got {self.init!r}")
        if self.fitness not in FITNESS_METRICS:
            raise ValueError(f"fitness must be one of {FITNESS_METRICS}, got {self.fitness!r}")
        if self.fitness_data not in FITNESS_DATA:
            raise ValueError(
                f"fitness_data must be one of {FITNESS_DATA}, got {self.fitness_data!r}"
            )
        if self.fitness_data == "within":
            within_count(self.train_size)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        check_precision(self.precision)
        check_kernel(self.kernel)
        check_gain_speed(self.gain_speed)
        if self.gain_speed > 0 and self.optimizer != "sgd":
            raise ValueError(
                "a learned credit gain scales the credits, and Adam's per-synapse "
                "normalisation undoes any scale: use --learned-gain with --optimizer sgd"
            )
        check_seed(self.seed)  # 2**32 would be seed 0's run again (PRNGKey keeps 32 bits)
        for name in ("steps", "train_size", "fitness_last"):
            if not is_integer(getattr(self, name)):
                raise ValueError(f"{name} must be an integer, got {getattr(self, name)!r}")
        if self.steps < 1 or self.train_size < 1:
            raise ValueError("steps and train_size must be >= 1")
        if self.lr is not None and not (is_finite_number(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0 (or None: picked), got {self.lr!r}")
        if isinstance(self.hidden, list):  # as JSON gives it; hashed later, so a tuple
            object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.hidden, tuple):
            raise ValueError(
                f"hidden must be a tuple of widths, such as (30, 30); got {self.hidden!r}"
            )
        check_hidden_widths(self.hidden)
        check_layout_spec(self.layout)  # its form now; whether it fits, once the net is built
        if not 1 <= self.fitness_last <= self.steps:
            raise ValueError(
                f"fitness_last must be between 1 and steps ({self.steps}), got {self.fitness_last}"
            )
        if not isinstance(self.anchored, bool):
            raise ValueError(f"anchored must be true or false, got {self.anchored!r}")
        if not (isinstance(self.keep_every, int) and self.keep_every >= 0):
            raise ValueError(f"keep_every must be an integer >= 0, got {self.keep_every!r}")
        if self.keep_every > self.es.generations:
            raise ValueError(
                f"keep_every {self.keep_every} is more than the {self.es.generations} "
                "generations: no snapshot would be kept"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": "evolve-classification", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvolveConfig:
        """A saved config.json; unknown or missing settings are refused (``config_fields``)."""
        d = config_fields(
            cls,
            d,
            optional=EVOLVE_ADDED_LATER,
            metadata=(*RUN_METADATA, "lr_selection", "data_fingerprints", "plugin_digests"),
        )
        d["datasets"], d["hidden"] = tuple(d["datasets"]), tuple(d["hidden"])
        if isinstance(d.get("plugins"), list):
            d["plugins"] = tuple(d["plugins"])
        d["es"] = ESConfig.from_dict(d["es"])
        return cls(**d)


TDCA_LR_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
ADAM_LR_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
LR_GRIDS = {"sgd": TDCA_LR_GRID, "adam": ADAM_LR_GRID}
"""Inner learning rates tried for the initial credit network, per inner optimizer."""


def above_chance(num_classes: int, n_eval: int, z: float = 3.0) -> float:
    """The accuracy a network at chance stays below with ~99.9% probability on ``n_eval``
    images (chance + z binomial standard deviations): above it, a rate really trains."""
    p = 1.0 / num_classes
    return p + z * float(np.sqrt(p * (1.0 - p) / n_eval))


def choose_rate(
    grid: tuple[float, ...], accuracies: list[float], losses: list[float], chance_bar: float
) -> tuple[float, str]:
    """The rate with the best validation accuracy; when no rate beats ``chance_bar``, the
    accuracies differ by noise alone, so the lowest validation cross-entropy (the evolution's
    own fitness) decides. Returns the rate and what decided it."""
    if max(accuracies) > chance_bar:
        return grid[int(np.argmax(accuracies))], "validation_accuracy"
    finite = [c if np.isfinite(c) else np.inf for c in losses]
    return grid[int(np.argmin(finite))], "validation_cross_entropy (no rate beat chance)"


def pick_inner_lr(
    strategy: TDCA, beta: Any, cfg: EvolveConfig, grid: tuple[float, ...] | None = None
) -> dict[str, Any]:
    """The inner-loop learning rate at which the *initial* credit network trains best,
    measured on validation splits (mean over the data sets); the test set is not used.
    The evolved rule is then specific to this rate, which is saved with it. Where the
    initial network leaves every rate at chance (a zero-initialised deep net, say),
    accuracy cannot tell rates apart and validation cross-entropy picks (``choose_rate``)."""
    splits = [make_split(d, cfg.data_dir, cfg.train_size, validation=True) for d in cfg.datasets]
    tasks = [make_task(s, build_model(cfg.arch, s.dataset), cfg.init) for s in splits]
    grid = LR_GRIDS[cfg.optimizer] if grid is None else grid
    scores, losses = [], []
    for lr in grid:
        accs, ces = [], []
        for split, task in zip(splits, tasks, strict=True):
            make_optimizer(cfg.optimizer, lr)  # checks the rate
            x_eval = jnp.asarray(split.x_eval, task.x.dtype)
            theta, _ = _run_learner(
                beta,
                task,
                jax.random.PRNGKey(cfg.seed),
                x_eval,
                jnp.asarray(split.y_eval),
                strategy=strategy,
                steps=cfg.steps,
                lr=float(lr),
                optimizer=cfg.optimizer,
                curves=False,
            )
            logits = task.model.apply(theta, x_eval)
            acc, ce = (
                float(accuracy(logits, split.y_eval)),
                float(cross_entropy(logits, split.y_eval)),
            )
            accs.append(acc if np.isfinite(acc) else 0.0)
            ces.append(ce if np.isfinite(ce) else np.inf)
        scores.append(float(np.mean(accs)))
        losses.append(float(np.mean(ces)))
    bar = float(
        np.mean(
            [above_chance(t.num_classes, len(s.y_eval)) for s, t in zip(splits, tasks, strict=True)]
        )
    )
    lr, picked_by = choose_rate(grid, scores, losses, bar)
    return {
        "grid": list(grid),
        "validation_accuracy": scores,
        "validation_cross_entropy": losses,
        "chance_bar": bar,
        "picked_by": picked_by,
        "lr": lr,
    }


@dataclass(frozen=True)
class MeanOverTasks:
    """The "All" fitness: one credit network, one bottom-up network per data set, mean."""

    loop: InnerLoop

    def fitness(self, sparams: Any, tasks: tuple, key: jax.Array) -> jax.Array:
        fits = [
            self.loop.fitness(sparams, t, jax.random.fold_in(key, i)) for i, t in enumerate(tasks)
        ]
        return jnp.mean(jnp.stack(fits))

    def fitness_and_report(
        self, sparams: Any, tasks: tuple, key: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The mean fitness, and the mean of what each data set's task reports."""
        fits, reports = zip(
            *(
                self.loop.fitness_and_report(sparams, t, jax.random.fold_in(key, i))
                for i, t in enumerate(tasks)
            ),
            strict=True,
        )
        mean = {k: jnp.mean(jnp.stack([r[k] for r in reports])) for k in reports[0]}
        return jnp.mean(jnp.stack(fits)), mean


def starting_point(cfg: EvolveConfig, task: ClassificationTask) -> tuple[TDCA, Any]:
    """The credit strategy an evolution of ``cfg`` uses on ``task`` and the credit-network
    parameters it starts from (DFA-like or random, seeded by ``cfg.seed``). Benchmarks and
    probes use it to look at exactly what ``run_evolve`` would evolve."""
    layout = CreditLayout.parse(cfg.layout, tuple(task.credit_units))
    strategy = TDCA.for_task(
        task,
        hidden=cfg.hidden,
        layout=layout,
        gain_speed=cfg.gain_speed,
        kernel=cfg.kernel,
        anchored=cfg.anchored,
    )
    # This key is also generation 1's (tdca.evolution.stream_key says why that is a flaw);
    # kept so that every committed evolution, GPU ones included, stays reproducible.
    key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1)
    if cfg.credit_init == "dfa":
        # Diffused layouts get DFA on their credit centres (for dense ones this is a no-op view).
        return strategy, dfa_like_init(_as_dense(strategy), key, task.num_classes)
    return strategy, strategy.init(key)


def _as_dense(strategy: TDCA) -> TDCA:
    """Same network, dense-looking layout: the DFA-like init only needs output counts."""
    from tdca.credit.layout import LayerCredits

    layers = tuple(LayerCredits(lc.num_credits) for lc in strategy.layout.layers)
    return TDCA(strategy.net, CreditLayout(layers))


def run_evolve(
    cfg: EvolveConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    extend_to: int | None = None,
    data_dir: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    time_limit: float | None = None,
    plugins: tuple[str, ...] = (),
    chunk_size: int | Literal["auto"] | None = "auto",
) -> dict[str, Any] | None:
    """Evolve a credit network; write credit_net.npz and metrics.json (train/test accuracy
    of a fresh bottom-up network trained by it on each data set). With ``time_limit``
    (seconds of evolution) the run is finished at the generation reached and stays
    resumable towards its configured generations.

    ``resume`` continues ``out`` with its saved config: ``cfg`` may then be None, or must
    agree with the saved one (``runner.config_for_resume``); ``extend_to`` raises the
    generation count and ``data_dir`` says where the data is now (another machine, say).
    ``plugins``, the ones this process was given (``tdca --plugin``), are what a resume
    records from then on, with those saved ones it imported (a moved file's new place);
    given none, a resume keeps the saved ones (as a script that registers the network
    itself resumes). ``chunk_size``: how many candidates each device evaluates at once
    (``Evolution``'s; "auto" by default), a matter of memory, not of what is evolved, so
    it is not part of the config and a resume may change it.
    """
    run = RunDir(out, resume=resume, kind="evolve-classification")
    selection, fingerprints, digests = None, None, None
    started: tuple[str, ...] | None = None  # a resumed run's plugins, as it recorded them
    if resume:
        raw = run.read_json("config.json")
        arch = raw.get("arch") if isinstance(raw, dict) else None
        started_with = raw.get("plugins") if isinstance(raw, dict) else None
        if isinstance(arch, str) and arch not in ARCHITECTURES:  # not damage: a user's network
            if isinstance(started_with, list) and started_with:
                try:
                    load_plugins(started_with)
                except PluginError as e:
                    raise RunDirError(
                        f"{out}: the run was started with the plugins {started_with}, needed "
                        f"for its architecture {arch!r}; {e}. Give it where it is now: "
                        f"tdca --plugin FILE evolve --resume {out}"
                    ) from e
            if arch not in ARCHITECTURES:
                raise RunDirError(
                    f"{out}: this run evolves for the architecture {arch!r}, which this "
                    f"process does not know ({', '.join(ARCHITECTURES)}); resume it with the "
                    "file that registers it (tdca --plugin FILE evolve --resume ...), or from "
                    "a script that registers it first (tdca.networks.register_arch)"
                )
        saved, saved_json = run.saved_config(EvolveConfig.from_dict)
        selection = saved_json.get("lr_selection")  # how the saved run picked its lr
        fingerprints = saved_json.get("data_fingerprints")  # absent in runs before 2026-11-26
        digests = saved_json.get("plugin_digests")
        if cfg is not None and cfg.lr is None:
            cfg = replace(cfg, lr=saved.lr)  # the saved run picked it; do not pick again
        data_dir = data_dir or (cfg.data_dir if cfg is not None else None)
        cfg = config_for_resume(run, saved, given=cfg, extend_to=extend_to)
        if data_dir is not None:
            cfg = replace(cfg, data_dir=data_dir)
        if plugins:  # given now: they, and those saved ones this process imported, are kept
            kept = (p for p in cfg.plugins if p in loaded())
            cfg = replace(cfg, plugins=tuple(dict.fromkeys((*plugins, *kept))))
        started = saved.plugins
    elif cfg is None:
        raise ValueError("a new evolution needs a config")
    with matmul_precision(cfg.precision):
        return _evolve_and_evaluate(
            cfg,
            run,
            resume=resume,
            selection=selection,
            fingerprints=fingerprints,
            digests=digests,
            started=started,
            progress=progress,
            stop_after=stop_after,
            time_limit=time_limit,
            chunk_size=chunk_size,
        )


def fitness_splits(cfg: EvolveConfig) -> list[Split]:
    """The splits an evolution's fitness trains and scores on, one per data set. With
    held-out fitness, each task trains on one part of the training images and scores on
    another the inner loop never sees: 5,000 extra training images ("validation"), or a
    fifth of the cell's own ones, redrawn every generation ("within"; the cell's data
    budget is kept)."""
    validation = cfg.fitness_data == "validation"
    return [
        make_split(d, cfg.data_dir, cfg.train_size, validation=validation, whole_cell=validation)
        for d in cfg.datasets
    ]


def data_fingerprints(cfg: EvolveConfig, splits: list[Split] | None = None) -> dict[str, str]:
    """What an evolution's config.json records as ``data_fingerprints``: the fingerprint of
    each data set's fitness split (``splits``, else ``fitness_splits(cfg)``), as the files
    in ``cfg.data_dir`` give it now."""
    splits = fitness_splits(cfg) if splits is None else splits
    return {spec: fingerprint(s) for spec, s in zip(cfg.datasets, splits, strict=True)}


def _plugin_notes(
    started: tuple[str, ...] | None,
    then: dict[str, str | None] | None,
    now: dict[str, str | None],
    imported: set[str],
) -> tuple[str | None, str | None]:
    """What a resume says of its plugins: (other code, added files), each None where
    there is nothing to say. ``started``/``then``: the plugins the run recorded and their
    sha256; ``now``: this resume's. Found by content, so a moved file is neither."""
    if started is None:  # a new run
        return None, None
    changed = added = None
    before = {v for v in (then or {}).values() if v}
    # Other code: a resume goes on, as under a newer tdca (an edit may not touch the
    # network). Said at once: where the edit did change it, it explains the refusal.
    if imported & set(now) and before and not before <= {v for v in now.values() if v}:
        changed = (
            f"the plugins' code is not the code this run was started with (sha256 {then} "
            f"then, {now} now); a resume goes on with the code as it is now: if that changed "
            "the network, its generations mix two networks, and a new run is the clean way"
        )
    # Files it did not start with; a run recorded before plugin digests (plugins but no
    # sha256) cannot tell a moved file from a new one, and is left alone.
    new = [p for p, v in now.items() if p not in started and (v is None or v not in before)]
    if new and (then is not None or not started):
        added = (
            f"plugins {new} were not given when this run started ({list(started)}); "
            "config.json records them from this resume on, and the generations before it "
            "ran without them"
        )
    return changed, added


def _refuse_the_same_data_twice(fingerprints: dict[str, str]) -> None:
    """Two --dataset given as two spellings of one file (npz:a.npz, npz:./x/../a.npz, a
    copy) would count one data set twice in the fitness; found by content (the data
    fingerprints the run records), not by name."""
    seen: dict[str, str] = {}
    for spec, key in fingerprints.items():
        if key in seen:
            raise ValueError(
                f"--dataset {seen[key]} and --dataset {spec} hold the same images and labels; "
                "give each data set once"
            )
        seen[key] = spec


def _evolve_and_evaluate(
    cfg: EvolveConfig,
    run: RunDir,
    *,
    resume: bool,
    selection: dict[str, Any] | None,
    fingerprints: dict[str, str] | None,
    digests: dict[str, str | None] | None,
    started: tuple[str, ...] | None,
    progress: bool,
    stop_after: int | None,
    time_limit: float | None,
    chunk_size: int | Literal["auto"] | None = "auto",
) -> dict[str, Any] | None:
    """``run_evolve``'s work once its config is settled (under the run's matmul precision);
    ``selection`` is a resumed run's record of how its inner lr was picked."""
    splits = [make_split(d, cfg.data_dir, cfg.train_size) for d in cfg.datasets]
    extra_data = cfg.fitness_data == "validation"
    fit_splits = fitness_splits(cfg) if extra_data else splits  # the same splits otherwise
    data = data_fingerprints(cfg, fit_splits)
    _refuse_the_same_data_twice(data)
    if cfg.keep_every and not resume:
        _selection_splits(cfg)  # enough images to choose among kept centres? Before any work
    holdout = within_count(cfg.train_size) if cfg.fitness_data == "within" else 0
    tasks = tuple(
        make_task(
            s,
            build_model(cfg.arch, s.dataset),
            cfg.init,
            fitness_metric=cfg.fitness,
            fitness_on_eval=extra_data,
            fit_holdout=holdout,
        )
        for s in fit_splits
    )
    units = {tuple(t.credit_units) for t in tasks}
    if len(units) > 1:
        raise ValueError(f"data sets need the same credited layers for one credit network: {units}")
    # a start the network cannot learn from (zero, g'(0) = 0) is refused before the run
    # directory holds a config a rerun of the same command would find in its way
    jax.eval_shape(tasks[0].init_params, jax.random.PRNGKey(0))
    strategy, beta0 = starting_point(cfg, tasks[0])
    if cfg.lr is None:
        selection = pick_inner_lr(strategy, beta0, cfg)
        cfg = replace(cfg, lr=selection["lr"])
        run.log(f"inner lr {cfg.lr} picked on validation: {selection}")
        if "no rate beat chance" in selection["picked_by"]:
            warnings.warn(
                f"no inner learning rate in {selection['grid']} trained the starting network "
                f"above chance in {cfg.steps} steps; lr {cfg.lr} was picked by validation "
                "cross-entropy, and evolution starts from a rule that does not yet learn",
                RuntimeWarning,
                stacklevel=2,
            )
    if fingerprints is not None and fingerprints != data:
        raise RunDirError(
            f"{run.path}: the data sets differ from those this run was evolved on "
            f"(fingerprints {fingerprints}, now {data}); resume it on the same files "
            "(--data-dir), or start a new run"
        )
    imported = set(loaded())  # a plugin not imported here (a script registered the network)
    code = {p: digest(p) if p in imported else (digests or {}).get(p) for p in cfg.plugins}
    changed, added = _plugin_notes(started, digests, code, imported)
    if changed:
        run.log(changed)
        warnings.warn(changed, RuntimeWarning, stacklevel=2)
    extra = {"lr_selection": selection, "data_fingerprints": data}
    config = cfg.to_dict() | extra | ({"plugin_digests": code} if code else {})
    loop = InnerLoop(
        strategy,
        cfg.steps,
        cfg.lr,
        make_optimizer(cfg.optimizer, cfg.lr),
        fitness_last=cfg.fitness_last,
    )
    evaluator = loop if len(tasks) == 1 else MeanOverTasks(loop)
    task_arg = tasks[0] if len(tasks) == 1 else tasks
    # "auto": chunked only where the population would not fit the device's free memory
    evolution = Evolution(evaluator, beta0, cfg.es, chunk_size=chunk_size)  # type: ignore[arg-type]
    name = "+".join(cfg.datasets)

    def keep_centre(generation: int, params: Any, fitness: float) -> None:
        meta = _artifact_meta(cfg, generation, fitness, code)
        # made here, not before evolve: a run that fails before its first generation must
        # leave a folder the same command may reuse (RunDir's failed-start rule)
        run.file(KEPT_FOLDER).mkdir(exist_ok=True)
        save_credit_net(_kept_file(run, generation), strategy, params, meta)

    result = evolve(
        evolution,
        task_arg,
        beta0,
        run,
        seed=cfg.seed,
        resume=resume,
        stop_after=stop_after,
        progress=progress,
        label=f"evolving TDCA ({name})",
        time_limit=time_limit,
        keep=(cfg.keep_every, keep_centre) if cfg.keep_every else None,
        config=config,  # written once the resume checks pass: a refused one changes nothing
        notes=(added,) if added else (),  # said once the resume's checks pass
    )
    if result.interrupted:
        return None
    last = result.history[-1] if result.history else {}
    first_fitness = result.history[0]["centre_fitness"] if result.history else None
    save_credit_net(
        run.file("credit_net.npz"),
        strategy,
        result.params,
        _artifact_meta(cfg, result.generation, result.saved_centre_fitness, code),
    )
    # The credit network the evolution started from, trained the same way: what the
    # generations added (or lost) is the difference to per_dataset, with nothing else changed.
    save_credit_net(
        run.file("credit_net_start.npz"),
        strategy,
        beta0,
        _artifact_meta(cfg, 0, first_fitness, code),
    )

    def on_each_split(learner: str, curves: bool = True) -> list[dict[str, Any]]:
        return _trained_as_evolved(cfg, learner, splits, curves)

    per_dataset = on_each_split(f"tdca:{run.file('credit_net.npz')}")
    start_runs = on_each_split(f"tdca:{run.file('credit_net_start.npz')}", curves=False)
    # DFA at the evolution's lr, next to the DFA-like start: wherever that start is one
    # (dense credits), whatever the network (a registered one, the CNN: DFA trains any
    # layered task; an MLP-only test left users' own networks without it)
    has_dfa_twin = cfg.credit_init == "dfa" and cfg.layout == "dense"
    init_runs = on_each_split("dfa", curves=False) if has_dfa_twin else []
    metrics = {
        "datasets": list(cfg.datasets),
        "evolution": {
            "generations": result.generation,
            "generations_configured": cfg.es.generations,
            # the last row's: the centre the last generation started from (one update
            # before credit_net.npz, whose own fitness is saved_centre_fitness)
            "final_centre_fitness": last.get("centre_fitness"),
            "saved_centre_fitness": result.saved_centre_fitness,
            "first_centre_fitness": first_fitness,
            "diverged_total": int(sum(r["diverged"] for r in result.history)),
            "devices": evolution.num_devices,  # the population was sharded over these
            "devices_by_generation": devices_by_generation(result.history),  # after resumes
            "processes": jax.process_count(),
            "chunk_size": result.chunk_size,  # this session's (None: one vmap per device)
            "chunk_size_by_generation": chunk_size_by_generation(result.history),
            **(
                {"credit_gain": float(strategy.net.gain(result.params))}
                if strategy.net.has_gain
                else {}
            ),
        },
        "results": per_dataset,
        "at_start": start_runs,
        "dfa_at_same_lr": init_runs,
    }
    if cfg.keep_every:
        metrics["kept"] = _score_kept(cfg, run, result.generation)
        best = max(metrics["kept"], key=lambda k: k["validation_accuracy"], default=None)
        if best is not None:
            metrics["kept_best_on_validation"] = best
            run.log(
                f"kept centres: generation {best['generation']} scores best on validation "
                f"({100 * best['validation_accuracy']:.2f}%): {best['file']}"
            )
    run.write_json("metrics.json", metrics)
    from tdca.plotting.curves import fitness_figure

    fitness_figure(result.history, run.file("fitness.png"))
    run.log("done")
    return metrics


def _trained_as_evolved(
    cfg: EvolveConfig, learner: str, splits: list[Split], curves: bool = True
) -> list[dict[str, Any]]:
    """``learner`` trains a fresh bottom-up network on each split the way the evolution's
    inner loop did (its architecture, steps, lr and optimizer)."""
    return [
        train_learner(
            learner,
            s,
            arch=cfg.arch,
            steps=cfg.steps,
            lr=cfg.lr,
            curves=curves,
            optimizer=cfg.optimizer,
            init=cfg.init,
        )
        for s in splits
    ]


KEPT_FOLDER = "snapshots"


def _kept_file(run: RunDir, generation: int) -> Path:
    return run.file(f"{KEPT_FOLDER}/credit_net-g{generation:06d}.npz")


def _selection_splits(cfg: EvolveConfig, run: RunDir | None = None) -> list[Split]:
    """The splits that score the kept centres: the validation images, or, where the
    evolution's fitness was measured on those (``fitness_data`` "validation"), the next
    5,000, so that the choice of generation is not made on the images it was evolved on.
    A run started before that rule, with too few images for it, is scored as it was then
    (on the fitness's images), which its log and a warning say; given no ``run`` (a new
    run's check before any work) that is refused instead."""
    window = 1 if cfg.fitness_data == "validation" else 0

    def splits(w: int) -> list[Split]:
        return [
            make_split(d, cfg.data_dir, cfg.train_size, validation=True, window=w)
            for d in cfg.datasets
        ]

    try:
        return splits(window)
    except ValueError:
        if run is None or window == 0:
            raise
    message = (
        "too few images for a second held-out set, so the kept centres are scored on the "
        "images the fitness used (as when this run was started): kept_best_on_validation "
        "is not held out"
    )
    run.log(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return splits(0)


def _score_kept(cfg: EvolveConfig, run: RunDir, generations: int) -> list[dict[str, Any]]:
    """Each kept centre (``keep_every``) trains a fresh network on the cell's images; its
    accuracy on held-out training images (``_selection_splits``; never the test set),
    averaged over the data sets, lets a reader choose the generation count. One inner loop
    per kept centre and data set: it costs what ``tdca train`` costs at the cell's size."""
    splits = _selection_splits(cfg, run)
    rows = []
    for generation in range(cfg.keep_every, generations + 1, cfg.keep_every):
        path = _kept_file(run, generation)
        runs = _trained_as_evolved(cfg, f"tdca:{path}", splits, curves=False)
        rows.append(
            {
                "generation": generation,
                "file": str(path.relative_to(run.path)),
                "validation_accuracy": float(np.mean([r["test_accuracy"] for r in runs])),
                "train_accuracy": float(np.mean([r["train_accuracy"] for r in runs])),
            }
        )
    return rows


def _artifact_meta(
    cfg: EvolveConfig,
    generations: int,
    centre_fitness: float | None,
    plugin_digests: dict[str, str | None],
) -> dict[str, Any]:
    """What a saved credit network says about itself, so `tdca train` can check it fits:
    the settings, the code version, and the sha256 of the plugins it was evolved with
    (``plugin_code_note``: a network registered under the same name by other code)."""
    return {
        "code_version": code_version(),
        **({"plugin_digests": plugin_digests} if plugin_digests else {}),
        "datasets": list(cfg.datasets),
        "arch": cfg.arch,
        "train_size": cfg.train_size,
        "steps": cfg.steps,
        "lr": cfg.lr,
        "optimizer": cfg.optimizer,
        "layout_spec": cfg.layout,
        "credit_init": cfg.credit_init,
        "generations": generations,
        "centre_fitness": centre_fitness,
        "fitness": cfg.fitness,
        "config": cfg.to_dict(),
    }
