"""Matmul precision as a run choice (``--precision`` on ``evolve``, ``train``, ``bench``).

Every matmul of the bottom-up network, the credit network and the local rule runs under
``jax.default_matmul_precision``, so one name changes them all without touching model
code; parameters, optimizer state and ES state stay float32 whatever is chosen. On a CPU
XLA computes float32 matmuls under every choice (``tests/test_bench.py`` checks this), so
a matmul precision only changes results on GPUs/TPUs.

``bfloat16-activations`` goes one step further: the data and every per-example array of a
step (pre-activations, activations, credits, deltas) are *stored* in bfloat16, halving the
memory traffic of the elementwise passes that dominate a generation on a GPU once the big
matmuls are fast (docs/performance.md). Weights, their updates (accumulated in float32),
softmax/cross-entropy, optimizer and ES state stay float32. Unlike the matmul-only
choices it changes results on a CPU too (bf16 rounding of every stored activation), so its
effect on accuracy can be measured anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import jax
import jax.numpy as jnp

PRECISIONS: dict[str, str | None] = {
    "default": None,  # JAX's default: float32 on CPUs, may be TF32 on recent NVIDIA GPUs
    "float32": "highest",  # true float32 matmuls everywhere
    "tf32": "tensorfloat32",
    "bfloat16": "BF16_BF16_F32",  # bf16 matmul inputs, f32 accumulation (XLA dot algorithm)
    # bf16 data and activations (module docstring); matmuls of bf16 arrays are native bf16
    # with f32 accumulation, the remaining f32 ones (small) keep JAX's default.
    "bfloat16-activations": None,
}
"""Our precision names -> ``jax.default_matmul_precision`` values (None: leave JAX's)."""

EXPLICIT_PRECISIONS = tuple(k for k in PRECISIONS if k != "default")
"""The names that say which precision ran (what a benchmark must record)."""

ACTIVATION_DTYPES: dict[str, str] = {"bfloat16-activations": "bfloat16"}
"""Precision names that store data and activations in a narrower dtype than float32."""

_activation_dtype: ContextVar[str] = ContextVar("tdca_activation_dtype", default="float32")


def activation_dtype() -> jnp.dtype:
    """The dtype new tasks store their data in (set by :func:`matmul_precision`); networks
    compute in the dtype of their input, so this one choice reaches every activation."""
    return jnp.dtype(_activation_dtype.get())


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {name!r}")
    return name


@contextmanager
def matmul_precision(name: str) -> Iterator[None]:
    """Trace and run the enclosed computations with the named precision (tasks built
    inside also store their data in its activation dtype)."""
    value = PRECISIONS[check_precision(name)]
    token = _activation_dtype.set(ACTIVATION_DTYPES.get(name, "float32"))
    try:
        if value is None:
            yield
        else:
            with jax.default_matmul_precision(value):
                yield
    finally:
        _activation_dtype.reset(token)
