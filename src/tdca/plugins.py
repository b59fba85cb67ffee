"""Code of the user's own that the ``tdca`` command imports before it reads its options.

A network or a learner of one's own is one file that registers it
(``register_arch``, ``register_learner``). ``tdca --plugin my_nets.py evolve --arch my-net``
imports that file first, so the shell command accepts the new name as the library's own. An
evolution records its plugins in config.json (``EvolveConfig.plugins``), and a resume
imports them again when the architecture is not known yet: ``tdca evolve --resume DIR``
needs no wrapper script. A credit network's file never imports code by itself: training
with it names the plugin to give instead.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path


class PluginError(ValueError):
    """A plugin that cannot be found or raised while it was imported."""


_LOADED: list[str] = []  # the recorded forms of the plugins this process imported, in order
_BY_SOURCE: dict[str, str] = {}  # a plugin's resolved source file -> its recorded form


def loaded() -> tuple[str, ...]:
    """The plugins this process has imported (as ``load_plugin`` returned them)."""
    return tuple(_LOADED)


def recorded_form(spec: str) -> str:
    """How a config records ``spec`` without importing it: an existing file's absolute
    path (a resume from another folder finds the same file), else ``spec`` as given."""
    path = Path(spec).expanduser()
    if _is_file_spec(spec) and path.is_file():
        return str(path.resolve())
    return spec


def digest(recorded: str) -> str | None:
    """sha256 of the plugin's source (a file's, or an importable module's), or None where
    there is no single source file: what a resume compares to notice edited code."""
    source = recorded if Path(recorded).is_file() else _source_of(recorded)
    if source is None:
        return None
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()


def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or Path(spec).is_file()


def where_raised(error: BaseException, path: Path | None = None) -> str:
    """' (at FILE:LINE)' for a plugin's error, so a one-line message still says where to
    look: the last line of the plugin file ``path`` it passed through, else the innermost."""
    if isinstance(error, SyntaxError) and error.filename:  # raised compiling, not running it
        return f" (at {error.filename}:{error.lineno})"
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if path is not None and f.filename == str(path)]
    frame = (own or frames or [None])[-1]
    return f" (at {frame.filename}:{frame.lineno})" if frame is not None else ""


def _raised(spec: str, error: Exception, where: str) -> PluginError:
    """The one-line error for a plugin whose own code raised while it was imported."""
    name = type(error).__name__
    return PluginError(f"--plugin {spec}: importing it raised {name}: {error}{where}")


def _import_file(spec: str) -> str:
    path = Path(spec).expanduser()
    if path.is_dir():
        raise PluginError(
            f"--plugin {spec}: is a folder; give the .py file that registers your network or "
            "learner, or an importable module by its name"
        )
    if not path.is_file():
        raise PluginError(f"--plugin {spec}: no such file")
    resolved = path.resolve()
    if str(resolved) in _BY_SOURCE:  # given before, perhaps as a module name
        return _BY_SOURCE[str(resolved)]
    # One module per file, named after its path: importing the same file twice (given again,
    # recorded in a resumed run's config) registers its names once.
    name = "tdca_plugin_" + hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return str(resolved)
    loader_spec = importlib.util.spec_from_file_location(name, resolved)
    if loader_spec is None or loader_spec.loader is None:
        raise PluginError(f"--plugin {spec}: not a Python file Python can import")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise _raised(spec, e, where_raised(e, resolved)) from e
    _BY_SOURCE[str(resolved)] = str(resolved)
    return str(resolved)


def _import_module(spec: str) -> str:
    if not all(part.isidentifier() for part in spec.split(".")):
        raise PluginError(f"--plugin {spec!r}: neither a .py file nor a module name")
    source = _source_of(spec) if spec not in sys.modules else None
    if source is not None and source in _BY_SOURCE:
        # The file was imported already by its path: a second import, under this name,
        # would run its registrations again (and fail on names that exist already).
        return _BY_SOURCE[source]
    try:
        importlib.import_module(spec)
    except Exception as e:
        missing = e.name if isinstance(e, ModuleNotFoundError) else None
        if missing is not None and (spec == missing or spec.startswith(missing + ".")):
            raise PluginError(
                f"--plugin {spec}: no file or importable module of that name (a module must "
                "be on Python's path; a file is given by its path, e.g. ./my_nets.py)"
            ) from e
        raise _raised(spec, e, where_raised(e)) from e
    found = _source_of(spec)
    if found is not None:
        _BY_SOURCE.setdefault(found, spec)
    return spec


def _source_of(module: str) -> str | None:
    """The resolved file an importable module's code is in, if it is one file."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin or not Path(found.origin).is_file():
        return None
    return str(Path(found.origin).resolve())


def load_plugin(spec: str) -> str:
    """Import ``spec``, a Python file's path or a dotted module name, once per process.
    Returns how a config records it: a file's absolute path, or the module's name."""
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(f"a plugin is a file path or a module name, got {spec!r}")
    spec = spec.strip()
    recorded = _import_file(spec) if _is_file_spec(spec) else _import_module(spec)
    if recorded not in _LOADED:
        _LOADED.append(recorded)
    return recorded


def load_plugins(specs: Iterable[str]) -> tuple[str, ...]:
    """``load_plugin`` for each, in order; the recorded forms, each once."""
    return tuple(dict.fromkeys(load_plugin(spec) for spec in specs))
