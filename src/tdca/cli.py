"""The ``tdca`` command line. Every subcommand validates its arguments and fails with one
line that says what to change."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from tdca.checks import SEED_LIMIT, Unsupported
from tdca.compile_cache import use_compilation_cache
from tdca.data import DatasetError, canonical_name
from tdca.evolution import ESConfig, GenerationFailed
from tdca.experiments.classification import FITNESS_DATA
from tdca.experiments.reproduce import DATASETS, DIFFUSION_SCOPES, TABLES
from tdca.files import atomic_file
from tdca.io import ArtifactError, read_meta
from tdca.kernels import KERNELS
from tdca.networks.mlp import INIT_SCHEMES
from tdca.networks.registry import ARCHITECTURES
from tdca.plugins import digest, load_plugins
from tdca.precision import EXPLICIT_PRECISIONS, PRECISIONS
from tdca.rundir import RunDirError, check_folder, check_writable, write_json_file
from tdca.tasks.classification import FITNESS_METRICS
from tdca.tasks.rl import ENVS as ENV_NAMES


def _dataset_spec(text: str) -> str:
    """A data-set name, or ``npz:PATH`` made absolute where PATH is found from here: the
    run's config records it, and a resume from another working directory must read the
    same file. A relative PATH not found here stays relative: the loader looks for it in
    the data folder (--data-dir)."""
    if text.lower().startswith("npz:") and text[4:].strip():
        path = Path(text[4:].strip()).expanduser()
        if not path.is_absolute() and not path.exists():
            return text  # not here: the loader looks in the data folder (--data-dir) next
        return "npz:" + str(path.absolute())
    return text


def _out_path(text: str) -> Path:
    """--out as a path; an empty one (``--out ""``, an unset shell variable) is refused
    rather than read as the working directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a path (it is empty)")
    return Path(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _chunk_size(text: str) -> int | str | None:
    """--chunk-size: "auto", "none" (one vmap) or a positive number of candidates."""
    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected auto, none or a positive number of candidates, got {text!r}"
        ) from None


def _add_chunk_size_arg(p: argparse.ArgumentParser, which: str = "", default: str = "auto") -> None:
    """--chunk-size; ``default`` "none" where a candidate's evaluation is small (gaussian,
    rl), so that auto's memory analysis (two extra compilations) would cost more than it
    could save."""
    p.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=_chunk_size(default),
        metavar="auto|none|K",
        help=f"candidates each device evaluates at once{which} (default {default}): auto (the "
        "whole population in one vmap where it fits the free memory, else the largest chunk "
        "that does), none (one vmap), or K (less memory, where auto's estimate was too high "
        "for the device); it changes memory and speed, not what is evolved (fitnesses may "
        "differ in the last bit), so a resumed run may change it",
    )


def _even_population(text: str) -> int:
    value = _positive_int(text)
    if value < 2 or value % 2:
        raise argparse.ArgumentTypeError(
            f"population must be an even number >= 2 (PGPE samples mirrored pairs), got {value}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2^31), got {value}")
    return value


def _add_run_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    where = p.add_mutually_exclusive_group(required=required)
    where.add_argument("--out", type=_out_path, help="new run directory to write")
    where.add_argument("--resume", type=Path, help="run directory to continue from its checkpoint")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar or progress lines (the run's files still log every generation)",
    )


def _add_time_limit_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--time-limit",
        type=_positive_float,
        default=None,
        help="seconds of evolution; then finish at the generation reached (resumable)",
    )


def _add_distributed_args(p: argparse.ArgumentParser) -> None:
    """Several processes (hosts) evolving one population: docs/performance.md."""
    d = p.add_argument_group(
        "several processes (jax.distributed; each process gives its own --out)"
    )
    d.add_argument(
        "--distributed",
        action="store_true",
        help="join a jax.distributed job; the three options below are detected by JAX under "
        "Slurm or Open MPI, otherwise give them (giving any of them implies --distributed)",
    )
    d.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="process 0's address")
    d.add_argument("--num-processes", type=_positive_int, default=None, metavar="N")
    d.add_argument("--process-id", type=_process_id, default=None, metavar="I")
    d.add_argument(
        "--join-timeout",
        type=_positive_int,
        default=None,
        metavar="SECONDS",
        help="how long each process waits for the others to join (default 300, JAX's); "
        "with --coordinator and --process-id I > 0 a closed coordinator port stops the "
        "process in one line; a process that never joins still makes JAX abort them",
    )


def _process_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _tell_the_other_processes(joined: bool) -> None:
    """A process of a distributed job that stops before the run-directory agreement takes
    part in it as one that cannot start (``processes.fail_together``), so the others stop
    with the reason instead of waiting for it; a no-op after the agreement or alone."""
    if joined:
        from tdca.evolution.processes import fail_together

        fail_together()


def _exit_now(code: int) -> NoReturn:
    """Exit without JAX's shutdown of the distributed job, once a generation failed in a
    joined job: that shutdown waits at a barrier for every process, so where one has died
    (what a failed generation usually means there) it would hold this one until the dead
    one's heartbeat times out (93 s on JAX 0.10.2) and then abort it with a stack trace.
    Everything worth keeping is on disk already (checkpoints, metrics.jsonl and log.txt
    are written as they go)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _no_cache_across_cpu_processes() -> None:
    """A multi-process job on CPUs runs without JAX's persistent compilation cache, tdca's
    or the user's (``processes.compilation_cache_problem``: it gains nothing there and can
    hang on JAX 0.12); said when one was on. Before the first compile."""
    import jax

    from tdca.evolution.processes import compilation_cache_problem

    if compilation_cache_problem() is not None:
        jax.config.update("jax_enable_compilation_cache", False)
        print(
            "tdca: note: JAX's persistent compilation cache is off in this multi-process "
            "job on CPUs (only process 0 could load from it, and on JAX 0.12 that can hang "
            "the job)",
            file=sys.stderr,
        )


def _join_job(args: argparse.Namespace) -> bool:
    """Join the jax.distributed job the distributed options describe, before any JAX work;
    whether it did."""
    given = [getattr(args, a, None) for a in ("coordinator", "num_processes", "process_id")]
    timeout = getattr(args, "join_timeout", None)
    if not getattr(args, "distributed", False) and all(v is None for v in given):
        if timeout is not None:
            raise ValueError("--join-timeout applies to a distributed job; give --distributed")
        return False
    coordinator, num_processes, process_id = given
    if None not in (num_processes, process_id) and process_id >= num_processes:
        raise ValueError(
            f"--process-id {process_id} is not one of the {num_processes} processes "
            f"(0 .. {num_processes - 1})"
        )
    from tdca.evolution.processes import JOIN_TIMEOUT, join

    join(coordinator, num_processes, process_id, timeout or JOIN_TIMEOUT)
    return True


def _add_kernel_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kernel",
        choices=KERNELS,
        default="xla",
        help="how each TDCA inner step runs: xla (default) or fused, the per-example work "
        "in one Pallas kernel (NVIDIA GPUs; interpreted, slowly, on a CPU; one-hidden-layer "
        "MLP with dense credits only; docs/performance.md)",
    )


def _add_precision_arg(p: argparse.ArgumentParser, inherits: str = "") -> None:
    p.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default=None if inherits else "default",
        help="matmul precision (default: JAX's: float32 on CPUs, may be TF32 on recent NVIDIA "
        "GPUs); bfloat16-activations also stores data and activations in bf16; parameters, "
        f"their updates and all state stay float32{inherits}",
    )


PLUGIN_HELP = (
    "a Python file (or module name) to import first, e.g. one that registers a network "
    "(tdca.networks.register_arch), a learner (tdca.credit.register_learner) or a task "
    "(tdca.tasks.register_task), whose names --arch, --learner and tdca task then accept; "
    "repeatable; an evolution records it for its resume"
)


def _add_plugin_arg(p: argparse.ArgumentParser, dest: str) -> None:
    p.add_argument(
        "--plugin", action="append", default=[], dest=dest, metavar="FILE.py", help=PLUGIN_HELP
    )


def _plugins_given(argv: list[str]) -> list[str]:
    """The --plugin values anywhere in ``argv``: imported before the full parser is built,
    whose --arch choices must already hold the names they register. A malformed command
    line is left to that parser to report."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    pre.add_argument("--plugin", action="append", default=[])
    try:
        return pre.parse_known_args(argv)[0].plugin
    except (argparse.ArgumentError, SystemExit):
        return []


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint where an --arch choice is unknown: a network of the user's own
    is registered by a file that --plugin must name (the command's subparsers are built with
    this class too)."""

    def error(self, message: str) -> NoReturn:
        if "argument --arch: invalid choice" in message:
            message += " (a network of your own: give the file that registers it, --plugin FILE.py)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    # No abbreviated options: `--plug F` would pass the parser, yet not the first look at
    # argv that imports plugins (nor the resume check); a name in full is one thing to read.
    parser = _Parser(
        prog="tdca",
        description="Top-down credit assignment networks, evolved with PGPE.",
        allow_abbrev=False,
    )
    _add_plugin_arg(parser, "plugin")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, allow_abbrev=False, **kw)

    demo = command(
        "demo",
        help="the main job: BP vs evolved TDCA on mixed Gaussians, then on MNIST with the zoo's "
        "credit network",
    )
    demo.add_argument(
        "--out", type=_out_path, default=None, help="where to write (default: runs/demo-<time>)"
    )
    demo.add_argument("--no-progress", action="store_true")

    g = command(
        "gaussian",
        help="mixed-Gaussian optimisation (papers' first experiment)",
    )
    _add_run_args(g)
    g.add_argument("--multi-task", action="store_true", help="two Gaussians, one credit network")
    g.add_argument("--generations", type=_positive_int, default=None)
    g.add_argument("--population", type=_even_population, default=None)
    g.add_argument("--seed", type=_seed, default=0)
    g.add_argument("--steps", type=_positive_int, default=None, help="inner-loop steps M")
    _add_chunk_size_arg(g, default="none")
    _add_distributed_args(g)
    r = command(
        "rl",
        help="reinforcement learning: evolve a credit network that trains an agent, and compare "
        "it with REINFORCE and DFA (2024 paper, Table S5)",
    )
    _add_run_args(r)
    r.add_argument(
        "--env", choices=sorted(ENV_NAMES), default="cartpole", help="gymnax environment"
    )
    r.add_argument("--generations", type=_positive_int, default=None)
    r.add_argument("--population", type=_even_population, default=None)
    r.add_argument("--seed", type=_seed, default=0)
    r.add_argument(
        "--steps", type=_positive_int, default=None, help="inner-loop steps M (batches of episodes)"
    )
    r.add_argument(
        "--seeds",
        type=_positive_int,
        default=None,
        help="test seeds per learner, and as many validation seeds to pick the baselines' "
        "rate (default 5)",
    )
    _add_chunk_size_arg(r, default="none")
    _add_distributed_args(r)
    t = command("train", help="train a bottom-up classifier with one learner")
    t.add_argument(
        "--dataset",
        required=True,
        type=_dataset_spec,
        help="mnist | fashion-mnist | cifar10 | npz:PATH",
    )
    t.add_argument(
        "--learner",
        required=True,
        help="bp | bp-zero | fa | dfa | bp-adam | tdca:RUN_DIR_OR_FILE | tdca:zoo/NAME "
        "(`tdca zoo list`)",
    )
    t.add_argument(
        "--arch",
        default=None,
        choices=ARCHITECTURES,
        help="bottom-up network (default: the one a tdca: credit network was evolved for, "
        "else mlp-100)",
    )
    t.add_argument("--train-size", type=_positive_int, default=1000)
    t.add_argument("--steps", type=_positive_int, default=20)
    t.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: picked on a validation split; TDCA: the rate it was "
        "evolved for)",
    )
    t.add_argument("--batch-size", type=_positive_int, default=None, help="default: full batch")
    t.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default=None,
        help="inner optimizer applied to the learner's direction (default: sgd; TDCA: the one "
        "it was evolved with)",
    )
    t.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="draws the initial weights, feedback matrices and mini-batches; a tdca: learner "
        "on the full batch from zero weights uses none of these, so every seed gives the same",
    )
    _add_precision_arg(t, inherits=" (default: that of a tdca: credit network's evolution)")
    t.add_argument("--data-dir", default=None, help="data folder (default $TDCA_DATA_DIR)")
    t.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow reading CIFAR-10's python (pickle) release; unpickling can run code "
        "from the file, so only for files you trust",
    )
    t.add_argument("--out", type=_out_path, required=True)

    e = command("evolve", help="evolve a TDCA credit network")
    _add_run_args(e)
    e.add_argument(
        "--task",
        default="classification",
        type=_classification_only,
        help="classification (a task of your own: tdca --plugin FILE task NAME ...)",
    )
    e.add_argument(
        "--dataset",
        action="append",
        type=_dataset_spec,
        default=None,
        help="repeat for a multi-data-set ('All') credit network",
    )
    e.add_argument("--arch", default="mlp-100", choices=ARCHITECTURES)
    e.add_argument(
        "--layout",
        default="dense",
        help="dense | line:K | grid:RxC; a /group suffix (line:10/group) keeps each credit "
        "within its own group of neurons (the other reading of the 2024 paper's eq. 2)",
    )
    e.add_argument("--train-size", type=_positive_int, default=1000)
    e.add_argument("--steps", type=_positive_int, default=20)
    e.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="inner-loop learning rate (default: picked on a validation split)",
    )
    e.add_argument("--credit-init", default="dfa", choices=["dfa", "random"])
    e.add_argument(
        "--init",
        default="zero",
        choices=list(INIT_SCHEMES),
        help="the bottom-up network's start in every inner loop: zero (the papers'), or "
        "near_zero / kaiming for a network whose g'(0) is 0 (ReLU), which cannot learn "
        "from zero; a credit network evolved so trains from the same start",
    )
    e.add_argument(
        "--learned-gain",
        type=_positive_float,
        default=None,
        metavar="SPEED",
        help="also evolve one overall credit gain exp(SPEED * g), starting at 1: under SGD "
        "it is the inner step size, which PGPE otherwise barely changes (so the --lr an "
        "evolution starts at is the lr it keeps); 20 moves it by up to ~2%% a generation at "
        "the default PGPE lr (docs/outer-loop.md)",
    )
    e.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default="sgd",
        help="inner-loop optimizer applied to the credits' direction (per synapse)",
    )
    e.add_argument(
        "--anchor-credits",
        action="store_true",
        help="credits T([p, y]) - T([y, y]): zero where the network is right, as BP's and "
        "DFA's are; a PGPE perturbation then adds no stray credit that Adam would amplify "
        "(not in the papers; docs/credit-rules.md)",
    )
    e.add_argument("--generations", type=_positive_int, default=None)
    e.add_argument("--population", type=_even_population, default=None)
    e.add_argument("--sigma", type=_positive_float, default=None, help="PGPE initial std")
    e.add_argument(
        "--fitness",
        choices=FITNESS_METRICS,
        default="neg_ce",
        help="what the evolution maximises after the inner loop: minus cross-entropy "
        "(the 2024 paper's choice: a continuous signal needs fewer samples) or accuracy",
    )
    e.add_argument(
        "--fitness-data",
        choices=FITNESS_DATA,
        default="train",
        help="fitness on the inner loop's training images (papers), on 5,000 held-out "
        "training images (meta-validation), or on a held-out fifth of the --train-size "
        "images while the inner loop trains on the rest (no extra data); the test set is "
        "never used",
    )
    e.add_argument(
        "--fitness-last",
        type=_positive_int,
        default=1,
        metavar="K",
        help="average the fitness over the last K inner steps (default 1: after the last "
        "step only, as the papers); K >= 2 stops rewarding a rule whose inner loop "
        "oscillates and peaks at the last step",
    )
    e.add_argument(
        "--keep-every",
        type=_positive_int,
        default=0,
        metavar="N",
        help="keep the search centre every N generations (RUN/snapshots/, each usable as "
        "--learner tdca:FILE) and score each on a validation split at the end (one inner "
        "loop each), so the generation count can be chosen without the test set",
    )
    _add_time_limit_arg(e)
    _add_chunk_size_arg(e)
    e.add_argument(
        "--es-lr", type=_positive_float, default=None, help="PGPE learning rate (Adam on the mean)"
    )
    e.add_argument("--seed", type=_seed, default=0)
    _add_precision_arg(e)
    _add_kernel_arg(e)
    e.add_argument("--data-dir", default=None)
    _add_distributed_args(e)

    k = command(
        "task",
        help="evolve a credit network for a task of your own (tdca.tasks.register_task, in a "
        "file given with --plugin), and compare it with BP, FA and DFA on it",
    )
    k.add_argument("name", nargs="?", help="the registered task (none: list the registered ones)")
    _add_run_args(k, required=False)  # neither: list the registered tasks
    k.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a keyword for the task's builder (VALUE read as JSON where it is: 300, 0.5, "
        "true, [8, 16]; else as text); repeatable",
    )
    k.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="the credit network's inner learning rate (required: no rate is picked for a "
        "task of your own); the baselines pick theirs from five rates around it",
    )
    k.add_argument(
        "--steps", type=_positive_int, default=20, help="inner-loop steps M (default 20)"
    )
    k.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="default sgd")
    k.add_argument(
        "--credit-hidden",
        type=_widths,
        default=(30, 30),
        metavar="W,W",
        help="the credit network's hidden widths (default 30,30)",
    )
    k.add_argument("--layout", default="dense", help="dense (default) | line:K | grid:RxC[/group]")
    k.add_argument(
        "--credit-init",
        default="random",
        choices=["random", "dfa"],
        help="random, or the DFA-like rule (a credit network reading [prediction, target]), "
        "searched then with sigma 0.003 and PGPE rate 0.001 unless given",
    )
    k.add_argument(
        "--baselines",
        type=_names,
        default=("bp", "fa", "dfa"),
        help="learners to compare with, comma-separated (default bp,fa,dfa; one the task "
        "cannot run is left out, saying why; a learner of your own by its name)",
    )
    k.add_argument(
        "--seeds",
        type=_positive_int,
        default=5,
        help="test seeds, and as many validation seeds (default 5)",
    )
    k.add_argument("--generations", type=_positive_int, default=None, help="default 100")
    k.add_argument("--population", type=_even_population, default=None, help="default 32")
    k.add_argument(
        "--sigma",
        type=_positive_float,
        default=None,
        help="PGPE initial std (default 0.1; 0.003 with --credit-init dfa)",
    )
    k.add_argument(
        "--es-lr",
        type=_positive_float,
        default=None,
        help="PGPE learning rate (default 0.05; 0.001 with --credit-init dfa)",
    )
    k.add_argument("--seed", type=_seed, default=0)
    _add_time_limit_arg(k)
    _add_chunk_size_arg(k)  # auto: a task of one's own may need any memory
    _add_distributed_args(k)

    r = command("reproduce", help="rerun a table or figure of the papers")
    r.add_argument("table", choices=TABLES)
    r.add_argument(
        "--out", type=_out_path, required=True, help="folder (rerunning the same command resumes)"
    )
    r.add_argument("--scale", default="small", choices=["small", "paper"])
    r.add_argument("--data-dir", default=None)
    r.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder for evolutions and baselines shared between tables (default: --out)",
    )
    r.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated subset of the data sets to run (default: all)",
    )
    r.add_argument(
        "--archs",
        default=None,
        help="comma-separated bottom-up architectures to run (table2, tableS3; default: the "
        "table's own): tableS3 takes its own networks; table2 also any registered one, such "
        "as a plugin's (tdca --plugin FILE.py reproduce table2 --archs NAME), whose rows have "
        "the same baselines and no paper numbers",
    )
    r.add_argument(
        "--diffusion",
        choices=list(DIFFUSION_SCOPES),
        default="layer",
        help="tableS3, figS2, figS3: how a diffused credit spreads; layer (default) sums every "
        "group's Gaussian at each neuron, group keeps each credit within its own group (the "
        "other reading of the paper's eq. 2; docs/paper-departures.md)",
    )
    _add_chunk_size_arg(r, " (of the classification evolutions)")
    r.add_argument("--no-progress", action="store_true")

    b = command("bench", help="throughput: seconds/generation, FLOP/s vs matmul peak, speedup")
    b.add_argument("--out", type=_out_path, required=True, help="folder for metrics.json")
    b.add_argument("--small", action="store_true", help="2-core-CPU-sized config (< 1 min)")
    b.add_argument(
        "--precision",
        choices=list(EXPLICIT_PRECISIONS),
        default="float32",
        help="an explicit precision (no 'default', unlike train/evolve): the GEMM peak and the "
        "FLOP/s it is compared with must be measured at one named precision",
    )
    _add_kernel_arg(b)

    z = command("zoo", help="list the shipped credit networks, or verify them")
    z.add_argument("action", choices=["list", "verify"])
    z.add_argument("names", nargs="*", help="entries (default: all)")
    z.add_argument("--data-dir", default=None, help="data folder (default $TDCA_DATA_DIR)")
    z.add_argument(
        "--out", type=_out_path, default=None, help="verify: write the rows as JSON here"
    )

    rep = command(
        "report", help="write docs/results.md from reproduce, evolve, rl and task run directories"
    )
    rep.add_argument("runs", nargs="+", type=Path)
    rep.add_argument(
        "--out",
        type=_out_path,
        default=None,
        help=f"the page to write (default {DEFAULT_REPORT}, if it does not exist yet: an "
        "existing page is replaced only when named here)",
    )
    for each in sub.choices.values():  # `tdca train --plugin F` as `tdca --plugin F train`
        _add_plugin_arg(each, "command_plugin")
    return parser


def _classification_only(text: str) -> str:
    if text != "classification":
        raise argparse.ArgumentTypeError(
            f"{text!r}: tdca evolve evolves for classification; a task of your own, registered "
            f"by a file (tdca.tasks.register_task), is evolved by tdca --plugin FILE task {text}"
        )
    return text


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated widths") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: widths must be integers >= 1")
    return widths


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _train(args: argparse.Namespace) -> int:
    from tdca.experiments.classification import evolved_meta, evolved_setting
    from tdca.precision import matmul_precision

    evolved = evolved_meta(args.learner)  # read once: precision, arch, lr, optimizer
    if args.precision is None:  # a credit network trains as it was evolved
        args.precision = evolved_setting(evolved, "precision") or "default"
    with matmul_precision(args.precision):
        return _train_at_precision(args, evolved)


def _train_at_precision(args: argparse.Namespace, evolved: dict[str, Any] | None) -> int:
    import jax

    from tdca.experiments.classification import (
        baseline_grid,
        bp_adam_batch,
        build_model,
        evolved_setting,
        fingerprint,
        learner_parts,
        make_split,
        make_task,
        plugin_code_note,
        train_learner,
        tune_lr,
    )
    from tdca.rundir import RunDir

    if args.arch is None:
        args.arch = evolved_setting(evolved, "arch") or "mlp-100"
    # Validate data, learner and checkpoint before creating the run directory.
    split = make_split(args.dataset, args.data_dir, args.train_size, allow_pickle=args.allow_pickle)
    probe = make_task(split, build_model(args.arch, split.dataset), "zero")
    learner_parts(args.learner, probe, jax.random.PRNGKey(0))
    lr, tuned, optimizer, batch_size = args.lr, None, args.optimizer, args.batch_size
    if args.learner == "bp-adam":  # the convergence reference: Adam on mini-batches, always
        if optimizer not in (None, "adam"):
            raise ValueError("bp-adam always trains with Adam; drop --optimizer (or use bp)")
        optimizer, batch_size = "adam", bp_adam_batch(batch_size, len(split.x_train))
    run = RunDir(args.out, kind="train", resumable=False)
    if args.learner.startswith("tdca:"):
        from tdca.credit.artifact import resolve

        source = resolve(args.learner.split(":", 1)[1])
        meta = evolved if evolved is not None else read_meta(source)
        if lr is None and not isinstance(meta.get("lr"), int | float):
            raise ArtifactError(f"{source}: records no inner learning rate; give --lr")
        evolved_with = meta.get("optimizer", "sgd")
        if lr is None and optimizer not in (None, evolved_with):
            print(
                f"tdca train: note: {source} was evolved with {evolved_with} at lr "
                f"{meta['lr']:g}; that lr is kept for --optimizer {optimizer} (give --lr to "
                "change it)",
                file=sys.stderr,
            )
        lr = float(meta["lr"]) if lr is None else lr
        optimizer = optimizer or evolved_with
        evolved_at = (meta.get("train_size"), meta.get("steps"))
        if None not in evolved_at and evolved_at != (args.train_size, args.steps):
            print(
                f"tdca train: note: {source} was evolved on {evolved_at[0]} images x "
                f"{evolved_at[1]} steps; this run trains {args.train_size} x {args.steps} "
                "(--train-size, --steps)",
                file=sys.stderr,
            )
        other_code = plugin_code_note(meta, args.arch)
        if other_code:
            print(f"tdca train: note: {other_code}", file=sys.stderr)
        evolved_on = meta.get("datasets")
        seen = (
            {canonical_name(str(d)) for d in evolved_on} if isinstance(evolved_on, list) else set()
        )
        if seen and canonical_name(args.dataset) not in seen:
            print(
                f"tdca train: note: {source} was evolved on {', '.join(map(str, evolved_on))}; "
                f"training {args.dataset} with it is a transfer to data it never saw",
                file=sys.stderr,
            )
    optimizer = optimizer or "sgd"
    if lr is None:
        tuned = tune_lr(
            args.learner,
            args.dataset,
            args.data_dir,
            arch=args.arch,
            train_size=args.train_size,
            steps=args.steps,
            batch_size=batch_size,
            allow_pickle=args.allow_pickle,
            optimizer=optimizer,
            grid=baseline_grid(args.learner, optimizer),
        )
        lr = tuned["lr"]
        if not tuned["above_chance"]:
            best = max(tuned["validation_accuracy"])
            print(
                f"tdca train: note: no learning rate in {tuned['grid']} trained {args.learner} "
                f"above chance on the validation split (best {best:.2%}); lr {lr} is a pick "
                "among noise, and the learner does not learn this protocol as it stands",
                file=sys.stderr,
            )
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config["plugins"] = config.pop("plugin")  # the key evolve's config.json uses
    run.write_config(
        {"experiment": "train", **config, "lr": lr, "optimizer": optimizer, "lr_tuning": tuned}
        | {"batch_size": batch_size, "data_fingerprint": fingerprint(split)}
        | ({"plugin_digests": {q: digest(q) for q in args.plugin}} if args.plugin else {})
    )
    m = train_learner(
        args.learner,
        split,
        arch=args.arch,
        steps=args.steps,
        lr=lr,
        seed=args.seed,
        batch_size=batch_size,
        optimizer=optimizer,
    )
    m["lr_tuning"] = tuned
    run.write_json("metrics.json", m)
    from tdca.plotting.curves import accuracy_curves

    accuracy_curves(
        {args.learner: {"train": m["curve_train_accuracy"], "test": m["curve_test_accuracy"]}},
        run.file("accuracy.png"),
        f"{split.name}, {m['train_size']} images",
    )
    run.log(f"train accuracy {m['train_accuracy']:.4f}, test {m['test_accuracy']:.4f}")
    print(
        f"{args.learner} on {split.name} ({m['train_size']} images, {m['steps']} steps, "
        f"lr {lr:g}{_gain_note(m)}): train {100 * m['train_accuracy']:.2f}%, "
        f"test {100 * m['test_accuracy']:.2f}%  -> {args.out}/metrics.json"
    )
    if m.get("diverged"):
        print(
            "warning: training diverged (the loss is not finite); the accuracies above are "
            "those of a broken network",
            file=sys.stderr,
        )
    return 0


def _es_from_args(es: ESConfig, args: argparse.Namespace) -> ESConfig:
    """The config's PGPE settings with the flags that were given (a command without some of
    them, like `gaussian` without --sigma, leaves those as they are)."""
    flags = {
        "generations": "generations",
        "population": "population",
        "sigma": "sigma_init",
        "es_lr": "learning_rate",
    }
    given = {f: getattr(args, a) for a, f in flags.items() if getattr(args, a, None) is not None}
    return replace(es, **given)


# With --resume a run continues with its saved config.json; only these options apply.
RESUME_OPTIONS = frozenset(
    {
        "--resume",
        "--generations",
        "--time-limit",
        "--chunk-size",
        "--data-dir",
        "--no-progress",
        "--distributed",
        "--coordinator",
        "--num-processes",
        "--process-id",
        "--join-timeout",
        "--plugin",
    }
)


def _refuse_ignored_on_resume(args: argparse.Namespace, argv: list[str]) -> None:
    """A flag that would silently not apply on --resume is an error, not a no-op."""
    if getattr(args, "resume", None) is None:
        return
    ignored = sorted({t.split("=", 1)[0] for t in argv if t.startswith("--")} - RESUME_OPTIONS)
    if ignored:
        known = (o for o in RESUME_OPTIONS - {"--resume"} if hasattr(args, o[2:].replace("-", "_")))
        allowed = ", ".join(sorted(known))  # those this command has
        raise ValueError(
            f"--resume continues the run with its saved config.json, so {', '.join(ignored)} "
            f"would be ignored; with --resume only {allowed} apply (--generations extends the run)"
        )


def _gain_note(m: dict) -> str:
    """', credit gain K' for a credit network with an evolved gain (its step is lr x K)."""
    return f", credit gain {m['credit_gain']:.3g}" if "credit_gain" in m else ""


def _evolve(args: argparse.Namespace) -> int:
    from tdca.experiments.classification import EvolveConfig, run_evolve

    cfg = EvolveConfig(
        datasets=tuple(args.dataset or ["mnist"]),
        arch=args.arch,
        train_size=args.train_size,
        steps=args.steps,
        lr=args.lr,
        layout=args.layout,
        credit_init=args.credit_init,
        init=args.init,
        gain_speed=args.learned_gain or 0.0,
        optimizer=args.optimizer,
        fitness=args.fitness,
        fitness_data=args.fitness_data,
        fitness_last=args.fitness_last,
        precision=args.precision,
        keep_every=args.keep_every,
        kernel=args.kernel,
        anchored=args.anchor_credits,
        seed=args.seed,
        data_dir=args.data_dir,
        plugins=tuple(args.plugin),
    )
    cfg = replace(cfg, es=_es_from_args(cfg.es, args))
    resume = args.resume is not None
    out = args.resume or args.out
    m = run_evolve(
        None if resume else cfg,
        out,
        resume=resume,
        extend_to=args.generations if resume else None,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        time_limit=args.time_limit,
        plugins=tuple(args.plugin),
        chunk_size=args.chunk_size,
    )
    if m is None:
        print(f"interrupted; continue with: tdca evolve --resume {out}", file=sys.stderr)
        return 130
    for r in m["results"]:
        print(
            f"{r['dataset']}: train {100 * r['train_accuracy']:.2f}%, "
            f"test {100 * r['test_accuracy']:.2f}% ({r['train_size']} images, "
            f"{r['steps']} steps)"
        )
    print(f"credit network: {out}/credit_net.npz")
    done, configured = m["evolution"]["generations"], m["evolution"]["generations_configured"]
    if done < configured:  # --time-limit: the numbers above are for the network so far
        print(
            f"stopped by --time-limit at generation {done} of {configured} (the accuracies "
            f"above are for the credit network so far); continue with: tdca evolve "
            f"--resume {out}"
        )
    if "kept_best_on_validation" in m:
        best = m["kept_best_on_validation"]
        print(
            f"best kept centre on validation: generation {best['generation']} "
            f"({100 * best['validation_accuracy']:.2f}%): {out}/{best['file']}"
        )
    return 0


def _options(given: list[str]) -> dict[str, Any]:
    """--option KEY=VALUE pairs as the builder's keywords; a KEY given twice is refused."""
    from tdca.tasks.registry import parse_option

    options: dict[str, Any] = {}
    for text in given:
        key, value = parse_option(text)
        if key in options:
            raise ValueError(f"--option {key} is given twice")
        options[key] = value
    return options


def task_config(args: argparse.Namespace) -> Any:
    """The ``TaskConfig`` of a new ``tdca task`` run, from its parsed command line."""
    from tdca.experiments.registered_task import TaskConfig

    if args.name is None:
        raise ValueError("name the task to evolve for (tdca task NAME --out DIR ...)")
    if args.lr is None:
        raise ValueError("give --lr, the credit network's inner learning rate")
    cfg = TaskConfig(
        task=args.name,
        lr=args.lr,
        options=_options(args.option),
        steps=args.steps,
        optimizer=args.optimizer,
        credit_hidden=args.credit_hidden,
        layout=args.layout,
        credit_init=args.credit_init,
        baselines=args.baselines,
        seeds=args.seeds,
        seed=args.seed,
        plugins=tuple(args.plugin),
    )
    return replace(cfg, es=_es_from_args(cfg.es, args))


def _task(args: argparse.Namespace) -> int:
    from tdca.experiments.registered_task import run_task, summary_lines
    from tdca.tasks.registry import TASKS

    if args.resume is None and args.out is None:
        bare = vars(build_parser().parse_args(["task"]))  # the defaults of every setting
        given = [
            k
            for k, v in bare.items()
            if k not in ("plugin", "no_progress") and getattr(args, k, v) != v
        ]
        if args.name is not None or given:  # a run's settings, but no folder to write it to
            raise ValueError("give --out DIR (a new run) or --resume DIR")
        names = ", ".join(sorted(TASKS)) or "none (tdca --plugin FILE.py task: FILE registers one)"
        print(f"registered tasks: {names}")
        return 0
    cfg = None
    if args.resume is None:
        cfg = task_config(args)
    elif args.name is not None:
        raise ValueError("--resume continues the saved run's task; give no NAME with it")
    out = args.resume or args.out
    m = run_task(
        cfg,
        out,
        resume=args.resume is not None,
        extend_to=args.generations if args.resume is not None else None,
        plugins=tuple(args.plugin),
        progress=not args.no_progress,
        time_limit=args.time_limit,
        chunk_size=args.chunk_size,
    )
    if m is None:
        print(f"interrupted; continue with: tdca task --resume {out}", file=sys.stderr)
        return 130
    print("\n".join(summary_lines(m)))
    print(f"credit network: {out}/credit_net.npz")
    done, configured = m["evolution"]["generations"], m["evolution"]["generations_configured"]
    if done < configured:
        print(
            f"stopped by --time-limit at generation {done} of {configured}; continue with: "
            f"tdca task --resume {out}"
        )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from tdca.experiments.reproduce import run_reproduce

    datasets = _names(args.datasets)
    m = run_reproduce(
        args.table,
        args.out,
        scale=args.scale,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        cache=args.cache,
        datasets=datasets,
        archs=None if args.archs is None else tuple(a.strip() for a in args.archs.split(",")),
        diffusion=args.diffusion,
        chunk_size=args.chunk_size,
        plugins=tuple(args.plugin),
    )
    print((args.out / "table.md").read_text())
    print(f"{len(m['rows'])} rows in {m['seconds']} s -> {args.out}/metrics.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from tdca.bench import run_bench

    run_bench(args.small, args.out, args.precision, kernel=args.kernel)
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from tdca import zoo

    if args.action == "list":
        for name in args.names or zoo.names():
            c = zoo.card(name)
            best = ", ".join(
                f"{r['dataset']} {r['train_size']}/{r['steps']}: {100 * r['test_accuracy']:.2f}%"
                for r in c["recorded"]
            )
            print(f"{name}: {c['summary']}\n    test accuracy {best}")
        return 0
    from tdca.zoo.verify import verify

    if args.out is not None:  # checked before minutes of verification, not after
        _check_output_file(args.out, _is_verify_output, "a `tdca zoo verify` output")

    def say(r: dict[str, Any]) -> None:  # as each row is done: a long check shows progress
        print(
            f"{'ok ' if r['ok'] else 'OFF'} {r['entry']} {r['dataset']} {r['train_size']}/"
            f"{r['steps']}: test {100 * r['test_accuracy']:.2f}% (recorded "
            f"{100 * r['recorded_test_accuracy']:.2f}%), max diff "
            f"{100 * r['max_abs_difference']:.2f} points",
            flush=True,
        )

    rows = verify(args.names or None, args.data_dir, on_row=say)
    if args.out is not None:
        import jax

        payload = {"kind": VERIFY_KIND, "backend": jax.default_backend(), "rows": rows}
        write_json_file(args.out, payload)
    return 0 if all(r["ok"] for r in rows) else 1


VERIFY_KIND = "tdca-zoo-verify"


def _is_verify_output(path: Path) -> bool:
    """An earlier ``tdca zoo verify --out`` (files from before it wrote ``kind`` hold just
    ``backend`` and ``rows``)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(saved, dict) and (
        saved.get("kind") == VERIFY_KIND or set(saved) == {"backend", "rows"}
    )


DEFAULT_REPORT = Path("docs/results.md")


def _is_report_output(path: Path) -> bool:
    try:
        head = path.read_text(errors="replace")[:400]
    except OSError:
        return False
    return head.startswith("# Results") and "Generated by `tdca report`" in head


def _report(args: argparse.Namespace) -> int:
    from tdca.experiments.report import results_document, unused_run_dirs

    if args.out is None:
        args.out = DEFAULT_REPORT
        if args.out.exists():  # perhaps made of other runs: replaced only when named
            raise RunDirError(
                f"{args.out} exists (a page made of other runs?) and is replaced only when "
                f"named: give --out {args.out} to replace it, or another file"
            )
    _check_output_file(args.out, _is_report_output, "a document `tdca report` wrote")
    for d, why in unused_run_dirs(args.runs):
        print(f"tdca report: warning: {d}: {why}; left out", file=sys.stderr)
    document = results_document(args.runs)
    with atomic_file(args.out, "w") as f:  # a stop mid-write leaves the old page whole
        f.write(document)
    print(f"wrote {args.out}")
    return 0


def _run_or_resume(
    args: argparse.Namespace, run: Callable[..., dict[str, Any] | None], cfg: Any
) -> tuple[dict[str, Any] | None, Path]:
    """An experiment's ``run`` (``run_gaussian``, ``run_rl``) with ``cfg`` into --out, or
    continuing --resume with its saved config; (metrics or None if interrupted, the run
    directory), after saying how to continue an interrupted run."""
    resume = args.resume is not None
    out = args.resume or args.out
    metrics = run(
        None if resume else cfg,
        out,
        resume=resume,
        extend_to=args.generations if resume else None,
        progress=not args.no_progress,
        chunk_size=args.chunk_size,
    )
    if metrics is None:
        print(f"interrupted; continue with: tdca {args.command} --resume {out}", file=sys.stderr)
    return metrics, out


def _gaussian(args: argparse.Namespace) -> int:
    from tdca.experiments.gaussian import GaussianConfig, run_gaussian

    cfg = GaussianConfig(multi_task=args.multi_task, seed=args.seed)
    cfg = replace(cfg, es=_es_from_args(cfg.es, args), steps=args.steps or cfg.steps)
    metrics, out = _run_or_resume(args, run_gaussian, cfg)
    if metrics is None:
        return 130
    tasks = metrics.get("tasks", [metrics])
    for k, m in enumerate(tasks, 1):
        fld = m["field"]
        print(
            f"function {k}: BP ends {m['bp']['reached']} ({fld['bp_to_global_fraction']:.2f} of "
            f"grid to global), TDCA ends {m['tdca']['reached']} "
            f"({fld['tdca_to_global_fraction']:.2f}); global basin share "
            f"{fld['global_basin_fraction']:.2f}"
        )
    print(f"wrote {out}/metrics.json")
    return 0


def _rl(args: argparse.Namespace) -> int:
    from tdca.experiments.rl import RLConfig, run_rl

    cfg = RLConfig(env=args.env, seed=args.seed)
    given = {k: v for k, v in (("steps", args.steps), ("seeds", args.seeds)) if v is not None}
    cfg = replace(cfg, es=_es_from_args(cfg.es, args), **given)
    metrics, out = _run_or_resume(args, run_rl, cfg)
    if metrics is None:
        return 130
    print(
        f"{metrics['gym_id']}: greedy return after {metrics['steps']} inner steps, mean +- std "
        f"over {metrics['seeds']} test seeds (paper, Table S5: {metrics['paper']})"
    )
    for name, m in metrics["learners"].items():
        print(
            f"  {name:<10} {m['final_return_mean']:9.1f} +- {m['final_return_std']:<7.1f}"
            f" (inner Adam lr {m['lr']:g}, init {m['init']})"
        )
    print(f"wrote {out}/metrics.json")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tdca.experiments.demo import run_demo

    out = args.out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    run_demo(out, progress=not args.no_progress)
    return 0


def _check_output_file(
    path: Path, written_by: Callable[[Path], bool], what: str, flag: str = "--out"
) -> None:
    """A file we will write: not a directory, its folder can be made, and an existing file
    there is only replaced where ``written_by`` says this command wrote it (regenerating
    docs/results.md, say), never another command's result or a credit network."""
    if path.is_dir():
        raise RunDirError(f"{flag} {path}: is a directory; give a file name")
    if path.exists() and not written_by(path):
        raise RunDirError(
            f"{flag} {path}: exists and is not {what}; it is not replaced. Choose another "
            "file name (or move that file away)"
        )
    in_the_way = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if in_the_way is not None:
        raise RunDirError(f"{flag} {path}: {in_the_way} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"{flag} {path}: cannot create its folder ({e.strerror})") from e
    check_writable(path.parent, flag, shown=path)  # before the work (written beside itself)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a scheduler, `timeout`, an ending lease) or SIGHUP (a closed terminal)
    stops a run like Ctrl-C does: an evolution saves its checkpoint and says how to resume,
    instead of losing generations."""
    raise KeyboardInterrupt


PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _one_line_warnings(command: str, default: Callable[..., str]) -> Callable[..., str]:
    """How the tdca command prints the library's own warnings (what a user should know: a
    rate that trains nothing, a rebuilt cache): one line, as its notes, not Python's
    'FILE:LINE: RuntimeWarning: ...' with a source line. Others keep Python's format. A
    formatter, not a showwarning: warnings recorded (pytest.warns) are recorded as before."""

    def format_warning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        line: str | None = None,
    ) -> str:
        ours = filename.startswith(PACKAGE_DIR) and not issubclass(
            category, DeprecationWarning | PendingDeprecationWarning | FutureWarning
        )
        if ours:
            return f"tdca {command}: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    return format_warning


def _stop_on_signals() -> dict[int, Any]:
    """Make SIGTERM, and SIGHUP (a closed terminal, a dropped ssh session) where it would
    kill the process, stop a run as Ctrl-C does; a SIGHUP ignored already (``nohup``) stays
    ignored. Returns the handlers to restore."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate)}
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is not None and signal.getsignal(hangup) is signal.SIG_DFL:
        previous[hangup] = signal.signal(hangup, _terminate)
    return previous


def _check_data_dir(args: argparse.Namespace) -> None:
    """The data folder of a command that reads data (--data-dir, else $TDCA_DATA_DIR): a
    file is refused, and one that does not exist is said, so that a misspelt folder does
    not pass unseen."""
    from tdca.data.cache import ENV_DATA_DIR

    if not hasattr(args, "data_dir"):  # a command that reads no data set
        return
    given, flag = args.data_dir, "--data-dir"
    if not given and os.environ.get(ENV_DATA_DIR, "").strip():  # the same folder, by its other name
        given, flag = os.environ[ENV_DATA_DIR], ENV_DATA_DIR
    if not given:
        return
    path = Path(given).expanduser()
    check_folder(path, flag=flag)
    if not path.exists():
        print(
            f"tdca: note: {flag} {given} does not exist (is the name misspelt?); CIFAR-10 and "
            "npz files are not found there, and MNIST or Fashion-MNIST come from their "
            "verified cache, or are fetched into that folder",
            file=sys.stderr,
        )


def _resume_hint(args: argparse.Namespace) -> str:
    """How to go on after a stop outside the generation loop (e.g. during an evolution's
    final evaluation, or between the cells of a table): the saved work is reused."""
    if args.command in ("evolve", "gaussian", "rl", "task"):
        out = args.resume or args.out
        if out is not None and (Path(out) / "config.json").exists():
            return f"; continue with: tdca {args.command} --resume {out}"
        if args.out is not None and Path(args.out).is_dir():  # e.g. while picking the lr
            return (
                " before the first generation, so there is nothing to resume; run the same "
                f"command again (it reuses {args.out})"
            )
    if args.command == "reproduce":
        return "; finished cells are kept: run the same command again to continue"
    return ""


def main(argv: list[str] | None = None) -> int:
    as_command = argv is None  # the `tdca` command, not a call from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        load_plugins(_plugins_given(argv))
        args = build_parser().parse_args(argv)
    except ValueError as e:
        print(f"tdca: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while a plugin was imported: nothing ran yet
        print("tdca: interrupted while starting; nothing ran", file=sys.stderr)
        return 130
    handlers = {
        "gaussian": _gaussian,
        "rl": _rl,
        "demo": _demo,
        "train": _train,
        "evolve": _evolve,
        "task": _task,
        "reproduce": _reproduce,
        "bench": _bench,
        "report": _report,
        "zoo": _zoo,
    }
    joined = False
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = _stop_on_signals() if in_main_thread else {}
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _one_line_warnings(args.command, formatwarning)
    try:
        # as recorded (a file's absolute path); also any the first look at argv missed
        args.plugin = list(load_plugins([*args.plugin, *args.command_plugin]))
        del args.command_plugin
        _refuse_ignored_on_resume(args, argv)
        _check_data_dir(args)
        if args.command != "bench":  # the benchmark reports compile times as they are
            use_compilation_cache()
        joined = _join_job(args)
        if joined:
            _no_cache_across_cpu_processes()
        return handlers[args.command](args)
    except (
        RunDirError,
        ArtifactError,
        DatasetError,
        Unsupported,
        ValueError,
        OSError,
        GenerationFailed,
    ) as e:
        print(f"tdca {args.command}: error: {e}", file=sys.stderr)
        _tell_the_other_processes(joined)
        if joined and isinstance(e, GenerationFailed):
            _exit_now(2)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted{_resume_hint(args)}", file=sys.stderr)
        _tell_the_other_processes(joined)
        return 130
    except BaseException:  # a bug's traceback, still not leaving the other processes waiting
        _tell_the_other_processes(joined)
        raise
    finally:
        warnings.formatwarning = formatwarning
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if as_command and in_main_thread:
            # The work is saved and said: a Ctrl-C from here on (a second one, while JAX's
            # exit handlers tear down its backends) ends the process at once, as 130, rather
            # than printing their traceback. Run directory locks are released before those.
            signal.signal(signal.SIGINT, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
