"""The outer loop: PGPE (evosax) over credit-strategy parameters, with checkpoints."""

from tdca.evolution.pgpe import ESConfig, Evolution, population_mesh
from tdca.evolution.runner import (
    CHECKPOINT,
    HISTORY,
    EvolutionResult,
    GenerationFailed,
    chunk_size_by_generation,
    config_for_resume,
    devices_by_generation,
    evolve,
    open_run,
    read_history,
    stream_key,
)

__all__ = [
    "CHECKPOINT",
    "HISTORY",
    "ESConfig",
    "Evolution",
    "EvolutionResult",
    "GenerationFailed",
    "chunk_size_by_generation",
    "config_for_resume",
    "devices_by_generation",
    "evolve",
    "open_run",
    "population_mesh",
    "read_history",
    "stream_key",
]
