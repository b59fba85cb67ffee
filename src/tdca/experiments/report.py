"""Markdown from run directories: each reproduced table, and docs/results.md for all of them.

Numbers come only from the ``metrics.json`` files the commands wrote; nothing is typed in.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tdca.experiments import paper_numbers as paper
from tdca.experiments.lr_grid import LR_GRID_EXTENSION
from tdca.experiments.reproduce import FIXED_DATASETS
from tdca.rundir import RUN_METADATA, RunDirError, experiment_of, read_json

TITLES = {
    "table1": "Table 1: MNIST at three settings; transfer to Fashion-MNIST",
    "table2": "Table 2: deep fully connected and convolutional bottom-up networks",
    "tableS1": "Table S1: the three data sets with a 784/3072-100-10 network",
    "tableS2": "Table S2: transfer of evolved credit networks across data sets",
    "tableS3": "Table S3: credit diffusion",
    "tableS4": "Table S4: complexity",
    "figS1": "Figure S1: PGPE convergence (the search centre per generation)",
    "figS2": "Figure S2: accuracy against inner step",
    "figS3": "Figure S3: update trajectories on the loss landscape",
}
COMMANDS = "`tdca reproduce`, `tdca evolve`, `tdca rl` or `tdca task`"
"""The commands whose run directories the report reads."""

# Figure S3's numbers for the papers' "almost orthogonal" (tdca.analysis.trajectories).
TRAJECTORY_COLUMNS = (
    "optimizer",
    "compared_with",
    "cos_principal",
    "cos_displacement",
    "chance_cos",
    "gradient_alignment",
)


def _pct(v: float | None, std: float | None = None, seeds: int | None = None) -> str:
    if v is None:
        return "–"
    s = f"{100 * v:.2f}"
    if std is not None and seeds and seeds > 1:
        s += f" ± {100 * std:.2f}"
    return s


def _before_last(row: dict[str, Any]) -> float | None:
    """Test accuracy one inner step before the last, where the run recorded its curve."""
    curve = row.get("curve_test_accuracy") or []
    return curve[-2] if len(curve) >= 2 else None


def table_markdown(metrics: dict[str, Any]) -> str:
    """One reproduced table as markdown, ours beside the paper's."""
    table, rows = metrics["table"], metrics["rows"]
    lines = [f"## {TITLES.get(table, table)} (scale: {metrics['scale']})", ""]
    if table == "tableS4":
        from tdca.complexity import to_markdown

        return "\n".join([*lines, to_markdown(rows), ""])
    keys = ("arch", "layout", "column", "evolved_on", "generations", *TRAJECTORY_COLUMNS)
    extra = [k for k in keys if any(k in r for r in rows)]
    head = [
        "dataset",
        "method",
        *extra,
        "train size",
        "steps",
        "ours train %",
        "ours test %",
        "paper at",
        "paper train %",
        "paper test %",
        "lr",
        "note",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        seeds = r.get("seeds")
        cells = [
            r["dataset"],
            r["method"],
            *[str(r.get(k, "")) for k in extra],
            str(r["train_size"]),
            str(r["steps"]),
            _pct(r.get("train_accuracy"), r.get("train_accuracy_std"), seeds),
            _pct(r.get("test_accuracy"), r.get("test_accuracy_std"), seeds),
            paper.protocol(table, r),
            _pct(r.get("paper_train_accuracy")),
            _pct(r.get("paper_test_accuracy")),
            f"{r['lr']:g}" if r.get("lr") is not None else "",
            r.get("note", ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    s = metrics.get("settings", {})
    # Runs made before baseline tuning extended its grid recorded no extension.
    ext = s.get("lr_grid_extension")
    extended = (
        f", extended by up to {ext} rates past an end where the best rate sat; each row's lr "
        "is its pick"
        if ext
        else ""
    )
    lines += [
        "",
        f"Ours: mean ± std over {s.get('seeds')} seeds for BP/DFA (learning rate picked on a "
        f"validation split from {s.get('lr_grid')}{extended}); TDCA is one evolved network (PGPE, "
        f"population {s.get('es', {}).get('population')}, "
        f"{s.get('es', {}).get('generations')} generations, credit-network init "
        f"'{s.get('credit_init')}', inner lr {s.get('tdca_lr')}); inner optimizer "
        f"{s.get('inner_optimizer', 'sgd')} for every full-batch learner. Wall time "
        f"{metrics.get('seconds')} s; code {metrics.get('code_version', {}).get('git_commit')}.",
        "",
    ]
    if table in FIGURE_NOTES:
        lines += [FIGURE_NOTES[table], ""]
    return "\n".join(lines)


FIGURE_NOTES = {
    "figS1": "Figure `figS1.png`: the PGPE search centre's cross-entropy (a) and accuracy (b) "
    "on the fitness images (the inner loop's own training set, after its M steps) per "
    "generation, up to the first 500 generations of each Table S1 evolution (each row "
    "says how many it has); the rows give the network it evolved into. The paper shows "
    "these curves only as a figure.",
    "figS3": "Figures `figS3_mnist.png` (trajectories on the loss landscape) and "
    "`figS3_alignment.png`. All start from one point: zero for TDCA, the papers' "
    "Zero-BP start (within 1e-16 of it) for BP, which runs with Adam at every scale (under "
    "SGD it never leaves that start). *cos_principal*: cosine between the first principal "
    "direction of the *compared_with* method's trajectory and this one's (the paper reads "
    'its figure as "almost orthogonal"); *cos_displacement*: between their net displacements; '
    "*chance_cos*: 1/sqrt(parameters), the typical size of the cosine between two random "
    'directions, so "orthogonal" is what chance alone gives. The row *zero-bp-seed1* is a '
    "control the paper lacks: BP again, from another start within 1e-16 of zero, compared "
    "with BP (its *compared_with*). *gradient_alignment* "
    "(beyond the paper): the mean over steps of the cosine between the rule's update "
    "direction and BP's at the same parameters (1: it follows the gradient).",
}


def _kind(d: Path) -> tuple[str | None, dict[str, Any] | None]:
    """("table" | "check" | "rl" | "task" | None, metrics) for a run directory given to the
    report."""
    f = d / "metrics.json"
    if not f.is_file():
        return None, None
    m = read_json(f)
    if not isinstance(m, dict):
        return None, None
    if "table" in m:
        return "table", m
    if "results" in m and (d / "config.json").is_file():
        return "check", m
    if "learners" in m and "env" in m and (d / "config.json").is_file():
        return "rl", m
    if "learners" in m and "task" in m and _experiment_is(d, "task"):
        return "task", m
    return None, m


def _unfinished(d: Path, kind: str | None, m: dict[str, Any] | None) -> str | None:
    """Why the metrics.json of an evolve or rl run is not the run its config.json now
    describes (it was resumed with a larger --generations and stopped before the end, so
    metrics.json is still the shorter run's), or None. A row would pair the new command
    with the old numbers."""
    if kind not in ("check", "rl", "task") or m is None:
        return None
    try:
        configured = read_json(d / "config.json")["es"]["generations"]
        ev = m["evolution"]
        # evolve's metrics.json says what it was configured for (a --time-limit may end it
        # early, at fewer generations: a finished run); rl's ends only at its last one
        ran_for = ev["generations"] if kind == "rl" else ev.get("generations_configured")
        reached = ev["generations"]
    except (KeyError, TypeError, AttributeError, RunDirError):
        return None  # damage: the row says what is missing
    if ran_for is None or ran_for == configured:
        return None
    command = {"check": "evolve", "rl": "rl", "task": "task"}[kind]
    return (
        f"unfinished: its metrics.json is from generation {reached} of {configured} "
        f"(config.json); finish it with tdca {command} --resume {d}"
    )


def _stopped(d: Path) -> str | None:
    """Why a run directory that has a checkpoint but no metrics.json yet is left out: it
    stopped before its end (Ctrl-C, a time limit on a longer run), and how to finish it."""
    from tdca.credit.artifact import RESUMED_BY

    if not (d / "checkpoint.npz").is_file():
        return None
    try:
        command = RESUMED_BY.get(experiment_of(d / "config.json") or "")
    except RunDirError:
        return None
    if command is None:
        return None
    return (
        f"stopped before its end (no metrics.json yet); finish it with tdca {command} --resume {d}"
    )


CUSTOM_EVOLUTION = (
    "an evolution run from Python (tdca.evolution.evolve; its results are its metrics.jsonl "
    "and checkpoint, which the report has no table for)"
)


def _custom_evolution(d: Path) -> bool:
    """Whether ``d`` is the run directory of ``evolve`` called from a user's script."""
    from tdca.evolution.runner import OWN_KIND

    return _experiment_is(d, OWN_KIND)


def _experiment_is(d: Path, kind: str) -> bool:
    """Whether ``d``'s config.json says it is a run of ``kind``."""
    try:
        return (d / "config.json").is_file() and experiment_of(d / "config.json") == kind
    except RunDirError:
        return False


def unused_run_dirs(run_dirs: list[Path]) -> list[tuple[Path, str]]:
    """The given paths the report cannot use, and why, so that a typo is not a silent gap
    (folders without a metrics.json, like a cache a shell glob picked up, pass quietly).
    Raises ValueError when none of them is usable."""
    unused, usable = [], 0
    for d in map(Path, run_dirs):
        kind, m = _kind(d)
        unfinished = _unfinished(d, kind, m)
        usable += kind is not None and unfinished is None
        if unfinished:
            unused.append((d, unfinished))
        elif not d.exists():
            unused.append((d, "no such file or directory"))
        elif kind is None and m is not None:
            unused.append((d, f"its metrics.json is not from {COMMANDS}"))
        elif m is None and _custom_evolution(d):
            unused.append((d, CUSTOM_EVOLUTION))
        elif m is None and (stopped := _stopped(d)):
            unused.append((d, stopped))
    if not usable:
        why = "; ".join(f"{d}: {reason}" for d, reason in unused[:3])
        raise ValueError(
            f"none of the {len(run_dirs)} paths given is a {COMMANDS} run directory (with its "
            f"metrics.json){f' ({why})' if why else ''}"
        )
    return unused


def _table_section(d: Path, m: dict[str, Any]) -> list[str]:
    """One reproduced table: the command that made it, then the table."""
    if m["table"] not in TITLES:
        raise ValueError(f"unknown table {m['table']!r}; tables: {', '.join(TITLES)}")
    saved = d / "config.json"
    config = read_json(saved) if saved.is_file() else {}
    config = config if isinstance(config, dict) else {}
    plugins = "".join(f" --plugin {q}" for q in config.get("plugins") or ())  # a user's network
    cmd = f"tdca{plugins} reproduce {m['table']} --scale {m['scale']}"
    if m.get("datasets") and len(m["datasets"]) < 3 and m["table"] not in FIXED_DATASETS:
        cmd += f" --datasets {','.join(m['datasets'])}"
    if m.get("archs"):
        cmd += f" --archs {','.join(m['archs'])}"
    if m.get("diffusion", "layer") != "layer":
        cmd += f" --diffusion {m['diffusion']}"
    if m.get("cache"):
        cmd += f" --cache {m['cache']}"
    data_dir = config.get("data_dir")
    if data_dir:  # other files than the default folder's: part of what made the table
        cmd += f" --data-dir {data_dir}"
    return [f"Command: `{cmd} --out {d}`", "", table_markdown(m)]


def _check_rows(d: Path, m: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """The *Single evolutions* rows of one evolve run directory."""
    rows: list[str] = []
    shape = f"{cfg.get('arch', 'mlp-100')}, {cfg.get('layout', 'dense')}"
    fitness = f"{cfg.get('fitness', 'neg_ce')} on {cfg.get('fitness_data', 'train')}"
    if cfg.get("fitness_last", 1) > 1:
        fitness += f", mean of last {cfg['fitness_last']} steps"
    start = {r["dataset"]: r["test_accuracy"] for r in m.get("at_start", [])}
    dfa = {r["dataset"]: r["test_accuracy"] for r in m.get("dfa_at_same_lr", [])}
    for r in m["results"]:
        rows.append(
            f"| `{d}` | {'+'.join(cfg['datasets'])} → {r['dataset']} | {shape} | "
            f"{fitness} | {cfg['seed']} | {m['evolution']['generations']} | "
            f"{r['train_size']} | {r['steps']} | {r['lr']:g} | "
            f"{_pct(r['train_accuracy'])} | {_pct(r['test_accuracy'])} | "
            f"{_pct(_before_last(r))} | {_pct(start.get(r['dataset']))} | "
            f"{_pct(dfa.get(r['dataset']))} |"
        )
    return rows


_RL_FLAGS = {"seed": "--seed", "steps": "--steps", "seeds": "--seeds"}
_RL_ES_FLAGS = {"population": "--population", "generations": "--generations"}
_NO_EFFECT = {"checkpoint_every"}  # when checkpoints are written, not what is computed


def _rl_command(cfg: dict[str, Any]) -> str:
    """The `tdca rl` command that makes a run with ``cfg`` (its flags where not default),
    followed by any setting that differs from the default and has no flag, so that a row
    never claims a command remakes it when it would not."""
    from tdca.experiments.rl import RLConfig

    default = json.loads(json.dumps(RLConfig().to_dict()))  # as config.json holds it
    flags, unflagged = [("--env", cfg["env"])], []
    for key, value in cfg.items():
        if key in ("experiment", "env", "es", *RUN_METADATA) or value == default.get(key):
            continue
        if key in _RL_FLAGS:
            flags.append((_RL_FLAGS[key], value))
        else:
            unflagged.append(f"{key}={value}")
    for key, value in cfg["es"].items():
        if value == default["es"].get(key) or key in _NO_EFFECT:
            continue
        if key in _RL_ES_FLAGS:
            flags.append((_RL_ES_FLAGS[key], value))
        else:
            unflagged.append(f"es.{key}={value}")
    command = "tdca rl " + " ".join(f"{f} {v}" for f, v in flags)
    return command + (f" (config.json also sets {', '.join(unflagged)})" if unflagged else "")


def _rl_rows(d: Path, m: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """One row of the RL table per run directory of `tdca rl`."""
    learners = m["learners"]

    def cell(name: str) -> str:
        r = learners[name]
        tuned = f", lr {r['lr']:g}" if name != "tdca" else ""
        return f"{r['final_return_mean']:.1f} ± {r['final_return_std']:.1f}{tuned}"

    ours = " | ".join(cell(n) for n in ("reinforce", "dfa", "tdca"))
    theirs = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in m["paper"].items())
    ev = m["evolution"]
    return [
        f"| `{_rl_command(cfg)} --out {d}` | {m['gym_id']} | {cfg['seed']} "
        f"| {ev['generations']} × {ev['population']} "
        f"| {m['steps']} × {m['episodes_per_step']} × ≤{m['horizon']} "
        f"| {m['seeds']} | {ours} | {theirs} |"
    ]


def _rl_section(runs: list[tuple[Path, dict[str, Any], dict[str, Any]]]) -> list[str]:
    older = [  # made before the grids grew: their baselines saw lr_grid alone
        d.name
        for d, m, _ in runs
        if any("lr_grid_added" not in v for k, v in m.get("learners", {}).items() if k != "tdca")
    ]
    out = [
        "## Reinforcement learning (2024 paper, Table S5)",
        "",
        "Greedy return of the agent after M inner steps (each one batch of exploring "
        "episodes of at most *horizon* steps), mean ± std over test seeds that neither "
        "evolution nor the learning-rate pick saw. REINFORCE (the paper's *Policy Gradient*, "
        "from Kaiming weights) and DFA (from zero) use the inner Adam rate of `lr_grid` that "
        "did best on validation seeds (among equal final returns, the one higher along the "
        "way; a best rate at an end of the grid that trains grows it by up to "
        f"{LR_GRID_EXTENSION} rates past that end, as for classification"
        + (
            f"; not in {', '.join(older)}, made before grids grew, which today's code "
            "would remake with a grown grid where a pick sat at an end"
            if older
            else ""
        )
        + "); TDCA is the evolved credit network at its own rate, from zero. "
        "The paper's agents trained for 200 inner iterations, with a recurrent credit "
        "network evolved for 3,000 generations; ours is the library's feed-forward one, read "
        "per time step (`tasks/rl.py` says how it differs). Each row's command, with any "
        "settings listed beside it, remakes it.",
        "",
        "| command | environment | seed | generations × population "
        "| steps × episodes × horizon "
        "| test seeds | REINFORCE | DFA | TDCA | paper (Table S5) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d, m, cfg in runs:
        with _naming_damage(d):
            out += _rl_rows(d, m, cfg)
    return [*out, ""]


def _task_section(runs: list[tuple[Path, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """One table per `tdca task` run: each learner's fitness on the test seeds."""
    import shlex

    from tdca.experiments.registered_task import command_line

    out = [
        "## Tasks of one's own (`tdca task`)",
        "",
        "The task's fitness after the inner loop, mean ± std over test seeds that neither "
        "evolution nor the learning-rate pick saw (each seed draws the learner's own "
        "randomness). Baselines use the rate, of five from a tenth to ten times the credit "
        "network's, that did best on as many validation seeds (grown past an end where the "
        "best sat); *tdca* is the evolved credit network at its own rate, *tdca_start* the "
        "one its evolution began from; *nan*: the runs diverged. The command remakes the "
        "run (an option that names a file by a relative path is read from the folder it "
        "runs in).",
        "",
    ]

    def number(x: Any, form: str) -> str:
        return "nan" if x is None else format(x, form)  # JSON keeps a NaN as null

    for d, m, cfg in runs:
        with _naming_damage(d):
            ev = m["evolution"]
            done, planned = ev["generations"], ev.get("generations_configured", ev["generations"])
            span = f"{done} of {planned}" if done != planned else f"{done}"
            command = f"{command_line(cfg)} --out {shlex.quote(str(d))}"
            fence = "``" if "`" in command else "`"  # Markdown code around a backtick
            out += [
                f"### {m['task']} (`{d}`)",
                "",
                f"{fence} {command} {fence}: {span} generation{'s' if planned != 1 else ''} "
                f"of population {ev['population']}, {m['steps']} inner steps "
                f"({m['optimizer']}), {m['seeds']} test seeds.",
                "",
                "| learner | fitness | at the start | lr | start |",
                "|---|---|---|---|---|",
            ]
            for name, r in m["learners"].items():
                out.append(
                    f"| {name} | {number(r['fitness_mean'], '.4g')} ± "
                    f"{number(r['fitness_std'], '.2g')} "
                    f"| {number(r['start_fitness_mean'], '.4g')} | {r['lr']:g} | {r['init']} |"
                )
            out += [
                f"| {name} | not run: {why} | | | |"
                for name, why in m.get("baselines_not_run", {}).items()
            ]
            out.append("")
    return out


@contextlib.contextmanager
def _naming_damage(d: Path) -> Iterator[None]:
    """A run file with a missing or malformed field: one error naming the folder, not a
    traceback from deep in the table code."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise RunDirError(
            f"{d}: its metrics.json or config.json is not as {COMMANDS} wrote it ({e!r}); "
            "restore it, or leave that run out of the report"
        ) from e


def results_document(run_dirs: list[Path]) -> str:
    """docs/results.md: every reproduced table found, with what ran and at which scale."""
    found, checks, rl, tasks = [], [], [], []
    for d in map(Path, run_dirs):
        kind, m = _kind(d)
        if _unfinished(d, kind, m):  # unused_run_dirs says so
            continue
        if kind == "table":
            found.append((d, m))
        elif kind == "check":
            checks.append((d, m, read_json(d / "config.json")))
        elif kind == "rl":
            rl.append((d, m, read_json(d / "config.json")))
        elif kind == "task":
            tasks.append((d, m, read_json(d / "config.json")))
    scales = {m.get("scale") for _, m in found}
    datasets = {ds for _, m in found for ds in m.get("datasets", [])}
    datasets |= {ds for _, _, cfg in checks for ds in cfg.get("datasets", [])}
    out = [
        "# Results",
        "",
        "Generated by `tdca report` from the `metrics.json` of each `tdca reproduce` run "
        "directory listed below; rerun the command shown to regenerate a table.",
        "",
        "How to read these tables:",
        "",
    ]
    if "small" in scales:
        out.append(
            "* *scale small* is sized for a 2-core CPU: 1,000-10,000 training images, PGPE "
            "population 32 for 150 generations, the credit network started from the DFA-like "
            "initialisation (`--credit-init dfa`). The papers evolve from scratch for 5,000 "
            "generations on full training sets; *scale paper* (which needs a GPU) has their "
            "generations and training sets, a population of 64 (the papers give none), a PGPE "
            "rate of 2e-4 (1e-3 degraded the centre with the Adam inner loop on a GPU: "
            "results/gpu/README.md) and starts from the same DFA-like network. Small-scale "
            "TDCA numbers are therefore not the papers' protocol; the DFA rows show where "
            "evolution started. Where the code departs from the papers or reads them one way "
            "of two: "
            "[paper-departures.md](paper-departures.md)."
        )
    out += [
        "* *paper at* gives the training images / inner steps of the paper's number beside "
        "ours (– where the paper does not say). At scale small most rows ran on fewer "
        "images and steps than that cell (e.g. Tables S1-S3 at 1,000/20 beside the paper's "
        "60,000/150), so read the paper's columns as the target, not as a like-for-like "
        "comparison. Table S1's protocol is stated in the 2024 paper (150 steps on the full "
        "training set: 60,000 images, 50,000 for CIFAR-10); Tables S2 and S3 state none but "
        "repeat S1's MNIST TDCA cell, so the same protocol is given for them (inferred).",
        "* BP, Zero-BP, FA and DFA rows are fair baselines: learning rate picked on a "
        "validation split (never the test set) from the grid shown, mean ± std over seeds. "
        "The papers' baselines used an unreported learning rate.",
        "* TDCA rows are one evolved network each (one evolution seed), so they carry no ± "
        + (
            "; the section *Single evolutions* below lists every evolution behind the tables, "
            "with the credit network it started from trained the same way (what the "
            "generations added), and the second checks that were run."
            if checks
            else "(pass the tables' evolution folders too to list them with their starts)."
        ),
    ]
    if "cifar10" in datasets:
        out.append(
            "* CIFAR-10 here is the JPEG re-encoding of the images (lossy), not the official "
            "binary release, so accuracies may differ slightly from results on the official "
            "files."
        )
    out.append(
        "* Runs made on a GPU (the MNIST 1,000/20 cell at paper settings, 60,000/150 with an "
        "Adam inner loop, the zoo of evolved credit networks) are in `docs/zoo.md`, "
        "generated from `results/gpu/`. "
        + (
            "`--scale paper` itself has not been run for these tables: it needs hours of GPU time. "
            if "paper" not in scales
            else ""
        )
        + "It uses an Adam inner loop (the papers' BP numbers match Adam, not SGD; see "
        "docs/zoo.md)."
    )
    out.append("")
    if not (found or checks):  # rl or task runs alone: the notes above are the tables'
        out = [
            "# Results",
            "",
            "Generated by `tdca report` from the `metrics.json` of each run directory listed "
            "below; rerun the command shown to make a run again.",
            "",
        ]
    sections = {}
    for d, m in found:
        with _naming_damage(d):
            sections[d] = _table_section(d, m)
    for d, _ in sorted(found, key=lambda x: list(TITLES).index(x[1]["table"])):
        out += sections[d]
    if checks:
        out += [
            "## Single evolutions (the tables' evolutions, second checks, unfinished cells)",
            "",
            "| run | data sets | arch, layout | fitness | seed | generations | train size | steps "
            "| inner lr | train % | test % | test % one step earlier | its start, test % "
            "| DFA at that lr, test % |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for d, m, cfg in checks:
            with _naming_damage(d):
                out += _check_rows(d, m, cfg)
        out += [
            "",
            "*Its start* is the credit network the evolution began from (generation 0), "
            "trained the same way: the difference to *test %* is what the generations added "
            "or lost. *One step earlier* (step M−1 of the M the rule was evolved for) shows "
            "whether the accuracy is a steady state or a point an oscillating inner loop "
            "happens to reach at step M. *fitness*: what PGPE maximised (neg_ce: minus the "
            "cross-entropy, the papers' choice) and on which images (train: the inner loop's "
            "own). *DFA at that lr* trains the bottom-up network with DFA (a random fixed "
            "feedback matrix) at the evolution's inner lr; the DFA-like start only "
            "approximates it. – : not recorded (runs written before the start was evaluated; "
            "no DFA run for random-init or diffused evolutions, nor, before 2026-12-07, for "
            "the CNN and networks of one's own).",
            "",
        ]
    if rl:
        out += _rl_section(rl)
    if tasks:
        out += _task_section(tasks)
    partial = [
        (d, m)
        for d, m in found
        if m.get("archs")
        or (m.get("datasets") and len(m["datasets"]) < 3 and m["table"] not in FIXED_DATASETS)
    ]
    if partial:
        out += ["## Run only in part", ""]
        for d, m in partial:
            what = f"data sets {', '.join(m['datasets'])}"
            if m.get("archs"):
                what += f"; architectures {', '.join(m['archs'])}"
            out.append(
                f"* {TITLES[m['table']]} (scale {m['scale']}): only {what} (`{d}`); "
                "the rest has not been run yet at this scale (costs: `results/run_small.sh`)."
            )
        out.append("")
    for scale in ("small", "paper") if found or not (rl or tasks) else ():
        ran = {m["table"] for _, m in found if m["scale"] == scale}
        missing = [t for t in TITLES if t not in ran]
        if not missing:
            continue
        why = (
            " (needs a GPU and the fast meta-training of docs/performance.md)"
            if scale == "paper"
            else ""
        )
        out += [f"## Not run yet at scale {scale}{why}", ""]
        out += [f"* {TITLES[t]}: `tdca reproduce {t} --scale {scale} --out DIR`" for t in missing]
        out.append("")
    return "\n".join(out)
