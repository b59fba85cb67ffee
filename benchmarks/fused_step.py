"""The fused TDCA step against XLA's: agreement and time per inner step, per precision.

One inner step of a whole population (vmapped, as in a generation) on the papers' MNIST
shape (60,000 x 784, 784-100-10, population 64; random data), for XLA's step and for the
fused Pallas kernel at each tile size and warp count swept. Prints a table and writes
DIR/metrics.json. ``--small`` is a CPU-sized check (the kernel is interpreted there, so
its CPU time says nothing about a GPU).

    python benchmarks/fused_step.py --out DIR [--small] [--precision P ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from tdca.bench import device_description
from tdca.credit.strategies.tdca import TDCA, dfa_like_init
from tdca.kernels.fused_tdca import Tiling, fused_direction
from tdca.networks.mlp import MLP
from tdca.precision import EXPLICIT_PRECISIONS, matmul_precision
from tdca.rundir import write_json_file
from tdca.tasks.classification import ClassificationTask

# (block_rows, sub_rows, num_warps, hoist_weights): the default (one sub-tile of 64 rows), then
# larger blocks walked in sub-tiles, one knob changed at a time from 512,64,4,True
TILINGS = [
    Tiling(),  # 64 rows in one sub-tile per program, 4 warps
    Tiling(512, 64, 4, True),
    Tiling(256, 64, 4, True),
    Tiling(1024, 64, 4, True),
    Tiling(2048, 64, 4, True),
    Tiling(512, 64, 4, False),
    Tiling(512, 32, 4, True),
    Tiling(512, 128, 8, True),
    Tiling(512, 64, 8, True),
]
FULL = {"examples": 60_000, "population": 64, "reps": 10, "tilings": TILINGS}
SMALL = {
    "examples": 500,
    "population": 4,
    "reps": 2,
    "tilings": [Tiling(64, 32, 4, True), Tiling(256, 64, 4, False)],
}


def _timed(fn: Any, reps: int) -> float:
    """Median seconds of ``fn()`` after two warm-up calls (the first compiles)."""
    for _ in range(2):
        jax.block_until_ready(fn())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _max_rel_diff(a: Any, b: Any) -> float:
    """Largest |a - b| per leaf over that leaf's largest |a|."""
    return max(
        float(jnp.max(jnp.abs(x - y)) / jnp.maximum(jnp.max(jnp.abs(x)), 1e-30))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def measure(precision: str, size: dict[str, Any]) -> dict[str, Any]:
    """XLA's and the fused step's time and their agreement at one precision."""
    with matmul_precision(precision):
        kx, ky, kb, kt = jax.random.split(jax.random.PRNGKey(0), 4)
        x = jax.random.uniform(kx, (size["examples"], 784))
        y = jax.random.randint(ky, (size["examples"],), 0, 10)
        task = ClassificationTask.create(x, y, MLP((784, 100, 10)), 10)
        xla = TDCA.for_task(task)
        beta0 = dfa_like_init(xla, kb, 10)
        noise = jax.random.split(kb, size["population"])
        betas = jax.vmap(  # a population around the DFA-like start, as PGPE samples it
            lambda k: jax.tree.map(
                lambda b: b + 0.01 * jax.random.normal(k, b.shape, b.dtype), beta0
            )
        )(noise)
        # each candidate its own trained-looking state, as in a generation: with one shared
        # state XLA computes x @ W1 once for the whole population and the comparison is off
        # (lease 5's calls 1 and 2 ran that way: their XLA column is not a generation's step)
        thetas = jax.vmap(lambda k: task.model.init(k, "kaiming"))(
            jax.random.split(kt, size["population"])
        )
        batch = (task.x, task.y)

        def population_step(direction: Any) -> Any:
            step = jax.vmap(lambda b, theta: direction(b, task, theta, batch))
            return jax.jit(lambda b: step(b, thetas))

        ref_fn = population_step(xla.direction)
        ref = ref_fn(betas)
        row: dict[str, Any] = {
            "precision": precision,
            "xla_seconds_per_step": _timed(lambda: ref_fn(betas), size["reps"]),
            "fused": [],
        }
        for tiling in size["tilings"]:

            def fused(b, task, theta, batch, tiling=tiling):
                return fused_direction(task.model, xla.net, b, theta, batch, tiling)

            fn = population_step(fused)
            knobs = dataclasses.asdict(tiling)
            try:  # one tiling that does not compile must not lose the others
                out = fn(betas)
                seconds = _timed(lambda fn=fn: fn(betas), size["reps"])
            except Exception as e:  # recorded and printed (a compiler's message can be long)
                msg = f"{type(e).__name__}: {e}"[:3000]
                print(f"{precision} {knobs}: {msg}", flush=True)
                row["fused"].append({**knobs, "error": msg})
                continue
            row["fused"].append(
                {
                    **knobs,
                    "seconds_per_step": seconds,
                    "max_rel_diff_vs_xla": _max_rel_diff(ref, out),
                }
            )
            print(row["precision"], row["fused"][-1], flush=True)
        # the kernel as a run uses it (TDCA(kernel="fused"), default tile and warps)
        strategy = dataclasses.replace(xla, kernel="fused")
        row["default_kernel_max_rel_diff_vs_xla"] = _max_rel_diff(
            ref, population_step(strategy.direction)(betas)
        )
    ran = [r for r in row["fused"] if "error" not in r]
    if ran:
        best = min(ran, key=lambda r: r["seconds_per_step"])
        row["best_fused"] = best
        row["speedup_best_fused_vs_xla"] = row["xla_seconds_per_step"] / best["seconds_per_step"]
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for metrics.json")
    p.add_argument("--small", action="store_true", help="CPU-sized check (interpreted kernel)")
    p.add_argument(
        "--precision",
        nargs="+",
        choices=EXPLICIT_PRECISIONS,
        default=["float32", "tf32", "bfloat16-activations"],
    )
    args = p.parse_args(argv)
    size = SMALL if args.small else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    metrics = {
        "experiment": "fused-step",
        "device": device_description(),
        "size": {
            **size,
            "tilings": [dataclasses.asdict(t) for t in size["tilings"]],
            "mlp": "784-100-10",
            "credit_net": "20-30-30-110",
        },
        "rows": rows,
    }
    for prec in args.precision:  # written after each precision: a time limit keeps the rest
        rows.append(measure(prec, size))
        write_json_file(args.out / "metrics.json", metrics)
    show = partial(print, sep=" | ")
    show(
        "precision", "xla s/step", "fused s/step (block, sub, warps, hoist)", "speedup", "rel diff"
    )
    for r in rows:
        for f in r["fused"]:
            knobs = f"({f['block_rows']}, {f['sub_rows']}, {f['num_warps']}, {f['hoist_weights']})"
            if "error" in f:
                show(r["precision"], "", f"failed {knobs}", "", "")
                continue
            show(
                r["precision"],
                f"{r['xla_seconds_per_step']:.4g}",
                f"{f['seconds_per_step']:.4g} {knobs}",
                f"{r['xla_seconds_per_step'] / f['seconds_per_step']:.2f}x",
                f"{f['max_rel_diff_vs_xla']:.2e}",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
