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
from tdca.compile_cache import MAX_BYTES

CHILD = """
import json
import jax, jax.numpy as jnp
from tdca.compile_cache import use_compilation_cache
folder = use_compilation_cache()
y = jax.jit(lambda x: jnp.tanh(x) * 2)(jnp.ones(3))
print(json.dumps({"folder": None if folder is None else str(folder),
                  "max_size": jax.config.jax_compilation_cache_max_size,
                  "y": [float(v) for v in y]}))
"""


def _child(tmp: Path, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    base.update(HOME=str(tmp / "home"), TDCA_CACHE_DIR=str(tmp / "cache"), **env)
    base.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # write even tiny ones
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=base, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out.pop("y") == pytest.approx([2 * np.tanh(1.0)] * 3, rel=1e-6)
    return out


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def test_the_command_caches_compiled_programs_in_the_tdca_cache_folder(tmp_path):
    out = _child(tmp_path)
    folder = tmp_path / "cache" / "xla"
    assert out == {"folder": str(folder), "max_size": MAX_BYTES}
    assert _entries(folder), "nothing was written to the cache"


def test_the_cache_can_be_moved_or_turned_off(tmp_path):
    moved = tmp_path / "elsewhere"
    assert _child(tmp_path, TDCA_XLA_CACHE=str(moved))["folder"] == str(moved)
    assert _entries(moved)
    off = _child(tmp_path / "off", TDCA_XLA_CACHE="off")
    assert off["folder"] is None and not (tmp_path / "off" / "cache" / "xla").exists()


def test_a_cache_jax_was_given_is_left_as_it_is(tmp_path):
    given = tmp_path / "jax-cache"
    out = _child(tmp_path, JAX_COMPILATION_CACHE_DIR=str(given))
    assert out == {"folder": str(given), "max_size": -1}  # JAX's own settings, untouched
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
    assert "is not a directory" in capsys.readouterr().err


def test_a_damaged_cache_entry_is_compiled_again_not_trusted(tmp_path):
    _child(tmp_path)
    entries = _entries(tmp_path / "cache" / "xla")
    assert entries
    for entry in entries:
        entry.write_bytes(b"not an executable")
    _child(tmp_path)  # JAX warns and compiles afresh: the program still computes 2 tanh(1)
