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
from collections.abc import Callable
from typing import Any

import jax

from tdca.tasks.base import Task

Builder = Callable[..., Task]

TASKS: dict[str, Builder] = {}
"""The tasks ``register_task`` added in this process, by name."""

RESERVED = ("classification", "gaussian", "rl")
"""The library's own tasks, which have commands of their own (``tdca evolve``, ``tdca
gaussian``, ``tdca rl``)."""

NEEDED = ("credit_input_dim", "credit_units", "init_params", "batch", "credit_state")
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
        inspect.signature(build).bind(**options)
    except TypeError as e:
        raise ValueError(f"task {name!r} does not take the options {options}: {e}") from e
    except ValueError:  # no signature to read (a builtin): let the call say
        pass
    task = build(**options)
    check_task(task, name)
    return task


def check_task(task: Any, name: str) -> None:
    """Refuse, saying what is missing, an object evolution cannot run as a task: before
    any compilation, whose error would not name the task."""
    missing = [m for m in NEEDED if not hasattr(task, m)]
    if missing:
        raise ValueError(
            f"task {name!r}: its builder returned a {type(task).__name__}, which lacks "
            f"{', '.join(missing)} (a task's methods: tdca.tasks.base.Task)"
        )
    if jax.tree_util.tree_leaves(task) == [task]:
        raise ValueError(
            f"task {name!r}: a {type(task).__name__} is not a JAX pytree, which evolution "
            "needs (it jits and vmaps over the task); make its class a "
            "@flax.struct.dataclass, with static settings as struct.field(pytree_node=False)"
        )


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line: the value read as JSON where it is JSON (a
    number, true/false, a list), else kept as text."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise ValueError(f"--option {text!r}: give KEY=VALUE, KEY a Python name")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
