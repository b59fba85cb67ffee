"""Evolved credit networks as self-describing files.

``credit_net.npz`` holds beta and, as JSON metadata, everything needed to rebuild the
strategy and to know where it came from: credit-network sizes, credit layout, the data sets
and inner-loop settings it was evolved for, its fitness, the config and the code version.
Loading it for a bottom-up network whose credited layers do not match is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from tdca.credit.layout import CreditLayout
from tdca.credit.strategies.tdca import TDCA
from tdca.io import ArtifactError, load_pytree, read_meta, save_pytree
from tdca.networks.credit_net import CreditNet
from tdca.tasks.base import Task

KIND = "tdca-credit-net"
FILENAME = "credit_net.npz"


def save_credit_net(path: str | Path, strategy: TDCA, beta: Any, meta: dict[str, Any]) -> Path:
    """Write ``beta`` with what ``load_credit_net`` needs to rebuild ``strategy`` (sizes,
    gain, layout, anchoring) and ``meta`` (JSON: ``tdca train --learner tdca:`` reads its
    ``lr``, ``optimizer``, ``arch``, ``datasets``, ``train_size`` and ``steps`` where
    present). Returns the path written."""
    net = strategy.net
    return save_pytree(
        path,
        beta,
        {
            "kind": KIND,
            "credit_net": {
                "inputs": net.inputs,
                "outputs": net.outputs,
                "hidden": list(net.hidden),
                # written only when used, so files without a gain stay as they were
                **({"gain_speed": net.gain_speed} if net.has_gain else {}),
            },
            "layout": strategy.layout.describe(),
            # only when used, as the gain: read back as anything else, an anchored network
            # would emit other credits, so a loader that knew no anchoring must not guess
            **({"anchored": True} if strategy.anchored else {}),
            **meta,
        },
    )


def resolve(path: str | Path) -> Path:
    """A run directory, the file itself, or ``zoo/NAME`` (a credit network of ``tdca.zoo``)."""
    from tdca import zoo

    if zoo.is_zoo_reference(path) and not Path(path).exists():
        return zoo.resolve_reference(path)
    if not str(path).strip():
        raise ArtifactError(
            "no credit network given (tdca:PATH: a run directory, its credit_net.npz, or zoo/NAME)"
        )
    p = Path(path)
    if p.name == "checkpoint.npz":
        raise ArtifactError(
            f"{p}: an evolution's checkpoint, not a credit network; {_instead(p.parent)}"
        )
    if p.is_dir() and not (p / FILENAME).exists() and (p / "config.json").is_file():
        raise ArtifactError(f"{p}: {_instead(p)}")
    return p / FILENAME if p.is_dir() else p


RESUMED_BY = {"evolve-classification": "evolve", "gaussian": "gaussian", "rl": "rl", "task": "task"}
"""The command that resumes a run directory of each kind (config.json's "experiment")."""


def _instead(run: Path) -> str:
    """What to give instead of a run directory that holds no credit network (yet)."""
    if (run / FILENAME).exists():
        return f"give the run directory ({run}) or its {FILENAME}"
    from tdca.evolution.runner import read_history
    from tdca.rundir import RunDirError, experiment_of

    try:
        kind = experiment_of(run / "config.json")
    except RunDirError:
        kind = None
    if kind not in RESUMED_BY:
        return f"the run directory holds no {FILENAME} (a {kind!r} run evolves none)"
    if kind in OTHER_TASKS:  # finishing it would not help: it reads another state
        return (
            f"a `tdca {kind}` run (stopped before its end), whose credit network reads "
            f"{OTHER_TASKS[kind]}; it cannot train a classifier"
        )
    rows = len(read_history(run))
    kept = sorted((run / "snapshots").glob("*.npz")) if (run / "snapshots").is_dir() else []
    return (
        f"the run has no {FILENAME} yet: it stopped after {rows} generation(s), before its "
        f"end; finish it with `tdca {RESUMED_BY[kind]} --resume {run}` (--generations N to end "
        "it sooner)" + (f", or use a kept snapshot (tdca:{kept[-1]})" if kept else "")
    )


OTHER_TASKS = {"gaussian": "mixed-Gaussian points", "rl": "an RL agent"}
"""Tasks whose credit networks read another state than a classifier's [p, onehot(y)]."""


def load_credit_net(path: str | Path, task: str | None = None) -> tuple[TDCA, Any, dict[str, Any]]:
    """(strategy, beta, metadata) from a saved credit network: one that trains a classifier,
    or, with ``task``, one ``tdca task`` evolved for that task of one's own."""
    file = resolve(path)
    meta = read_meta(file)
    if meta.get("kind") != KIND:
        raise ArtifactError(f"{file}: not a tdca credit network (kind {meta.get('kind')!r})")
    evolved_for = meta.get("task_name") if meta.get("task") == "task" else None
    if task is not None and evolved_for != task:
        what = f"the task {evolved_for!r}" if evolved_for else "another task (a classifier's?)"
        raise ArtifactError(f"{file}: this credit network was evolved for {what}, not {task!r}")
    if task is None and evolved_for is not None:
        raise ArtifactError(
            f"{file}: this credit network was evolved by `tdca task {evolved_for}` for a task "
            f"of your own; it cannot train a classifier (load_credit_net(path, "
            f"task={evolved_for!r}) loads it for its task)"
        )
    if meta.get("task") in OTHER_TASKS:
        raise ArtifactError(
            f"{file}: this credit network was evolved by `tdca {meta['task']}` for "
            f"{OTHER_TASKS[meta['task']]}; it cannot train a classifier"
        )
    try:
        spec = meta["credit_net"]
        net = CreditNet(
            int(spec["inputs"]),
            int(spec["outputs"]),
            tuple(spec["hidden"]),
            gain_speed=float(spec.get("gain_speed", 0.0)),
        )
        anchored = meta.get("anchored", False)
        if not isinstance(anchored, bool):
            raise TypeError(f"'anchored' must be true or false, got {anchored!r}")
        strategy = TDCA(net, CreditLayout.from_description(meta["layout"]), anchored=anchored)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ArtifactError(
            f"{file}: its metadata does not describe a classification credit network "
            f"({e!r}); a `tdca gaussian` run's network, say, cannot train a classifier"
        ) from e
    beta, _ = load_pytree(file, net.init(jax.random.PRNGKey(0)))
    return strategy, beta, meta


def check_fits(strategy: TDCA, task: Task, source: str | Path) -> None:
    """Refuse, with the reason, a credit network that cannot drive this bottom-up network."""
    units = tuple(task.credit_units)
    if strategy.layout.units[-1:] != units[-1:]:  # no --arch changes the number of outputs
        raise ArtifactError(
            f"{source}: this credit network was evolved for {strategy.layout.units[-1]} "
            f"classes (outputs), but this data set has {units[-1]}; evolve one for it"
        )
    if strategy.layout.units != units:
        raise ArtifactError(
            f"{source}: this credit network credits layers of {strategy.layout.units} units, but "
            f"the bottom-up network has {tuple(task.credit_units)}; evolve one for this "
            "architecture (tdca evolve --arch ...) or pick the matching --arch"
        )
    if strategy.net.inputs != task.credit_input_dim:
        raise ArtifactError(
            f"{source}: this credit network reads {strategy.net.inputs} inputs, but the task "
            f"provides {task.credit_input_dim} (2 x number of classes)"
        )
