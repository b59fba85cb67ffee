"""The outer loop: PGPE (evosax) over credit-strategy parameters, with checkpoints."""

from tdca.evolution.pgpe import ESConfig, Evolution, population_mesh
from tdca.evolution.runner import CHECKPOINT, HISTORY, EvolutionResult, evolve

__all__ = [
    "CHECKPOINT",
    "HISTORY",
    "ESConfig",
    "Evolution",
    "EvolutionResult",
    "evolve",
    "population_mesh",
]
