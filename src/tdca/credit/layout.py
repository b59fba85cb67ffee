"""Which units of the bottom-up network receive credit, and how credits map onto them."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from tdca.credit.diffusion import Diffusion


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
            out.append(c if kernel is None else c @ kernel)
        return out

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
            )
            for lc in self.layers
        ]
