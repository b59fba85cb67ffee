"""Does automatic chunking's memory plan match what a device really uses?

``chunk_size="auto"`` plans with XLA's memory analysis (``pgpe.candidate_memory``: bytes
per candidate and fixed bytes) against the device's free memory. On XLA:CPU the analysis
fell short of the peak resident memory by up to 1.6 times (docs/performance.md, "Memory
and chunking"); on a GPU it was never checked. This script plans the papers' MNIST shape
(784-100-10, random data of MNIST's size, TDCA with a DFA-like start), then runs one
generation at half the chosen chunk and one at the chosen chunk, smaller first (a
device's peak only grows), and prints, as one JSON line, the plan and the device's peak
bytes in use after each (GPU: the allocator's ``peak_bytes_in_use``; CPU: the process's
peak resident memory, ``ru_maxrss``). The difference of the two peaks over the difference
of the chunks is the measured bytes per candidate, to set beside the plan's. (On a CPU
the resident memory also holds the compilations, so at the CPU check's size the ratio is
noise: 3.8 and 2.3 in two runs on the dev host.)

    python results/gpu/chunk_memory.py [--examples 60000 --steps 1 --population 8192]
    python results/gpu/chunk_memory.py --examples 2000 --population 64   # a CPU check
"""

import argparse
import json
import resource
import sys
import time

import jax

from tdca.bench import BenchConfig, build, device_description, make_task
from tdca.evolution import Evolution, pgpe


def peak_bytes() -> tuple[int, str]:
    """The device's peak bytes in use so far, and what was measured."""
    stats = jax.local_devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "allocator peak_bytes_in_use"
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, "process ru_maxrss"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=60_000)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--population", type=int, default=8192)
    p.add_argument("--budget-gib", type=float, default=None, help="plan with this, not free")
    a = p.parse_args()
    cfg = BenchConfig(examples=a.examples, steps=a.steps, population=a.population)
    task = make_task(cfg, jax.random.PRNGKey(0))
    evo, _, beta0, _ = build(cfg, task)
    jax.block_until_ready(task)
    budget = (
        int(a.budget_gib * 2**30) if a.budget_gib is not None else pgpe.free_memory_per_device()
    )
    mem = pgpe.candidate_memory(evo, task)
    chunk = pgpe.fitting_chunk_size(evo, task, budget) if budget is not None else None
    out = {
        "device": device_description(),
        "config": {"examples": a.examples, "steps": a.steps, "population": a.population},
        "budget_bytes": budget,
        "plan": mem,
        "chunk_size": chunk,
        "runs": [],
    }
    per_device = evo.per_device_population
    chosen = chunk or per_device
    sizes = sorted({max(chosen // 2, 1), chosen})
    before, measured = peak_bytes()
    out["peak_before_bytes"], out["measured"] = before, measured
    for k in sizes:
        run = Evolution(evo.inner, beta0, evo.config, None if k >= per_device else k, mesh=None)
        state = run.init(jax.random.PRNGKey(1), beta0)
        t0 = time.perf_counter()
        state, stats = run.step(state, task, jax.random.PRNGKey(2))
        jax.block_until_ready(state)
        seconds = time.perf_counter() - t0
        peak, _ = peak_bytes()
        planned = mem["fixed"] + k * mem["per_candidate"]
        out["runs"].append(
            {
                "chunk": k,
                "peak_bytes": peak,
                "planned_bytes": int(planned),
                "seconds_with_compile": round(seconds, 2),
                "mean_fitness": float(stats["mean_fitness"]),
            }
        )
    if len(out["runs"]) == 2:
        (r1, r2) = out["runs"]
        out["measured_per_candidate"] = int(
            (r2["peak_bytes"] - r1["peak_bytes"]) / (r2["chunk"] - r1["chunk"])
        )
        out["measured_over_planned_per_candidate"] = round(
            out["measured_per_candidate"] / max(mem["per_candidate"], 1), 3
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
