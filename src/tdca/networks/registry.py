"""Bottom-up architectures by name: what ``--arch`` and ``EvolveConfig.arch`` accept.

Each name maps to a builder that sizes the network for a data set (its input size, image
shape and number of classes). A new architecture is one file of the user's: the class (see
``cnn.py`` for the methods it needs) and one ``register_arch`` call. From then on, in that
process, every learner, ``train_learner``, ``run_evolve`` and ``tdca.cli.main`` accept it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdca.networks.mlp import MLP

if TYPE_CHECKING:
    from tdca.data import Dataset

Builder = Callable[["Dataset"], Any]

NETWORK_METHODS = ("sizes", "units", "init", "forward", "apply", "local_update")
"""What every learner uses of a bottom-up network (see ``cnn.py``)."""


def _mlp(hidden: tuple[int, ...]) -> Builder:
    def build(ds: Dataset) -> MLP:
        return MLP((ds.input_dim, *hidden, ds.num_classes))

    return build


def _cnn(ds: Dataset) -> Any:
    from tdca.data import DatasetError
    from tdca.networks.cnn import CNN

    if not ds.is_images:
        mlps = ", ".join(a for a in ARCHITECTURES if a != "cnn")
        raise DatasetError(
            f"--arch cnn needs images, but {ds.name!r} holds flat feature vectors of length "
            f"{ds.input_dim}; use an MLP ({mlps})"
        )
    shape = ds.image_shape if len(ds.image_shape) == 3 else (*ds.image_shape, 1)
    return CNN(input_shape=tuple(shape), num_classes=ds.num_classes)


ARCHITECTURES: dict[str, Builder] = {
    "mlp-100": _mlp((100,)),
    "mlp-900": _mlp((900,)),
    "mlp-1000": _mlp((1000,)),
    "deep-fc": _mlp((100,) * 4),
    "cnn": _cnn,
}
"""The papers' networks (784/3072-100-10 and wider MLPs, Table 2's deep FC and CNN), and
whatever ``register_arch`` adds."""


BUILT_IN_ARCHITECTURES = tuple(ARCHITECTURES)

_REGISTERED_CODE: dict[str, tuple[Builder, tuple[tuple[str, str], ...]]] = {}
"""For each network ``register_arch`` added: its builder, and (file, sha256) of the code
behind it as read when it was registered (``code_files``)."""
_NOT_USER_CODE = tuple(  # folders, so that a sibling such as src/tdca_extra still counts
    str(Path(d).resolve()) + os.sep
    for d in (Path(__file__).resolve().parents[1], sysconfig.get_paths()["stdlib"])
)


def _code_of(build: Builder | None, caller: str | None) -> tuple[tuple[str, str], ...]:
    """(file, sha256) of the file that registered a network (``caller``) and of the one its
    builder's code is in (through ``functools.partial``), tdca's and the standard library's
    own files left out."""
    while isinstance(build, functools.partial):
        build = build.func
    module = sys.modules.get(getattr(build, "__module__", None) or "")
    files: list[tuple[str, str]] = []
    for name in (caller, getattr(module, "__file__", None)):
        if not name:
            continue
        path = str(Path(name).resolve())
        if path.startswith(_NOT_USER_CODE) or any(path == f for f, _ in files):
            continue
        try:
            files.append((path, hashlib.sha256(Path(path).read_bytes()).hexdigest()))
        except OSError:
            continue
    return tuple(files)


def code_files(name: str) -> tuple[tuple[str, str], ...]:
    """(file, sha256) of the user's code behind network ``name``: the file that registered
    it, then the one its builder comes from; () for tdca's own networks and code without
    a file (a notebook). Read when ``register_arch`` ran, so this is the code the process
    runs even if a file is edited afterwards; a builder put in ``ARCHITECTURES`` by hand is
    read now, from its own module."""
    build = ARCHITECTURES.get(name)
    if build is None or name in BUILT_IN_ARCHITECTURES:
        return ()
    kept = _REGISTERED_CODE.get(name)
    if kept is not None and kept[0] is build:
        return kept[1]
    return _code_of(build, None)


def arch_code(arch: str) -> tuple[str, str] | None:
    """(files, sha256) of the code of one's own behind ``arch`` (a plugin's, a script's), as
    it was when registered (``code_files``): one file's sha256, or one over the contents of
    several; None for tdca's own networks and where there is no source file. What work
    evolved or trained for ``arch`` elsewhere is checked against: another file may register
    other code under the same name."""
    files = code_files(arch)
    if not files:
        return None
    if len(files) == 1:
        return files[0]
    joined = "\n".join(sorted(sha for _, sha in files))  # the contents, not where they are
    return " + ".join(f for f, _ in files), hashlib.sha256(joined.encode()).hexdigest()


def register_arch(name: str, build: Builder) -> None:
    """Make ``name`` an architecture: ``build(dataset)`` returns the bottom-up network
    for it (with everything in ``NETWORK_METHODS``; ``build_model`` checks)."""
    if not isinstance(name, str) or not name.strip() or name != name.strip() or ":" in name:
        raise ValueError(f"an architecture name must be a non-empty word without ':', got {name!r}")
    if name in BUILT_IN_ARCHITECTURES:
        raise ValueError(f"architecture {name!r} is one of the library's own; choose another name")
    if name in ARCHITECTURES:
        raise ValueError(
            f"architecture {name!r} is registered already in this process (a file imported "
            f"twice, a notebook cell run again?); tdca.networks.ARCHITECTURES.pop({name!r}) "
            "first to replace it, or choose another name"
        )
    if not callable(build):
        raise ValueError(f"build must be a callable taking a data set, got {build!r}")
    ARCHITECTURES[name] = build
    _REGISTERED_CODE[name] = (build, _code_of(build, sys._getframe(1).f_globals.get("__file__")))


def build_model(arch: str, ds: Dataset) -> Any:
    """The bottom-up network called ``arch``, sized for the data set's inputs."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {tuple(ARCHITECTURES)}")
    build = ARCHITECTURES[arch]
    model = build(ds)
    missing = [name for name in NETWORK_METHODS if not hasattr(model, name)]
    if missing:
        raise ValueError(
            f"architecture {arch!r}: its builder {getattr(build, '__qualname__', build)!r} "
            f"returned {type(model).__name__}, not a bottom-up network (it lacks "
            f"{', '.join(missing)}); does the builder forget to return the network?"
        )
    return model
