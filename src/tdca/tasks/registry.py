"""Tasks of one's own by name: what ``tdca task NAME`` evolves a credit network for.

A task is one class in a file of the user's (``examples/blobs_task.py``) and one call,
``register_task("blobs", make_task)``. ``tdca --plugin FILE task blobs --lr X --out DIR``
then imports the file, builds the task and evolves for it; the run records the plugin, so
``tdca task --resume DIR`` imports it again. The builder takes the task's settings as
keyword arguments (``--option n=300``), so one name covers a family of tasks, and the run
records them too.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from tdca.tasks.base import Task

Builder = Callable[..., Task]

TASKS: dict[str, Builder] = {}
"""The tasks ``register_task`` added in this process, by name."""

RESERVED = ("classification", "gaussian", "rl")
"""The library's own tasks, which have commands of their own (``tdca evolve``, ``tdca
gaussian``, ``tdca rl``)."""

NEEDED = ("name", "credit_input_dim", "credit_units", "init_params", "batch", "credit_state")
NEEDED += ("apply_credits", "fitness")
"""What the inner loop and evolution use of a task (``tasks/base.py``); ``loss`` (BP) and
``taps_and_error`` (FA, DFA) are optional: without them those baselines are not run."""


def register_task(name: str, build: Builder) -> None:
    """Make ``name`` a task that ``tdca task`` (and ``build_task``) accepts; ``build(**options)``
    returns the task, its options being the run's ``--option KEY=VALUE`` pairs."""
    if not isinstance(name, str) or not name.strip() or name != name.strip() or " " in name:
        raise ValueError(f"a task name must be one non-empty word, got {name!r}")
    if name in RESERVED or ":" in name or "/" in name:
        raise ValueError(
            f"task name {name!r} is not allowed: the library's own tasks "
            f"({', '.join(RESERVED)}) are taken, and a name has no ':' or '/'"
        )
    if name in TASKS:
        raise ValueError(
            f"task {name!r} is registered already in this process (a file imported twice, "
            f"a notebook cell run again?); tdca.tasks.TASKS.pop({name!r}) first to replace "
            "it, or choose another name"
        )
    if not callable(build):
        raise ValueError(f"build must be a callable that returns the task, got {build!r}")
    TASKS[name] = build


def build_task(name: str, options: dict[str, Any] | None = None) -> Task:
    """The task ``name`` built with ``options``, checked to be one evolution can run."""
    if name not in TASKS:
        known = ", ".join(sorted(TASKS)) or "none"
        hint = (
            f" ({name} has a command of its own: tdca {'evolve' if name == RESERVED[0] else name})"
            if name in RESERVED
            else ""
        )
        raise ValueError(
            f"unknown task {name!r}{hint}; registered in this process: {known}. A task of "
            "your own is registered by a file (tdca.tasks.register_task) that the command "
            "imports first: tdca --plugin FILE.py task NAME ..."
        )
    build, options = TASKS[name], dict(options or {})
    try:
        signature = inspect.signature(build)
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call say
        signature = None
    if signature is not None:
        _check_options(name, signature, options)
    try:
        task = build(**options)
    except Exception as e:  # the user's code: one line that says where, not a traceback
        from tdca.plugins import where_raised

        try:  # the line of the builder's own file, not of the library it called
            source = Path(inspect.getsourcefile(build) or "")
        except TypeError:
            source = None
        raise ValueError(
            f"task {name!r}: building it raised {type(e).__name__}: {e}{where_raised(e, source)}"
        ) from e
    check_task(task, name)
    return task


def _check_options(name: str, signature: inspect.Signature, options: dict[str, Any]) -> None:
    """Refuse options the builder does not take, and name those it needs, as --option."""
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        takes = None  # **kwargs: any name
    else:
        takes = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in options if takes is not None and k not in takes]
    if unknown:
        listed = ", ".join(takes or []) or "none"
        raise ValueError(
            f"task {name!r} takes no option {', '.join(unknown)} (its options: {listed})"
        )
    needed = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in options
    ]
    if needed:
        given = " ".join(f"--option {n}=VALUE" for n in needed)
        raise ValueError(f"task {name!r} needs the options {', '.join(needed)} ({given})")
    if any(p.kind is p.POSITIONAL_ONLY and p.default is p.empty for p in params):
        raise ValueError(
            f"task {name!r}: its builder takes positional-only arguments, "
            "which options cannot give; make them keywords"
        )


def check_task(task: Any, name: str) -> None:
    """Refuse, saying what is missing, an object evolution cannot run as a task: before
    any compilation, whose error would not name the task."""
    missing = [m for m in NEEDED if not hasattr(task, m)]
    if missing:
        raise ValueError(
            f"task {name!r}: its builder returned an object of type {type(task).__name__}, "
            f"which lacks {', '.join(missing)} (a task's methods: tdca.tasks.base.Task)"
        )
    if jax.tree_util.tree_leaves(task) == [task]:
        raise ValueError(
            f"task {name!r}: an object of type {type(task).__name__} is not a JAX pytree, "
            "which evolution needs (it jits and vmaps over the task); make its class a "
            "@flax.struct.dataclass, with static settings as struct.field(pytree_node=False)"
        )
    from tdca.evolution.pgpe import require_pytree_task

    try:
        require_pytree_task(task)
    except TypeError as e:  # a str or other non-array among its leaves
        raise ValueError(f"task {name!r}: {e}") from None


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line: the value read as JSON where it is JSON (a
    number, true/false, a list), else kept as text."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise ValueError(f"--option {text!r}: give KEY=VALUE, KEY a Python name")

    def not_finite(constant: str) -> Any:  # config.json could not keep it (JSON has none)
        raise ValueError(f"--option {text!r}: {constant} is not a number a run can record")

    try:
        parsed = json.loads(value, parse_constant=not_finite)
    except json.JSONDecodeError:
        return key, value
    if not _finite(parsed):  # 1e400 is read as inf
        not_finite(value)
    return key, parsed


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True
