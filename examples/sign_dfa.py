"""A learner of your own, in one file: sign-DFA, Direct Feedback Alignment whose fixed random
feedback matrices are replaced by their signs (each hidden neuron gets +-1 weights from the
output error). Registered as ``sign-dfa``::

    tdca --plugin examples/sign_dfa.py train --dataset mnist --learner sign-dfa --out runs/sd

From Python, run this file in your process first, then name the learner::

    import runpy
    from tdca.experiments.classification import make_split, train_learner

    runpy.run_path("examples/sign_dfa.py")  # registers sign-dfa here
    result = train_learner("sign-dfa", make_split("mnist", None, 1000), steps=20, lr=0.3)
    print(result["test_accuracy"])
"""

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from tdca.credit import DFA, register_learner


@dataclass(frozen=True)
class SignDFA(DFA):
    """DFA's credits, B (y - p), with B = sign(B_random)."""

    name: str = "sign-dfa"

    def init(self, key: jax.Array) -> Any:
        return [jnp.sign(b) for b in super().init(key)]


# The builder makes the strategy for a task (its layer sizes): SignDFA.for_task, not the
# class. init_scheme is the bottom-up network's start: "zero", as DFA's.
register_learner("sign-dfa", SignDFA.for_task, init_scheme="zero")
