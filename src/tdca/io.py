"""Saving pytrees (ES states, credit networks) as plain ``.npz`` files, safely.

No pickle: every leaf is an array and the metadata is a JSON string, so a file from an
untrusted source cannot run code. Writes are atomic (temp file + rename), so an
interrupted save never leaves a half-written checkpoint behind. Loading checks the file
against a template pytree and refuses, with the reason, one written for another
architecture or configuration.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tdca.files import atomic_file


class ArtifactError(Exception):
    """A checkpoint or saved network that cannot be used, with the reason."""


def save_pytree(path: str | Path, tree: Any, meta: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(tree))}
    arrays["__meta__"] = np.asarray(json.dumps(meta, sort_keys=True))
    with atomic_file(path) as f:
        np.savez(f, **arrays)
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a saved pytree, without needing a template."""
    with _open(path) as data:
        meta = json.loads(str(data["__meta__"]))
    if not isinstance(meta, dict):
        raise ArtifactError(f"{path}: not a tdca file (its metadata is not a JSON object)")
    return meta


def load_pytree(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Leaves from ``path`` in the structure of ``template``; shapes and dtypes must match."""
    with _open(path) as data:
        meta = json.loads(str(data["__meta__"]))
        names = sorted(k for k in data.files if k.startswith("leaf_"))
        leaves, treedef = jax.tree.flatten(template)
        if len(names) != len(leaves):
            raise ArtifactError(
                f"{path}: holds {len(names)} arrays but this configuration needs "
                f"{len(leaves)}; it was written for a different architecture or optimiser"
            )
        loaded = []
        for i, (name, ref) in enumerate(zip(names, leaves, strict=True)):
            arr = data[name]
            ref = np.asarray(ref)
            if arr.shape != ref.shape or arr.dtype != ref.dtype:
                raise ArtifactError(
                    f"{path}: array {i} is {arr.dtype}{list(arr.shape)} but this configuration "
                    f"needs {ref.dtype}{list(ref.shape)}; it was written for a different "
                    "architecture or configuration"
                )
            loaded.append(arr)
    return jax.tree.unflatten(treedef, loaded), meta


class _open:
    """Open an npz with errors that name the file and say what is wrong."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Any:
        if not self.path.is_file():
            raise ArtifactError(f"{self.path}: no such file")
        try:
            self.data = np.load(self.path, allow_pickle=False)
            if not hasattr(self.data, "files"):  # a bare .npy array, not an .npz archive
                raise ArtifactError(f"{self.path}: not a tdca file (a single array, no metadata)")
            if "__meta__" not in self.data.files:
                raise ArtifactError(f"{self.path}: not a tdca file (no metadata)")
            json.loads(str(self.data["__meta__"]))
        except ArtifactError:
            raise
        except ValueError as e:
            if "pickle" in str(e):  # numpy's message would invite the user to unpickle it
                raise ArtifactError(
                    f"{self.path}: not an .npz archive (tdca files are .npz; pickles are never "
                    "loaded)"
                ) from e
            raise ArtifactError(f"{self.path}: corrupt or truncated ({e})") from e
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
            raise ArtifactError(f"{self.path}: corrupt or truncated ({e})") from e
        return self.data

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.data.close()
        # np.load reads members lazily: a damaged array surfaces only when it is read
        lazy = (zipfile.BadZipFile, OSError, EOFError, ValueError)
        if isinstance(exc, lazy) and not isinstance(exc, ArtifactError):
            raise ArtifactError(f"{self.path}: corrupt or truncated ({exc})") from exc
