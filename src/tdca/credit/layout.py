"""Which units of the bottom-up network receive credit, and how credits map onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from tdca.credit.diffusion import Diffusion


def check_layout_spec(spec: Any) -> None:
    """The form of a layout spec (``dense``, ``line:K``, ``grid:RxC``, each but dense with
    an optional ``/group``), checked without a network: a config is refused at once, not
    after its data are loaded. Whether it fits the layers is ``CreditLayout.parse``'s."""
    if not isinstance(spec, str):
        raise ValueError(
            f"credit layout must be a string such as 'dense' or 'line:10', got {spec!r}"
        )
    if spec == "dense":
        return
    body, slash, scope = spec.partition("/")
    if slash and scope != "group":
        raise ValueError(
            f"credit layout {spec!r}: the only suffix is '/group' (each credit within its "
            "own group of neurons), e.g. 'line:10/group'"
        )
    kind, _, size = body.partition(":")
    grid = re.fullmatch(r"(\d+)x(\d+)", size)
    if not ((kind == "line" and size.isdigit()) or (kind == "grid" and grid)):
        raise ValueError(
            f"credit layout must be 'dense', 'line:K' or 'grid:RxC' (optionally with "
            f"'/group'), got {spec!r}"
        )


@dataclass(frozen=True)
class LayerCredits:
    """One credited layer: ``units`` neurons, dense (one credit each) or diffused."""

    units: int
    diffusion: Diffusion | None = None

    def __post_init__(self) -> None:
        if self.diffusion is not None and self.diffusion.num_units != self.units:
            raise ValueError(
                f"diffusion covers {self.diffusion.num_units} neurons but the layer has "
                f"{self.units}"
            )

    @property
    def num_credits(self) -> int:
        return self.units if self.diffusion is None else self.diffusion.num_credits


@dataclass(frozen=True)
class CreditLayout:
    """Credited layers bottom to top; the credit network emits their credits concatenated."""

    layers: tuple[LayerCredits, ...]
    _kernels: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kernels = tuple(
            None if lc.diffusion is None else jnp.asarray(lc.diffusion.matrix())
            for lc in self.layers
        )
        object.__setattr__(self, "_kernels", kernels)

    @classmethod
    def dense(cls, units: tuple[int, ...]) -> CreditLayout:
        """One credit per neuron in every layer."""
        return cls(tuple(LayerCredits(u) for u in units))

    @property
    def num_credits(self) -> int:
        return sum(lc.num_credits for lc in self.layers)

    @property
    def units(self) -> tuple[int, ...]:
        return tuple(lc.units for lc in self.layers)

    def expand(self, credits: jax.Array) -> list[jax.Array]:
        """Split ``(..., num_credits)`` into per-layer ``(..., units)`` credits, diffusing."""
        if credits.shape[-1] != self.num_credits:
            raise ValueError(
                f"expected {self.num_credits} credits on the last axis, got {credits.shape}"
            )
        out, start = [], 0
        for lc, kernel in zip(self.layers, self._kernels, strict=True):
            c = credits[..., start : start + lc.num_credits]
            start += lc.num_credits
            out.append(c if kernel is None else c @ kernel.astype(c.dtype))
        return out

    @classmethod
    def from_description(cls, layers: list[dict]) -> CreditLayout:
        """Inverse of :meth:`describe` (how saved credit networks record their layout)."""
        built = []
        for d in layers:
            diffusion = None
            if "diffusion" in d:
                diffusion = Diffusion(
                    d["diffusion"],
                    tuple(d["credit_shape"]),
                    tuple(d["unit_shape"]),
                    float(d["sigma"]),
                    d.get("scope", "layer"),  # credit networks saved before scopes: layer
                )
            built.append(LayerCredits(int(d["units"]), diffusion))
        return cls(tuple(built))

    @classmethod
    def parse(cls, spec: str, units: tuple[int, ...], sigma: float = 5.0) -> CreditLayout:
        """``dense``, ``line:K`` or ``grid:RxC``: diffusion on every hidden layer, dense output.

        ``line:10`` on a 100-unit hidden layer is the papers' 10-to-100; ``grid:6x6`` on a
        900-unit layer lays the neurons on a 30x30 grid (the layer must be a square). A
        ``/group`` suffix (``line:10/group``) keeps each credit within its own group of
        neurons, the other reading of the paper's eq. 2 (``tdca.credit.diffusion``).
        """
        check_layout_spec(spec)
        if spec == "dense":
            return cls.dense(units)
        body, _, scope = spec.partition("/")
        scope = scope or "layer"
        size = body.partition(":")[2]
        grid = re.fullmatch(r"(\d+)x(\d+)", size)
        if len(units) < 2:  # diffusion is for hidden layers; the output layer stays dense
            raise ValueError(
                f"credit layout {spec!r} spreads credits over hidden layers, but the network's "
                f"credited layers {tuple(units)} have none; use 'dense'"
            )
        layers = []
        for i, u in enumerate(units[:-1], 1):
            try:
                if grid is None:
                    line = Diffusion("line", (int(size),), (u,), sigma, scope)
                    layers.append(LayerCredits(u, line))
                    continue
                side = round(u**0.5)
                if side * side != u:
                    raise ValueError(f"grid diffusion needs a square layer, got {u} units")
                shape = (int(grid[1]), int(grid[2]))
                layers.append(LayerCredits(u, Diffusion("grid", shape, (side, side), sigma, scope)))
            except ValueError as e:
                raise ValueError(
                    f"credit layout {spec!r} does not fit hidden layer {i} ({u} units): {e}"
                ) from e
        return cls((*layers, LayerCredits(units[-1])))

    def describe(self) -> list[dict]:
        """JSON-able description, stored with evolved credit networks."""
        return [
            {"units": lc.units, "credits": lc.num_credits}
            | (
                {}
                if lc.diffusion is None
                else {
                    "diffusion": lc.diffusion.kind,
                    "credit_shape": list(lc.diffusion.credits),
                    "unit_shape": list(lc.diffusion.units),
                    "sigma": lc.diffusion.sigma,
                }
                | ({"scope": "group"} if lc.diffusion.scope == "group" else {})
            )
            for lc in self.layers
        ]
