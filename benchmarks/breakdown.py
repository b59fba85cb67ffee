"""Where a generation's time goes: one inner step of the whole population, split into parts.

Times (as a ``lax.scan`` of ``--reps`` steps, so dispatch does not count) for the paper's
MNIST protocol shapes with random data:

* ``gemms``: only the two large products each step needs (X @ W1 and X^T @ delta1 for
  every candidate): the floor set by the matmul units;
* ``forward``: the bottom-up forward pass of every candidate;
* ``direction``: forward + credit network + local rule (TDCA's update direction);
* ``step``: a whole inner step (direction + SGD).

    python benchmarks/breakdown.py --out DIR [--population 65] [--examples 60000]
        [--precision tf32|bfloat16|bfloat16-activations|float32]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from tdca import complexity as cx
from tdca.bench import PRECISIONS, BenchConfig, build, device_description, make_task
from tdca.precision import matmul_precision


def _time(fn: Callable[[], Any], reps: int = 3) -> float:
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def breakdown(cfg: BenchConfig, scan_steps: int) -> dict[str, Any]:
    """Seconds per inner step of the whole population for each part (best of 3)."""
    task = make_task(cfg, jax.random.PRNGKey(0))
    evo, strategy, beta0, _ = build(cfg, task)
    pop = cfg.population + 1
    betas = jax.tree.map(lambda b: jnp.broadcast_to(b, (pop, *b.shape)), beta0)
    thetas = jax.vmap(lambda k: task.init_params(k))(jax.random.split(jax.random.PRNGKey(1), pop))
    thetas = jax.tree.map(lambda t: t + 1e-3, thetas)  # non-zero so nothing folds away
    batch = task.batch(jax.random.PRNGKey(2), 0)
    x = batch[0]
    w1 = thetas[0]["w"]
    # in the activations' dtype (bf16 under bfloat16-activations), as the model stores them
    delta = jnp.ones((pop, cfg.examples, cfg.hidden[0]), x.dtype) * 1e-3

    def scan(body: Callable[[Any], Any], carry: Any) -> Callable[[], Any]:
        f = jax.jit(lambda c: jax.lax.scan(lambda c, _: (body(c), None), c, None, scan_steps)[0])
        return lambda: f(carry)

    def gemms(c):
        w, d = c
        z = jnp.einsum("ni,pih->pnh", x, w.astype(x.dtype))
        g = jnp.einsum("ni,pnh->pih", x, d + z * 1e-9, preferred_element_type=jnp.float32)
        return (w + 1e-9 * g, d)

    def forward(th):
        logits = jax.vmap(lambda t: task.model.apply(t, x))(th)
        return jax.tree.map(lambda a: a + 1e-9 * jnp.mean(logits), th)

    def direction(th):
        d = jax.vmap(lambda b, t: strategy.direction(b, task, t, batch))(betas, th)
        return jax.tree.map(lambda a, g: a + 1e-9 * g, th, d)

    loop = dataclasses.replace(evo.inner, steps=1)  # one inner step per scan iteration

    def step(th):
        return jax.vmap(lambda b, t: loop.run(b, task, jax.random.PRNGKey(0), theta0=t)[0])(
            betas, th
        )

    flops_step = cx.tdca_step_flops(cfg.sizes, cfg.examples, None, cfg.credit_hidden).flops * pop
    flops_gemm = 2 * 2 * cfg.examples * cfg.inputs * cfg.hidden[0] * pop
    rows = {
        "gemms": _time(scan(gemms, (w1, delta))) / scan_steps,
        "forward": _time(scan(forward, thetas)) / scan_steps,
        "direction": _time(scan(direction, thetas)) / scan_steps,
        "step": _time(scan(step, thetas)) / scan_steps,
    }
    return {
        "seconds_per_population_step": rows,
        "tflops_step": {k: flops_step / v / 1e12 for k, v in rows.items()},
        "tflops_gemms_only": flops_gemm / rows["gemms"] / 1e12,
        "analytic_step_flops_population": flops_step,
        "gemm_flops_population": flops_gemm,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--population", type=int, default=64, help="+1 centre is added")
    p.add_argument("--examples", type=int, default=60_000)
    p.add_argument("--scan-steps", type=int, default=10)
    p.add_argument("--precision", choices=tuple(PRECISIONS), default="tf32")
    args = p.parse_args(argv)
    cfg = BenchConfig(examples=args.examples, population=args.population)
    with matmul_precision(args.precision):
        res = breakdown(cfg, args.scan_steps)
    res = {"device": device_description(), "precision": args.precision, **res}
    res["config"] = cfg.to_dict()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"breakdown-{args.precision}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
