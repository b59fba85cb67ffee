"""Where datasets are looked for and where converted ``.npz`` caches are kept.

Converting the sources (gunzipping IDX, parsing CSV, decoding 60,000 JPEGs) costs seconds per
run, so each converted dataset is saved once as an uncompressed ``.npz`` (fast to load) with a
JSON sidecar holding the sha256 of every array. A cache whose arrays no longer match its
sidecar (disk corruption, a killed writer, manual edits) is reported with a warning and
rebuilt, never silently used. Both files are written to a temporary name and moved into place
with ``os.replace``, so readers never see a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tdca.data.dataset import Dataset, DatasetError, DatasetWarning
from tdca.files import atomic_file

log = logging.getLogger("tdca.data")

ENV_DATA_DIR = "TDCA_DATA_DIR"
ENV_CACHE_DIR = "TDCA_CACHE_DIR"
CACHE_FORMAT = "tdca.data cache"
CACHE_VERSION = 1

_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test", "num_classes", "name", "class_names")


def default_dir() -> Path:
    """``~/.cache/tdca``: the data dir and cache dir when nothing else is configured."""
    return Path.home() / ".cache" / "tdca"


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser().absolute() if value else None


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The ``data_dir`` argument, else ``$TDCA_DATA_DIR``, else ``~/.cache/tdca``; absolute
    (the downloaders run in other working directories)."""
    if data_dir is not None and str(data_dir).strip():
        return Path(data_dir).expanduser().absolute()
    return _env_path(ENV_DATA_DIR) or default_dir()


def fallback_cache_dir() -> Path:
    """Where caches go when the data dir is read-only: ``$TDCA_CACHE_DIR`` or ``~/.cache/tdca``."""
    return _env_path(ENV_CACHE_DIR) or default_dir()


def is_writable_dir(path: Path) -> bool:
    """Whether we may create files in ``path`` (or in its nearest existing ancestor).

    A folder whose permission bits grant nobody write access counts as read-only even for
    root, who could technically write there: a shared, deliberately read-only data folder must
    not be filled with caches just because the process runs as root.
    """
    p = path
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    try:
        mode = p.stat().st_mode
    except OSError:
        return False
    if not stat.S_ISDIR(mode) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    return os.access(p, os.W_OK | os.X_OK)


def cache_dirs(data_dir: Path) -> list[Path]:
    """Folders searched for caches, in order: the data dir, then the fallback cache dir."""
    out: list[Path] = []
    for d in (data_dir, fallback_cache_dir()):
        if not any(_same_dir(d, o) for o in out):
            out.append(d)
    return out


def writable_cache_dirs(data_dir: Path) -> list[Path]:
    """Folders a new cache may be written to, in order of preference."""
    return [d for d in cache_dirs(data_dir) if is_writable_dir(d)]


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def cache_paths(directory: Path, key: str) -> tuple[Path, Path]:
    """``(<dir>/<key>.cache.npz, <dir>/<key>.cache.json)``."""
    return directory / f"{key}.cache.npz", directory / f"{key}.cache.json"


def array_sha256(a: np.ndarray) -> str:
    """sha256 over dtype, shape and C-order bytes, so a reshaped or retyped array differs."""
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _dataset_arrays(ds: Dataset) -> dict[str, np.ndarray]:
    return {
        "x_train": ds.x_train,
        "y_train": ds.y_train,
        "x_test": ds.x_test,
        "y_test": ds.y_test,
        "num_classes": np.array(ds.num_classes, dtype=np.int64),
        "name": np.array(ds.name),
        "class_names": np.array(ds.class_names, dtype=str),
    }


def save_cache(
    ds: Dataset, key: str, directories: Iterable[Path], source: Mapping[str, Any] | None = None
) -> Path | None:
    """Write ``ds`` to the first directory that accepts it; warn (not fail) if none does.

    The npz is written before its sidecar, so a crash in between leaves a cache that fails
    verification and is rebuilt, never one that is trusted without a checksum.
    """
    arrays = _dataset_arrays(ds)
    meta = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "key": key,
        "source": dict(source or {}, description=ds.source),
        "arrays": {
            k: {"sha256": array_sha256(a), "dtype": a.dtype.str, "shape": list(a.shape)}
            for k, a in arrays.items()
        },
    }
    errors = []
    for d in directories:
        npz, side = cache_paths(d, key)
        try:
            d.mkdir(parents=True, exist_ok=True)
            with atomic_file(npz) as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            with atomic_file(side) as f:
                f.write(json.dumps(meta, indent=1).encode())
        except OSError as e:
            errors.append(f"{d}: {e.strerror or e}")
            continue
        log.info("cached %s at %s", key, npz)
        return npz
    warnings.warn(
        f"could not write the {key} cache ({'; '.join(errors) or 'no writable directory'}); "
        f"it will be converted again next time: set {ENV_CACHE_DIR} to a writable folder",
        DatasetWarning,
        stacklevel=3,
    )
    return None


def load_cache(
    key: str,
    directories: Iterable[Path],
    *,
    accept_source: Callable[[Mapping[str, Any]], bool] | None = None,
    published: Mapping[str, str] | None = None,
) -> Dataset | None:
    """Return the first valid cache for ``key``, or None.

    Corrupt caches trigger a :class:`DatasetWarning` and are skipped (the caller rebuilds);
    ``accept_source`` can reject a valid cache made from a different or changed source.
    ``published`` (array name -> sha256, ``checksums.KNOWN_ARRAYS``) is what a published
    data set's arrays are: a cache whose own sidecar agrees with other arrays was saved
    modified, and is skipped with a warning too. The sidecar's hashes are the ones just
    checked against the arrays, so this costs no hashing of its own.
    """
    for d in directories:
        npz, side = cache_paths(d, key)
        if not npz.exists():
            continue
        try:
            ds, meta = _read_verified(npz, side)
        except _CorruptCache as e:
            warnings.warn(
                f"cache {npz} is corrupt ({e}); ignoring it and rebuilding (delete it if this "
                "repeats)",
                DatasetWarning,
                stacklevel=3,
            )
            continue
        if accept_source is not None and not accept_source(meta.get("source", {})):
            log.info("cache %s was built from another source; rebuilding", npz)
            continue
        differ = [k for k, sha in (published or {}).items() if meta["arrays"][k]["sha256"] != sha]
        if differ:
            warnings.warn(  # its own sidecar agrees: it was saved modified, not damaged
                f"{ds.source}: its {', '.join(differ)} differ from the published {key}; "
                "ignoring it and converting the verified files again",
                DatasetWarning,
                stacklevel=3,
            )
            continue
        return ds
    return None


class _CorruptCache(Exception):
    """Internal: the cache exists but must not be used."""


def _read_verified(npz: Path, side: Path) -> tuple[Dataset, Mapping[str, Any]]:
    try:
        meta = json.loads(side.read_text())
    except FileNotFoundError as e:
        raise _CorruptCache(f"checksum sidecar {side.name} is missing") from e
    except (OSError, ValueError) as e:
        raise _CorruptCache(f"unreadable sidecar {side.name}: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise _CorruptCache(f"{side.name} is not a tdca cache sidecar")
    if meta.get("version") != CACHE_VERSION:
        raise _CorruptCache(f"cache version {meta.get('version')} != {CACHE_VERSION}")
    expected = meta.get("arrays")
    if not isinstance(expected, dict) or set(expected) != set(_ARRAY_KEYS):
        raise _CorruptCache("sidecar lists the wrong arrays")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAY_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise _CorruptCache(f"unreadable npz: {e}") from e
    for k, a in arrays.items():
        if array_sha256(a) != expected[k].get("sha256"):
            raise _CorruptCache(f"sha256 of array {k!r} does not match the sidecar")
    try:
        ds = Dataset(
            name=str(arrays["name"]),
            x_train=arrays["x_train"],
            y_train=arrays["y_train"],
            x_test=arrays["x_test"],
            y_test=arrays["y_test"],
            num_classes=int(arrays["num_classes"]),
            class_names=tuple(str(c) for c in arrays["class_names"]),
            source=f"cache {npz} of {meta.get('source', {}).get('description', '?')}",
        )
    except DatasetError as e:
        raise _CorruptCache(str(e)) from e
    return ds, meta
