"""A task of your own, in one file: three Gaussian blobs in 8 dimensions, classified by an
8-16-3 tanh MLP, with a TDCA credit network evolved for it from Python.

A task is a JAX pytree (``flax.struct.dataclass``: evolution jits and vmaps over it) with
what ``tdca.tasks.base.Task`` lists, and ``taps_and_error`` (``LayeredTask``) for FA and
DFA. Run it (14 s on a 2-core CPU; ``--resume`` continues a stopped run)::

    python examples/blobs_task.py --out runs/blobs
    python examples/blobs_task.py --out runs/blobs --resume --generations 60

The ``register_task`` call at the end of the task's code makes it a task of the ``tdca``
command too, which then writes the run directory and compares it with BP, FA and DFA::

    tdca --plugin examples/blobs_task.py task blobs --lr 1.5 --steps 10 --credit-init dfa \
        --credit-hidden 16,16 --generations 60 --population 16 --out runs/blobs-cli
    tdca task --resume runs/blobs-cli --generations 100
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from tdca.credit import DFA, TDCA, dfa_like_init
from tdca.credit.artifact import save_credit_net
from tdca.evolution import ESConfig, Evolution, evolve
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.networks.mlp import LayerTap, Params
from tdca.rundir import RunDir
from tdca.tasks import register_task

CLASSES = 3


@struct.dataclass
class Blobs:
    """Full-batch classification of ``x`` (N, 8) into ``y`` (N,); fitness: -cross-entropy."""

    x: jax.Array
    y: jax.Array
    model: MLP = struct.field(pytree_node=False)  # static: part of the compiled program
    # The start of every inner loop: the papers' zero; a learner that cannot learn from
    # zeros (backprop) is run from its own start through this field (``task.replace``).
    init_scheme: str = struct.field(pytree_node=False, default="zero")
    name: str = struct.field(pytree_node=False, default="blobs")

    @property
    def credit_input_dim(self) -> int:
        return 2 * CLASSES  # the credit network reads [p, onehot(y)]

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units  # one credit per neuron, every layer, output included

    def init_params(self, key: jax.Array) -> Params:
        return self.model.init(key, self.init_scheme)

    def batch(self, key: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.x, self.y

    def loss(self, theta: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        x, y = batch
        log_p = jax.nn.log_softmax(self.model.apply(theta, x))
        return -jnp.mean(jnp.sum(log_p * jax.nn.one_hot(y, CLASSES), -1))

    def taps_and_error(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[list[LayerTap], jax.Array]:
        x, y = batch
        logits, taps = self.model.forward(theta, x)
        return taps, jax.nn.one_hot(y, CLASSES) - jax.nn.softmax(logits)

    def credit_state(
        self, theta: Params, batch: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, list[LayerTap]]:
        x, y = batch
        logits, taps = self.model.forward(theta, x)
        u = jnp.concatenate([jax.nn.softmax(logits), jax.nn.one_hot(y, CLASSES)], -1)
        return u, taps

    def apply_credits(self, theta: Params, aux: list[LayerTap], credits: list) -> Params:
        return self.model.local_update(aux, credits)

    def fitness(self, theta: Params, key: jax.Array) -> jax.Array:
        return -self.loss(theta, (self.x, self.y))


def make_task(n: int = 300, seed: int = 0) -> Blobs:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, 8))
    y = rng.integers(0, CLASSES, n)
    x = centres[y] + rng.normal(size=(n, 8))
    return Blobs(jnp.asarray(x, jnp.float32), jnp.asarray(y), MLP((8, 16, CLASSES)))


# `tdca --plugin examples/blobs_task.py task blobs --option n=600 ...` builds make_task(n=600).
register_task("blobs", make_task)


def trained(strategy: Any, sparams: Any, task: Blobs, loop: InnerLoop) -> tuple[float, float]:
    """(loss, accuracy) of a fresh network after the inner loop with ``strategy``."""
    theta, _ = InnerLoop(strategy, loop.steps, loop.lr).run(sparams, task, jax.random.PRNGKey(1))
    logits = task.model.apply(theta, task.x)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == task.y)
    return float(task.loss(theta, (task.x, task.y))), float(accuracy)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = p.parse_args(argv)

    task = make_task()
    strategy = TDCA.for_task(task, hidden=(16, 16))
    # Start from a rule that already learns (DFA), searched with a small width around it.
    beta0 = dfa_like_init(strategy, jax.random.PRNGKey(1), CLASSES)
    loop = InnerLoop(strategy, steps=10, lr=0.5)
    es = ESConfig(
        population=args.population,
        generations=args.generations,
        sigma_init=0.003,
        learning_rate=0.001,
        checkpoint_every=10,
    )
    evolution = Evolution(loop, beta0, es)
    run = RunDir(args.out, resume=args.resume)
    result = evolve(evolution, task, beta0, run, seed=0, resume=args.resume)
    if result.interrupted:
        print(f"stopped at generation {result.generation}; continue with --resume")
        return 1
    path = save_credit_net(
        args.out / "credit_net.npz", strategy, result.params, {"generations": result.generation}
    )
    dfa = DFA.for_task(task)
    for label, (s, sp) in {
        "DFA": (dfa, dfa.init(jax.random.PRNGKey(2))),
        "TDCA at its start": (strategy, beta0),
        f"TDCA after {result.generation} generations": (strategy, result.params),
    }.items():
        loss, accuracy = trained(s, sp, task, loop)
        print(f"{label}: training loss {loss:.4f}, accuracy {accuracy:.2%}")
    print(f"credit network: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
