"""Credit assignment: strategies, the shared local rule, credit layouts and diffusion."""

from tdca.credit.diffusion import Diffusion, grid_diffusion, line_diffusion
from tdca.credit.layout import CreditLayout, LayerCredits
from tdca.credit.local_rule import local_update
from tdca.credit.strategies import (
    BP,
    DFA,
    FA,
    LEARNERS,
    STRATEGIES,
    TDCA,
    CreditStrategy,
    Learner,
    dfa_like_init,
    make_strategy,
    register_learner,
)

__all__ = [
    "BP",
    "DFA",
    "FA",
    "LEARNERS",
    "STRATEGIES",
    "TDCA",
    "CreditLayout",
    "CreditStrategy",
    "Diffusion",
    "LayerCredits",
    "Learner",
    "dfa_like_init",
    "grid_diffusion",
    "line_diffusion",
    "local_update",
    "make_strategy",
    "register_learner",
]
