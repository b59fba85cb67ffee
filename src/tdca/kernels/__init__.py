"""Hand-written kernels for the hot inner step, chosen per run with ``--kernel``.

``xla`` (the default) leaves every step to XLA's fusions; ``fused`` runs the per-example
work of a TDCA step on a one-hidden-layer MLP in one Pallas kernel (``fused_tdca``).
"""

from tdca.kernels.fused_tdca import Tiling, fused_direction, unsupported_reason

KERNELS = ("xla", "fused")
"""The step implementations a TDCA run can choose (``TDCA.kernel``)."""


def check_kernel(name: str) -> str:
    if name not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {name!r}")
    return name


__all__ = ["KERNELS", "Tiling", "check_kernel", "fused_direction", "unsupported_reason"]
