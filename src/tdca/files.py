"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(final: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a fresh temporary file beside ``final``; when the block ends without an error,
    flush it to disk and move it into place with ``os.replace``. A process killed
    mid-write, or two processes writing the same file, never leave it truncated; on an
    error the temporary file is removed and ``final`` is untouched."""
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results and caches from other users
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
