"""Seconds for one TDCA inner loop of the CNN: one candidate, and a vmapped population.

Why it exists: a vmapped per-candidate ``lax.conv_general_dilated`` ran ~40x slower than
the candidates one by one on XLA:CPU (327 s per small-scale generation); the CNN now
computes its convolution as shared patches @ a kernel matrix. Run it at a commit before
and after that change to compare (docs/performance.md).

    TDCA_DATA_DIR=... python benchmarks/cnn_vmap.py [--dataset mnist] [--population 8]
        [--train-size 1000] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp

from tdca.experiments.classification import (
    EvolveConfig,
    build_model,
    make_split,
    make_task,
    starting_point,
)
from tdca.inner import InnerLoop


def _seconds(fn, *args) -> tuple[float, jax.Array]:
    jax.block_until_ready(fn(*args))  # compile and warm up
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.3)
    args = ap.parse_args()
    split = make_split(args.dataset, None, args.train_size)
    task = make_task(split, build_model("cnn", split.dataset), "zero")
    cfg = EvolveConfig(datasets=(args.dataset,), arch="cnn")
    strategy, beta = starting_point(cfg, task)
    loop = InnerLoop(strategy, args.steps, args.lr)
    key = jax.random.PRNGKey(0)
    one, fit1 = _seconds(jax.jit(loop.fitness), beta, task, key)
    population = jax.tree.map(lambda x: jnp.stack([x] * args.population), beta)
    batched = jax.jit(jax.vmap(loop.fitness, in_axes=(0, None, None)))
    many, fits = _seconds(batched, population, task, key)
    print(
        json.dumps(
            {
                "device": jax.devices()[0].device_kind,
                **vars(args),
                "seconds_one_candidate": round(one, 3),
                "seconds_vmapped_population": round(many, 3),
                "vmapped_over_sequential": round(many / (args.population * one), 3),
                "fitness_one_candidate": float(fit1),
                "fitness_vmapped_first": float(fits[0]),
            }
        )
    )


if __name__ == "__main__":
    main()
