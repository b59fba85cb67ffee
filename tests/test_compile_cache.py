"""The ``tdca`` command's persistent compilation cache (``tdca.compile_cache``).

JAX decides once per process whether it uses a cache, so each case runs in a fresh
subprocess with its own environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tdca import cli
from tdca.compile_cache import MAX_BYTES, MIN_COMPILE_SECONDS

CHILD = """
import json
import jax, jax.numpy as jnp
from tdca.compile_cache import use_compilation_cache
folder = use_compilation_cache()
y = jax.jit(lambda x: jnp.tanh(x) * 2)(jnp.ones(3))
print(json.dumps({"folder": None if folder is None else str(folder),
                  "max_size": jax.config.jax_compilation_cache_max_size,
                  "min_seconds": jax.config.jax_persistent_cache_min_compile_time_secs,
                  "y": [float(v) for v in y]}))
"""


MIN_TIME = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"


def _child(tmp: Path, stderr: list[str] | None = None, **env: str | None) -> dict:
    """Run CHILD with ``env`` over a clean one (no cache of JAX's own, HOME and the tdca cache
    in ``tmp``, every compile written unless ``env`` says otherwise); what it printed."""
    drop = ("JAX_COMPILATION_CACHE_DIR", "JAX_COMPILATION_CACHE_MAX_SIZE", MIN_TIME)
    base = {k: v for k, v in os.environ.items() if k not in drop}
    base.update({MIN_TIME: "0"}, HOME=str(tmp / "home"), TDCA_CACHE_DIR=str(tmp / "cache"))
    base.update(env)
    base = {k: v for k, v in base.items() if v is not None}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=base, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    if stderr is not None:
        stderr.append(done.stderr)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out.pop("y") == pytest.approx([2 * np.tanh(1.0)] * 3, rel=1e-6)
    return out


def _entries(folder: Path) -> list[Path]:
    """The compiled programs in a cache folder (JAX names them ``*-cache``; the folder also
    holds a ``.lockfile`` and access times)."""
    return [p for p in folder.rglob("*-cache") if p.is_file()]


def test_the_command_caches_compiled_programs_in_the_tdca_cache_folder(tmp_path):
    out = _child(tmp_path)
    folder = tmp_path / "cache" / "xla"
    assert out == {"folder": str(folder), "max_size": MAX_BYTES, "min_seconds": 0.0}
    assert _entries(folder), "nothing was written to the cache"


def test_small_compiles_are_cached_too_unless_jax_is_told_otherwise(tmp_path):
    """JAX's default writes only compiles of 1 s or more; the command writes from 0.1 s."""
    assert _child(tmp_path, **{MIN_TIME: None})["min_seconds"] == MIN_COMPILE_SECONDS < 1
    assert _child(tmp_path / "b", **{MIN_TIME: "2.5"})["min_seconds"] == 2.5
    assert _child(tmp_path / "c", JAX_COMPILATION_CACHE_MAX_SIZE="-1")["max_size"] == -1


def test_the_cache_can_be_moved_or_turned_off(tmp_path):
    moved = tmp_path / "elsewhere"
    assert _child(tmp_path, TDCA_XLA_CACHE=str(moved))["folder"] == str(moved)
    assert _entries(moved)
    off = _child(tmp_path / "off", TDCA_XLA_CACHE="off")
    assert off["folder"] is None and not (tmp_path / "off" / "cache" / "xla").exists()


def test_a_cache_jax_was_given_is_left_as_it_is(tmp_path):
    given = tmp_path / "jax-cache"
    out = _child(tmp_path, JAX_COMPILATION_CACHE_DIR=str(given))
    assert out == {"folder": str(given), "max_size": -1, "min_seconds": 0.0}  # untouched
    assert _entries(given) and not (tmp_path / "cache" / "xla").exists()


def test_an_unwritable_cache_folder_turns_the_cache_off(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert _child(tmp_path, TDCA_XLA_CACHE=str(locked / "xla"))["folder"] is None
    finally:
        locked.chmod(0o755)


def test_every_command_but_bench_turns_it_on(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(cli, "use_compilation_cache", lambda: calls.append("on"))
    assert cli.main(["zoo", "list"]) == 0
    assert calls == ["on"]
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert cli.main(["bench", "--small", "--out", str(a_file)]) == 2  # refused, quickly
    assert calls == ["on"]  # the benchmark reports compile times as they are
    assert f"{a_file}: is a file, not a folder" in capsys.readouterr().err


def test_a_damaged_cache_entry_is_compiled_again_not_trusted(tmp_path):
    _child(tmp_path)
    entries = _entries(tmp_path / "cache" / "xla")
    assert entries
    for entry in entries:
        entry.write_bytes(b"not an executable")
    said: list[str] = []
    _child(tmp_path, said)  # JAX warns and compiles afresh: the program still computes 2 tanh(1)
    assert "Error reading persistent compilation cache entry" in said[0], said[0]
