"""A persistent XLA compilation cache for the ``tdca`` command.

Compiling is a large share of a short command's time on a CPU (the demo: 93 s without the
cache, 70 s with it filled by an earlier run, on 2 cores: benchmarks/compile_cache.sh). JAX
can keep compiled programs on disk and load them when the same program is compiled again; a
loaded program is the one the first compile made, so results are the same bit for bit. The
command turns that on in ``$TDCA_CACHE_DIR/xla`` (else ``~/.cache/tdca/xla``), bounded in
size, least recently used entries dropped first. ``TDCA_XLA_CACHE=off`` turns it off,
``TDCA_XLA_CACHE=DIR`` puts it in DIR, and a cache JAX was already given
(``JAX_COMPILATION_CACHE_DIR``) is left alone.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from tdca.data.cache import _env_path, fallback_cache_dir, is_writable_dir

ENV = "TDCA_XLA_CACHE"
OFF = ("0", "off", "no", "false", "none")
MAX_BYTES = 2**30  # a CLI session's programs take a few MB; the bound keeps years of them
MIN_COMPILE_SECONDS = 0.1  # JAX's default (1 s) skips the many small eager programs


def cache_folder() -> Path | None:
    """Where the command's cache goes: ``$TDCA_XLA_CACHE``, else the tdca cache folder's
    ``xla/``; None when it is turned off."""
    if os.environ.get(ENV, "").strip().lower() in OFF:
        return None
    return _env_path(ENV) or fallback_cache_dir() / "xla"


def use_compilation_cache() -> Path | None:
    """Turn the persistent cache on for this process; the folder in use, or None (off, or
    not writable). Call it before the first compile: JAX decides once per process."""
    import jax

    given = jax.config.jax_compilation_cache_dir
    if given:  # the user's own (JAX_COMPILATION_CACHE_DIR or set in code)
        return Path(given)
    folder = cache_folder()
    if (
        folder is None
        or not is_writable_dir(folder)
        or importlib.util.find_spec("filelock") is None
    ):
        return None  # (JAX needs filelock to bound the cache's size; a dependency of tdca)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_COMPILATION_CACHE_MAX_SIZE" not in os.environ:
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
