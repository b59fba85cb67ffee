"""How much does a PGPE-sized perturbation of the credit network hurt its inner loop?

The MNIST zoo evolution at 10,000 images x 150 Adam steps (results/gpu/zoo-mnist) logged a
best population member *below* its centre in every one of its 549 generations: at sigma
0.003 every perturbation hurt. A hypothesis: a perturbed credit network emits a credit that
does not vanish when the bottom-up network is right (p = y), unlike BP, FA and DFA, whose
credits are all proportional to y - p. That stray credit is the same for every example of
a class, so it adds up over the batch, and Adam, which normalises each synapse's step,
turns it into full-sized steps late in training, when the true credits are small.

This measures, on the validation split (never the test set), the fitness (minus the
cross-entropy) of the DFA-like start and of antithetic perturbations of it, for the plain
credit network and for one anchored at the target (T(p, y) - T(y, y)).

    TDCA_DATA_DIR=../shared/data python results/cpu/credit-rules/perturb.py --out FILE.json \
        [--train-size 10000] [--steps 150] [--sigmas 0.003,0.001] [--pairs 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from tdca.credit import TDCA
from tdca.experiments.classification import (
    EvolveConfig,
    make_split,
    make_task,
    starting_point,
)
from tdca.inner import InnerLoop, make_optimizer
from tdca.networks import MLP
from tdca.tasks.classification import accuracy, cross_entropy


@dataclasses.dataclass(frozen=True)
class Anchored:
    """The same credit network, minus what it emits when the bottom-up network is right:
    credits T([p, y]) - T([y, y]), zero wherever p = y (as BP's, FA's and DFA's are).
    Written out here as the formula (a full second pass on [y, y]); the library's
    ``TDCA(anchored=True)`` computes the same credits from the C anchors, and
    tests/test_anchored_credits.py checks it against this formula."""

    inner: TDCA
    name: str = "tdca-anchored"

    def init(self, key: jax.Array):
        return self.inner.init(key)

    def direction(self, sparams, task, theta, batch):
        u, aux = task.credit_state(theta, batch)
        c = u.shape[-1] // 2
        target = jnp.concatenate([u[..., c:], u[..., c:]], -1)
        net = self.inner.net
        credits = net.apply(sparams, u) - net.apply(sparams, target)
        return task.apply_credits(theta, aux, self.inner.layout.expand(credits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--sigmas", default="0.003,0.001")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--anchors", default="plain,anchored")
    args = ap.parse_args()

    split = make_split("mnist", None, args.train_size, validation=True)
    model = MLP((784, 100, 10))
    task = make_task(split, model, "zero")
    xv, yv = jnp.asarray(split.x_eval), jnp.asarray(split.y_eval)
    cfg = EvolveConfig(
        datasets=("mnist",),
        train_size=args.train_size,
        steps=args.steps,
        lr=args.lr,
        optimizer="adam",
    )
    rows = []
    plain, beta0 = starting_point(cfg, task)
    for anchor in args.anchors.split(","):
        strategy = plain if anchor == "plain" else Anchored(plain)
        loop = InnerLoop(strategy, args.steps, optimizer=make_optimizer("adam", args.lr))

        @jax.jit
        def scores(betas, loop=loop):
            def one(b):
                theta, _ = loop.run(b, task, jax.random.PRNGKey(0))
                logits = model.apply(theta, xv)
                train = -cross_entropy(model.apply(theta, task.x), task.y)
                return -cross_entropy(logits, yv), accuracy(logits, yv), train

            return jax.lax.map(one, betas)

        flat, unravel = ravel_pytree(beta0)
        for sigma in [float(s) for s in args.sigmas.split(",")]:
            eps = jax.random.normal(jax.random.PRNGKey(1), (args.pairs, flat.size))
            cand = jnp.concatenate([flat[None], flat + sigma * eps, flat - sigma * eps])
            t0 = time.time()
            fit, acc, train = (np.asarray(a) for a in scores(jax.vmap(unravel)(cand)))
            row = {
                "credit_net": anchor,
                "sigma": sigma,
                "train_size": args.train_size,
                "steps": args.steps,
                "lr": args.lr,
                "centre_fitness": float(fit[0]),
                "centre_val_accuracy": float(acc[0]),
                "perturbed_fitness": fit[1:].round(5).tolist(),
                "perturbed_val_accuracy": acc[1:].round(5).tolist(),
                "share_above_centre": float(np.mean(fit[1:] > fit[0])),
                "centre_train_fitness": float(train[0]),
                "perturbed_train_fitness": train[1:].round(5).tolist(),
                "seconds": round(time.time() - t0, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
