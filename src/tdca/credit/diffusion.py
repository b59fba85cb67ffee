"""Credit diffusion: a few credits spread to a whole layer by a fixed Gaussian kernel.

k credits sit at evenly spaced centre neurons of a layer laid out on a 1-D line or a 2-D
grid, one per group of neighbouring neurons. Eq. 2 of the 2024 paper gives credit C_i's
share at neuron j as ``C_i * exp(-|pos_i - pos_j|^2 / sigma^2)``. Two readings of it:

* ``scope="layer"`` (the default, what every committed table and figure used): neuron j
  receives the sum over all centres, so near a group's edge it also hears the
  neighbouring groups' credits (the paper's "then diffused across the entire layer").
* ``scope="group"``: neuron j receives only its own group's credit, attenuated by its
  distance to that group's centre (the paper's "its diffusion to neuron j within the same
  group").

The kernel is built once as a (k, n) matrix, so diffusing is one matmul either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdca.checks import is_finite_number

DEFAULT_SIGMA = 5.0


def _centres(k: int, n: int) -> np.ndarray:
    """Integer centre positions of k equal groups on n neurons (group middles)."""
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= credits <= neurons, got {k} credits for {n} neurons")
    return np.floor((np.arange(k) + 0.5) * n / k).astype(np.int64)


def check_sigma(sigma: float) -> None:
    """A kernel width is a finite number > 0 (NaN would pass ``sigma <= 0`` and make every
    credit NaN)."""
    if not (is_finite_number(sigma) and sigma > 0):
        raise ValueError(f"diffusion sigma must be a finite number > 0, got {sigma!r}")


SCOPES = ("layer", "group")


def _groups(k: int, n: int) -> np.ndarray:
    """The group (0 .. k-1) of each of n neurons: k equal contiguous blocks, each holding
    its centre from ``_centres``."""
    return (np.arange(n) * k) // n


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"diffusion scope must be one of {SCOPES}, got {scope!r}")


def line_diffusion(
    k: int, n: int, sigma: float = DEFAULT_SIGMA, scope: str = "layer"
) -> np.ndarray:
    """(k, n) kernel for k credits on a line of n neurons."""
    check_sigma(sigma)
    _check_scope(scope)
    c = _centres(k, n).astype(np.float64)
    pos = np.arange(n, dtype=np.float64)
    kernel = np.exp(-((c[:, None] - pos[None, :]) ** 2) / sigma**2)
    if scope == "group":
        kernel = np.where(np.arange(k)[:, None] == _groups(k, n)[None, :], kernel, 0.0)
    return kernel.astype(np.float32)


def grid_diffusion(
    credits: tuple[int, int],
    units: tuple[int, int],
    sigma: float = DEFAULT_SIGMA,
    scope: str = "layer",
) -> np.ndarray:
    """(kr*kc, nr*nc) kernel for a kr x kc credit grid over an nr x nc neuron grid (row-major)."""
    check_sigma(sigma)
    _check_scope(scope)
    (kr, kc), (nr, nc) = credits, units
    cr, cc = _centres(kr, nr), _centres(kc, nc)
    centre = np.stack(np.meshgrid(cr, cc, indexing="ij"), -1).reshape(-1, 2).astype(np.float64)
    rr, col = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    pos = np.stack([rr, col], -1).reshape(-1, 2).astype(np.float64)
    d2 = ((centre[:, None, :] - pos[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / sigma**2)
    if scope == "group":
        gr, gc = np.meshgrid(_groups(kr, nr), _groups(kc, nc), indexing="ij")
        own = (gr * kc + gc).reshape(-1)  # each neuron's group, numbered like the centres
        kernel = np.where(np.arange(kr * kc)[:, None] == own[None, :], kernel, 0.0)
    return kernel.astype(np.float32)


@dataclass(frozen=True)
class Diffusion:
    """How one layer's credits diffuse: ``line`` (1-D) or ``grid`` (2-D) with a kernel width."""

    kind: str
    credits: tuple[int, ...]
    units: tuple[int, ...]
    sigma: float = DEFAULT_SIGMA
    scope: str = "layer"  # "group": each neuron hears only its own group's credit

    def __post_init__(self) -> None:
        _check_scope(self.scope)
        dims = {"line": 1, "grid": 2}
        if self.kind not in dims:
            raise ValueError(f"diffusion kind must be 'line' or 'grid', got {self.kind!r}")
        want = dims[self.kind]
        if len(self.credits) != want or len(self.units) != want:
            raise ValueError(
                f"{self.kind} diffusion needs {want}-D credit and unit shapes, "
                f"got credits={self.credits} units={self.units}"
            )
        check_sigma(self.sigma)
        for k, n in zip(self.credits, self.units, strict=True):
            if not 1 <= k <= n:  # checked here, not when the kernel is first built
                raise ValueError(
                    f"need 1 <= credits <= neurons along each axis, got {self.credits} credits "
                    f"for {self.units} neurons"
                )

    @property
    def num_credits(self) -> int:
        return int(np.prod(self.credits))

    @property
    def num_units(self) -> int:
        return int(np.prod(self.units))

    def matrix(self) -> np.ndarray:
        if self.kind == "line":
            return line_diffusion(self.credits[0], self.units[0], self.sigma, self.scope)
        return grid_diffusion(self.credits, self.units, self.sigma, self.scope)  # type: ignore[arg-type]
