"""Matmul precision as a run choice (``--precision`` on ``evolve``, ``train``, ``bench``).

Every matmul of the bottom-up network, the credit network and the local rule runs under
``jax.default_matmul_precision``, so one name changes them all without touching model
code; parameters, optimizer state and ES state stay float32 whatever is chosen. On a CPU
XLA computes float32 matmuls under every choice (``tests/test_bench.py`` checks this), so
a precision only changes results on GPUs/TPUs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import jax

PRECISIONS: dict[str, str | None] = {
    "default": None,  # JAX's default: float32 on CPUs, may be TF32 on recent NVIDIA GPUs
    "float32": "highest",  # true float32 matmuls everywhere
    "tf32": "tensorfloat32",
    "bfloat16": "BF16_BF16_F32",  # bf16 matmul inputs, f32 accumulation (XLA dot algorithm)
}
"""Our precision names -> ``jax.default_matmul_precision`` values (None: leave JAX's)."""

EXPLICIT_PRECISIONS = tuple(k for k, v in PRECISIONS.items() if v is not None)
"""The names that say which precision ran (what a benchmark must record)."""


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {name!r}")
    return name


@contextmanager
def matmul_precision(name: str) -> Iterator[None]:
    """Trace and run the enclosed computations with the named matmul precision."""
    value = PRECISIONS[check_precision(name)]
    if value is None:
        yield
        return
    with jax.default_matmul_precision(value):
        yield
