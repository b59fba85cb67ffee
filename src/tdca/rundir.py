"""Run directories: every experiment writes its config, code version, log and metrics.

A run directory is the unit of reproducibility: ``config.json`` (what ran),
``metrics.json`` (what it measured), ``log.txt``, figures, and for evolutions
``metrics.jsonl`` (one line per generation) and ``checkpoint.npz``.
"""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from pathlib import Path
from typing import Any

import jax
import numpy as np

import tdca


class RunDirError(Exception):
    """The output directory cannot be used as asked."""


def code_version() -> dict[str, Any]:
    """The package version and, when running from a git checkout, the commit."""
    info: dict[str, Any] = {"tdca": tdca.__version__, "jax": jax.__version__}
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        info |= {"git_commit": sha, "git_dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    info |= {"python": platform.python_version(), "backend": jax.default_backend()}
    return info


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray | jax.Array):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class RunDir:
    """An experiment's output folder."""

    def __init__(self, path: str | Path, *, resume: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {self.path}: exists and is not a directory")
        if resume:
            if not (self.path / "config.json").is_file():
                raise RunDirError(
                    f"--resume {self.path}: no config.json there; is it a tdca run directory?"
                )
        elif self.path.exists() and any(self.path.iterdir()):
            raise RunDirError(
                f"--out {self.path}: directory is not empty; choose a new one, or pass "
                f"--resume {self.path} to continue that run"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"--out {self.path}: cannot create it ({e.strerror})") from e
        self.logger = self._make_logger()

    def _make_logger(self) -> logging.Logger:
        logger = logging.getLogger(f"tdca.run.{self.path.resolve()}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.FileHandler(self.path / "log.txt")
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
        return logger

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, obj: Any) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> Any:
        target = self.path / name
        try:
            return json.loads(target.read_text())
        except FileNotFoundError as e:
            raise RunDirError(f"{target}: missing") from e
        except json.JSONDecodeError as e:
            raise RunDirError(f"{target}: not valid JSON ({e})") from e

    def write_config(self, config: dict[str, Any]) -> None:
        """Write config.json with the code version running now. A resumed run rewrites it, so
        the versions that wrote the run before are kept, oldest first, in
        ``earlier_code_versions``: a run continued by newer code says so."""
        now = code_version()
        earlier: list[dict[str, Any]] = []
        target = self.path / "config.json"
        if target.exists():
            saved = self.read_json("config.json")
            earlier = list(saved.get("earlier_code_versions", []))
            if saved.get("code_version") not in (None, now):
                earlier.append(saved["code_version"])
        extra: dict[str, Any] = {"code_version": now}
        if earlier:
            extra["earlier_code_versions"] = earlier
        self.write_json("config.json", config | extra)

    def log(self, message: str) -> None:
        self.logger.info(message)
