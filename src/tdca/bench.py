"""Throughput benchmark: how fast tdca runs a generation, against the device and a baseline.

One run on one device measures three things, all at the same matmul precision:

* the device's achievable dense matmul throughput (a large GEMM, best of several reps):
  the "peak" that tdca's throughput is a fraction of;
* tdca's seconds per generation (``Evolution.step`` with a TDCA credit network on a
  classification task) and the FLOP/s that implies, FLOPs counted from the model
  (``tdca.complexity``) and cross-checked with XLA's cost analysis of the compiled
  generation;
* a straightforward per-candidate reference (a Python loop over candidates, each running
  the same inner loop jitted for one candidate), so ``speedup_vs_reference`` says what
  batching the population buys over the way one would write it without tdca.

The full configuration is the papers' MNIST protocol (784-100-10, 60,000 examples full
batch, 150 inner steps, population 64) on random data of that shape, so no data files are
needed. ``small`` is a 2-core-CPU-sized version. The issue's GPU targets (H100: <= 0.7 s per
generation, >= 40% of measured matmul peak, >= 10x the reference) are evaluated and
reported in ``metrics["targets"]`` only for the full configuration on a GPU.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, astuple, dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tdca import complexity as cx
from tdca import precision as precision_names
from tdca.credit.strategies.tdca import TDCA, dfa_like_init
from tdca.evolution.pgpe import (
    ESConfig,
    Evolution,
    candidate_memory,
    device_memory_budget,
    generation_keys,
)
from tdca.inner import InnerLoop
from tdca.kernels import Tiling, check_kernel
from tdca.networks.mlp import MLP
from tdca.rundir import check_folder, make_folder, write_json_file
from tdca.tasks.classification import ClassificationTask

PRECISIONS: tuple[str, ...] = precision_names.EXPLICIT_PRECISIONS
"""The precisions a benchmark names explicitly (``tdca.precision``; "default" would hide
which one a GPU used). bfloat16 uses XLA's dot algorithm preset, so every matmul of the MLP,
the credit net and the local rule rounds its inputs to bf16 and accumulates in f32 without
any change to the model code; bfloat16-activations also stores the data and every
per-example activation in bf16 (the benchmark's task is built under it)."""

TARGETS = {"seconds_per_generation": 0.7, "fraction_of_peak": 0.4, "speedup_vs_reference": 10.0}
"""The issue's goals for the full configuration on an H100 (upper, lower, lower bound)."""


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark configuration (bottom-up MLP, data, population, timing reps)."""

    examples: int = 60_000
    inputs: int = 784
    hidden: tuple[int, ...] = (100,)
    classes: int = 10
    credit_hidden: tuple[int, ...] = (30, 30)
    population: int = 64
    steps: int = 150
    lr: float = 0.1
    generations: int = 5  # timed, after ``warmup`` generations
    warmup: int = 2  # the first compiles (kept at 2: timings stay comparable with old runs)
    reference_generations: int = 1  # timed, after one warm-up generation
    gemm_size: int | None = None  # None: 8192 on GPU/TPU, 2048 on CPU
    gemm_reps: int = 10
    chunk_size: int | None = None
    kernel: str = "xla"  # tdca's step: XLA's fusions or the fused Pallas kernel (tdca.kernels)
    tiling: tuple[int, int, int, bool] | None = None  # the fused kernel's Tiling (None: default)
    seed: int = 0

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *self.hidden, self.classes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = BenchConfig()
SMALL = BenchConfig(
    examples=2_000, population=16, steps=20, generations=3, gemm_size=1024, gemm_reps=10
)


# ----------------------------------------------------------------------------- helpers


def _block(tree: Any) -> Any:
    return jax.block_until_ready(tree)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = _block(fn())
    return out, time.perf_counter() - t0


def device_description() -> dict[str, Any]:
    """What ran the benchmark: platform, device kind, count, host CPU."""
    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": dev.platform,
        "device_kind": dev.device_kind,
        "device_count": jax.device_count(),
        "host": f"{cpu}, {os.cpu_count()} cores",
        "jax_version": jax.__version__,
    }


def effective_matmul_inputs() -> str:
    """What the matmul units actually saw under the current precision, by experiment.

    ``A @ I`` returns A exactly only if A's entries reach the multiplier unrounded; entries
    1 + 2^-12 survive f32 only, 1 + 2^-9 survive f32 and TF32 (10-bit mantissa) but not
    bf16 (7 bits). CPUs ignore the TF32/bf16 requests, so this says "float32" there.
    Under bfloat16-activations the model's large matmuls take bf16 arrays by construction,
    whatever the backend, and that is what is reported.
    """
    stored = precision_names.activation_dtype()
    if stored != jnp.float32:
        return f"{stored.name} (activations stored in it)"
    n = 256
    a = np.ones((n, n), np.float32)
    a[:, ::2] += np.float32(2.0**-12)
    a[:, 1::2] += np.float32(2.0**-9)
    out = np.asarray(jax.jit(jnp.matmul)(jnp.asarray(a), jnp.eye(n, dtype=jnp.float32)))
    if np.array_equal(out, a):
        return "float32"
    if np.array_equal(out[:, 1::2], a[:, 1::2]):
        return "tf32-like (10-bit mantissa)"
    return "bf16-like (7-bit mantissa)"


def measure_peak(size: int, reps: int, native_bf16: bool = False) -> dict[str, Any]:
    """Best dense-GEMM throughput of two ``size`` x ``size`` matrices.

    By default f32 arrays under the caller's ``default_matmul_precision``: the matmuls
    tdca's model runs, so the peak is at the precision actually used (a backend that
    ignores a TF32/bf16 request, like XLA:CPU, gets its f32 peak). ``native_bf16``
    multiplies bf16 arrays with f32 accumulation instead: the hardware's bf16 peak.
    """
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    dtype = jnp.bfloat16 if native_bf16 else jnp.float32
    a = jax.random.normal(ka, (size, size), dtype)
    b = jax.random.normal(kb, (size, size), dtype)
    gemm = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
    for _ in range(2):
        _block(gemm(a, b))
    times = [_timed(lambda: gemm(a, b))[1] for _ in range(reps)]
    return {
        "gemm_size": size,
        "gemm_reps": reps,
        "gemm_best_seconds": min(times),
        "gemm_median_seconds": float(np.median(times)),
        "peak_tflops": 2.0 * size**3 / min(times) / 1e12,
    }


def xla_counts_loop_trips() -> bool:
    """Whether this backend's cost analysis multiplies a loop body by its trip count.

    XLA's HloCostAnalysis has counted a while body once (a 10-step scan reports a tenth of
    its FLOPs); we check instead of assuming, so the cross-check stays right either way.
    """

    def ten_steps(x: jax.Array, w: jax.Array) -> jax.Array:
        return jax.lax.scan(lambda c, _: (c @ w, None), x, None, length=10)[0]

    spec = jax.ShapeDtypeStruct((64, 64), jnp.float32)
    flops = cx.xla_cost(ten_steps, spec, spec)["flops"]
    return flops > 5 * 2 * 64**3


def make_task(cfg: BenchConfig, key: jax.Array) -> ClassificationTask:
    """Random data of the protocol's shape (pixels in [0, 1), uniform labels)."""
    kx, ky = jax.random.split(key)
    x = jax.random.uniform(kx, (cfg.examples, cfg.inputs))
    y = jax.random.randint(ky, (cfg.examples,), 0, cfg.classes)
    return ClassificationTask.create(x, y, MLP(cfg.sizes), cfg.classes)


def build(cfg: BenchConfig, task: ClassificationTask) -> tuple[Evolution, TDCA, Any, ESConfig]:
    """The evolution the benchmark times: TDCA (DFA-like start), SGD inner loop, one device."""
    strategy = TDCA.for_task(task, hidden=cfg.credit_hidden, kernel=cfg.kernel)
    if cfg.tiling is not None:
        strategy = replace(strategy, tiling=Tiling(*cfg.tiling))
    beta0 = dfa_like_init(strategy, jax.random.PRNGKey(cfg.seed + 1), cfg.classes)
    es_cfg = ESConfig(population=cfg.population, generations=1)
    evo = Evolution(
        InnerLoop(strategy, cfg.steps, cfg.lr), beta0, es_cfg, cfg.chunk_size, mesh=None
    )
    return evo, strategy, beta0, es_cfg


def analytic_generation_flops(cfg: BenchConfig, examples: int | None = None) -> dict[str, int]:
    """FLOPs of one generation from the model: (population + 1 centre) candidates, each
    ``steps`` TDCA steps (``complexity.tdca_step_flops``) plus the fitness forward pass
    (forward + log-softmax cross-entropy). PGPE's ask/tell (a few FLOPs per candidate and
    credit-net parameter) is left out: < 1e-4 of the total at the paper's sizes."""
    n = cfg.examples if examples is None else examples
    step = cx.tdca_step_flops(cfg.sizes, n, None, cfg.credit_hidden).flops
    fitness = cx.mlp_forward_flops(cfg.sizes, n).flops + (
        cx.SOFTMAX_FLOPS_PER_LOGIT * n * cfg.classes + n
    )
    candidates = cfg.population + 1
    return {
        "step_flops_per_candidate": step,
        "fitness_flops_per_candidate": fitness,
        "candidates": candidates,
        "flops_per_generation": candidates * (cfg.steps * step + fitness),
    }


def xla_generation_flops(
    evo: Evolution, strategy: TDCA, state: Any, task: Any, cfg: BenchConfig
) -> dict[str, Any]:
    """XLA's FLOPs for the compiled generation, loop bodies scaled by their trip counts.

    Lowered from an unchunked copy (a chunked one adds a loop of its own); when the backend
    counts a while body once, the missing (steps - 1) inner steps of every candidate are
    added from XLA's cost of one compiled inner step (``complexity.xla_step_cost``).
    """
    if evo.chunk_size is not None:
        template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), evo.template_shapes)
        evo = Evolution(evo.inner, template, evo.config, None, mesh=None)
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    raw = cx.cost_dict(evo.step.lower(state, task, key).compile().cost_analysis())["flops"]
    trips = xla_counts_loop_trips()
    step = cx.xla_step_cost(strategy, task, cfg.lr)["flops"]
    total = raw if trips else raw + (cfg.steps - 1) * (cfg.population + 1) * step
    return {
        "xla_raw_flops": raw,
        "xla_step_flops_per_candidate": step,
        "xla_counts_loop_trips": trips,
        "flops_per_generation_xla": total,
    }


# ----------------------------------------------------------------------------- timing


def time_generations(
    cfg: BenchConfig, task: ClassificationTask | None = None, score_centre: bool = True
) -> dict[str, Any]:
    """Seconds per generation of tdca, averaged after ``cfg.warmup`` generations, and
    (``score_centre``) what scoring the final centre on its own costs.

    Keys starting with "_" hold the objects later measurements reuse (not written out).
    """
    if cfg.generations < 1 or cfg.warmup < 1:
        raise ValueError(f"need generations >= 1 and warmup >= 1, got {cfg}")
    task = make_task(cfg, jax.random.PRNGKey(cfg.seed)) if task is None else task
    evo, strategy, beta0, _ = build(cfg, task)
    key = jax.random.PRNGKey(cfg.seed)
    state0 = evo.init(key, beta0)
    (state1, _), first = _timed(lambda: evo.step(state0, task, jax.random.fold_in(key, 0)))
    state = state1
    for g in range(1, cfg.warmup):
        state, _ = _block(evo.step(state, task, jax.random.fold_in(key, g)))
    times = []
    for g in range(cfg.warmup, cfg.warmup + cfg.generations):
        (state, stats), dt = _timed(
            lambda s=state, g=g: evo.step(s, task, jax.random.fold_in(key, g))
        )
        times.append(dt)
    # What ``tdca evolve`` adds at its end (and at each ``--keep-every`` snapshot): the
    # saved centre's own score, one candidate's inner loop in a program of its own.
    centre: dict[str, float | bool] = {}
    if score_centre:
        next_key = jax.random.fold_in(key, cfg.warmup + cfg.generations)
        score, first_s = _timed(lambda: evo.centre_fitness(state, task, next_key))
        again, again_s = _timed(lambda: evo.centre_fitness(state, task, next_key))
        centre = {
            "centre_score_compile_and_first_seconds": first_s,
            "centre_score_seconds": again_s,
            # recorded, not raised: a GPU lease's bench should not die of it
            "centre_score_repeatable": score == again or (math.isnan(score) and math.isnan(again)),
        }
    flops = analytic_generation_flops(cfg)["flops_per_generation"]
    spg = float(np.mean(times))
    return {
        "seconds_per_generation": spg,
        "generation_seconds": times,
        "compile_and_first_generation_seconds": first,
        **centre,
        "achieved_tflops": flops / spg / 1e12,
        "diverged_last_generation": int(stats["diverged"]),
        "_evo": evo,
        "_strategy": strategy,
        "_state0": state0,
        "_state1": state1,
        "_final": state,
        "_key": key,
        "_task": task,
    }


def reference_generation(evo: Evolution, task: Any) -> Callable[[Any, jax.Array], Any]:
    """A generation written without tdca's batching: the inner loop jitted for ONE
    candidate and called in a Python loop over the population (plus the centre). It runs
    XLA's step whatever ``kernel`` tdca's generation uses (a user without tdca has no fused
    kernel), so the fitness check below also compares the fused kernel with XLA's step."""
    inner = evo.inner
    if getattr(inner.strategy, "kernel", "xla") != "xla":
        inner = replace(inner, strategy=replace(inner.strategy, kernel="xla", tiling=None))
    fitness = jax.jit(inner.fitness)
    ask, tell, mean = jax.jit(evo.es.ask), jax.jit(evo.es.tell), jax.jit(evo.es.get_mean)
    params = evo.es_params
    n = evo.config.population

    def generation(state: Any, key: jax.Array) -> Any:
        k_ask, k_eval, k_tell = generation_keys(key)
        centre = fitness(mean(state), task, k_eval)
        population, state = ask(k_ask, state, params)
        scores = jnp.stack(
            [fitness(jax.tree.map(lambda x, i=i: x[i], population), task, k_eval) for i in range(n)]
        )
        state, _ = tell(k_tell, population, -scores, state, params)
        return state, (centre, scores)

    return generation


def batched_fitness(evo: Evolution, state: Any, task: Any, key: jax.Array) -> jax.Array:
    """The population fitnesses tdca's batched generation computes from ``state`` with
    ``key`` (the same ask and evaluation key as ``Evolution.step``)."""
    k_ask, k_eval, _ = generation_keys(key)
    population, _ = evo.es.ask(k_ask, state, evo.es_params)
    return jax.jit(evo.evaluate)(population, task, k_eval)


def state_diff_by_field(a: Any, b: Any) -> dict[str, float]:
    """Max |a - b| per ES-state leaf, keyed by the leaf's path (e.g. ``mean``, ``std``)."""
    flat_a = jax.tree_util.tree_flatten_with_path(a)[0]
    flat_b = jax.tree.leaves(b)
    return {
        jax.tree_util.keystr(path).lstrip("."): float(
            jnp.max(jnp.abs(jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32)))
        )
        for (path, x), y in zip(flat_a, flat_b, strict=True)
    }


def time_reference(run: dict[str, Any], cfg: BenchConfig) -> dict[str, Any]:
    """Seconds per generation of the per-candidate reference, and how it agrees with tdca's
    first generation (same start, same key).

    The check that matters is the fitnesses: they are the only thing batching can change.
    The ES state can differ by up to 2 x the ES learning rate even when the fitnesses agree
    to rounding: PGPE shapes fitnesses by centred rank, so two near-tied candidates whose
    order flips under different rounding change the gradient by one rank step, and Adam's
    first update (a sign-like +-lr per coordinate) turns any coordinate whose gradient sign
    then flips into a 2 x lr difference in the centre. ``reference_rank_order_equal`` says
    whether that happened.
    """
    evo, task, key = run["_evo"], run["_task"], run["_key"]
    generation = reference_generation(evo, task)
    k0 = jax.random.fold_in(key, 0)
    (ref1, (_, ref_scores)), first = _timed(lambda: generation(run["_state0"], k0))
    ours = batched_fitness(evo, run["_state0"], task, k0)
    by_field = state_diff_by_field(ref1, run["_state1"])
    diff = max(by_field.values())
    state, times = ref1, []
    for g in range(1, cfg.reference_generations + 1):
        (state, _), dt = _timed(lambda s=state, g=g: generation(s, jax.random.fold_in(key, g)))
        times.append(dt)
    return {
        "reference_seconds_per_generation": float(np.mean(times)),
        "reference_generation_seconds": times,
        "reference_compile_and_first_generation_seconds": first,
        "reference_state_max_abs_diff": diff,
        "reference_state_max_abs_diff_by_field": by_field,
        "reference_fitness_max_abs_diff": float(jnp.max(jnp.abs(ref_scores - ours))),
        "reference_fitness_max_rel_diff": float(
            jnp.max(jnp.abs(ref_scores - ours) / jnp.maximum(jnp.abs(ours), 1e-12))
        ),
        "reference_rank_order_equal": bool(
            np.array_equal(np.argsort(np.asarray(ref_scores)), np.argsort(np.asarray(ours)))
        ),
    }


# ----------------------------------------------------------------------------- main


def _load_average() -> float | None:
    """The host's 1-minute load average: other processes' load skews CPU timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _targets(metrics: dict[str, Any], full: bool) -> dict[str, Any]:
    applicable = full and metrics["device"]["platform"] == "gpu"
    rows = {}
    for name, bound in TARGETS.items():
        value = metrics[name]
        met = value <= bound if name == "seconds_per_generation" else value >= bound
        rows[name] = {"target": bound, "value": value, "met": met if applicable else None}
    return {"applicable": applicable, "note": "H100, full config only", **rows}


def run_bench(
    small: bool,
    out: Path,
    precision: str = "float32",
    config: BenchConfig | None = None,
    kernel: str | None = None,
    tiling: tuple[int, int, int, bool] | None = None,
) -> dict[str, Any]:
    """Run the benchmark, write ``out/metrics.json``, print a short table, return metrics.

    ``config`` overrides the preset that ``small`` selects (other sizes, chunking);
    ``kernel`` (``tdca.kernels``), if given, the config's step implementation, and
    ``tiling`` the fused kernel's (``tdca.kernels.Tiling``'s fields, in order).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
    cfg = config if config is not None else (SMALL if small else FULL)
    if kernel is not None:
        cfg = replace(cfg, kernel=check_kernel(kernel))
    if tiling is not None:
        Tiling(*tiling)  # a bad tiling is refused before any work
        cfg = replace(cfg, tiling=tuple(tiling))
    if cfg.tiling is not None and cfg.kernel != "fused":  # it would be ignored, yet recorded
        raise ValueError(
            f"--tiling {','.join(str(int(v)) for v in cfg.tiling)} is for the fused kernel, "
            f"but the kernel is {cfg.kernel!r}; add --kernel fused or drop --tiling"
        )
    on_cpu = jax.devices()[0].platform == "cpu"
    if cfg.gemm_size is None:
        cfg = replace(cfg, gemm_size=2048 if on_cpu else 8192)
    assert cfg.gemm_size is not None
    out = Path(out)
    check_folder(out, "bench")  # before minutes of benchmarking, not after
    make_folder(out)
    t_start, load_before = time.perf_counter(), _load_average()
    with precision_names.matmul_precision(precision):
        effective = effective_matmul_inputs()
        # bfloat16-activations hands its big products bf16 arrays, so its peak at the
        # precision used is the native bf16 GEMM's; the others multiply f32 arrays under
        # the precision setting (the native bf16 peak is reported beside bfloat16's).
        bf16_arrays = precision in precision_names.ACTIVATION_DTYPES
        peak = measure_peak(cfg.gemm_size, cfg.gemm_reps, native_bf16=bf16_arrays)
        if bf16_arrays:
            native = peak["peak_tflops"]
        elif precision.startswith("bfloat16"):
            native = measure_peak(cfg.gemm_size, cfg.gemm_reps, native_bf16=True)["peak_tflops"]
        else:
            native = None
        run = time_generations(cfg)
        ref = time_reference(run, cfg)
        analytic = analytic_generation_flops(cfg)
        xla = xla_generation_flops(run["_evo"], run["_strategy"], run["_state0"], run["_task"], cfg)
        mem = candidate_memory(run["_evo"], run["_task"])
    budget = device_memory_budget()
    metrics: dict[str, Any] = {
        "device": device_description(),
        "precision": precision,
        "matmul_inputs_effective": effective,
        "config": {
            **cfg.to_dict(),
            "preset": "custom" if config else ("small" if small else "full"),
            # the fused kernel's tiling as run (the default's fields when none was given)
            **({"tiling": list(cfg.tiling or astuple(Tiling()))} if cfg.kernel == "fused" else {}),
        },
        **{k: v for k, v in run.items() if not k.startswith("_")},
        **peak,
        **ref,
        **analytic,
        **xla,
        "xla_over_analytic_flops": xla["flops_per_generation_xla"]
        / analytic["flops_per_generation"],
        "fraction_of_peak": run["achieved_tflops"] / peak["peak_tflops"],
        "native_bf16_peak_tflops": native,
        "fraction_of_native_bf16_peak": None if native is None else run["achieved_tflops"] / native,
        "speedup_vs_reference": ref["reference_seconds_per_generation"]
        / run["seconds_per_generation"],
        "memory": {
            **mem,
            "population_bytes_estimate": mem["fixed"] + cfg.population * mem["per_candidate"],
            "device_free_bytes": budget,
        },
        "bench_wall_seconds": time.perf_counter() - t_start,
        "host_load_average_1min": {"before": load_before, "after": _load_average()},
    }
    metrics["targets"] = _targets(metrics, config is None and not small)
    metrics["experiment"] = "bench"
    write_json_file(out / "metrics.json", metrics)
    print(format_table(metrics))
    return metrics


def describe(c: dict[str, Any]) -> str:
    """One line for a config dict: data, MLP, population, steps, chunking."""
    mlp = "-".join(str(v) for v in (c["inputs"], *c["hidden"], c["classes"]))
    text = f"{c['examples']} examples, MLP {mlp}, population {c['population']}, {c['steps']} steps"
    text += f", chunk {c['chunk_size']}" if c.get("chunk_size") else ""
    return text + (f", {c['kernel']} kernel" if c.get("kernel", "xla") != "xla" else "")


def _loads(load: dict[str, float | None]) -> str:
    return ", ".join("-" if v is None else f"{v:.2f}" for v in load.values())


def _centre_score_row(m: dict[str, Any]) -> list[tuple[str, str]]:
    """The saved centre's score timing, if the run measured it (before 2026-12-06: no)."""
    if "centre_score_seconds" not in m:
        return []
    first, again = m["centre_score_compile_and_first_seconds"], m["centre_score_seconds"]
    return [("saved centre's score: compile + first, again (s)", f"{first:.3g}, {again:.3g}")]


def format_table(m: dict[str, Any]) -> str:
    """The headline numbers as a markdown table."""
    d = m["device"]
    rows = [
        ("device", f"{d['platform']} / {d['device_kind']} ({d['host']})"),
        ("precision (matmul inputs seen)", f"{m['precision']} ({m['matmul_inputs_effective']})"),
        ("config", describe(m["config"])),
        ("seconds / generation (tdca)", f"{m['seconds_per_generation']:.4g}"),
        ("seconds / generation (reference)", f"{m['reference_seconds_per_generation']:.4g}"),
        ("speedup vs per-candidate reference", f"{m['speedup_vs_reference']:.3g}x"),
        (
            "reference agreement (fitness max rel. diff, same rank order)",
            f"{m['reference_fitness_max_rel_diff']:.2g}, {m['reference_rank_order_equal']}",
        ),
        ("FLOPs / generation (analytic)", f"{m['flops_per_generation']:.4g}"),
        ("XLA / analytic FLOPs", f"{m['xla_over_analytic_flops']:.4f}"),
        ("achieved TFLOP/s", f"{m['achieved_tflops']:.4g}"),
        (f"measured GEMM peak TFLOP/s ({m['gemm_size']}^2)", f"{m['peak_tflops']:.4g}"),
        ("fraction of peak", f"{100 * m['fraction_of_peak']:.1f}%"),
        ("per-candidate memory (MiB)", f"{m['memory']['per_candidate'] / 2**20:.1f}"),
        *_centre_score_row(m),
        ("host load average (before, after)", _loads(m["host_load_average_1min"])),
    ]
    if m.get("native_bf16_peak_tflops") is not None:
        rows.append(("native bf16 GEMM peak TFLOP/s", f"{m['native_bf16_peak_tflops']:.4g}"))
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- scaling

SCALING_BASE = BenchConfig(
    examples=1_000, hidden=(64,), population=8, steps=10, generations=2, gemm_size=512
)
SCALING_AXES: dict[str, Sequence[Any]] = {
    "population": (4, 8, 16, 32),
    "examples": (500, 1_000, 2_000, 4_000),
    "steps": (5, 10, 20, 40),
    "hidden": ((32,), (64,), (128,), (256,)),
}


def scaling_points(
    base: BenchConfig = SCALING_BASE,
    axes: dict[str, Sequence[Any]] | None = None,
    precision: str = "float32",
) -> list[dict[str, Any]]:
    """Seconds per generation as one knob at a time moves away from ``base``."""
    rows = []
    with precision_names.matmul_precision(precision):
        for name, values in (axes or SCALING_AXES).items():
            for value in values:
                cfg = replace(base, **{name: value})
                run = time_generations(cfg, score_centre=False)
                flops = analytic_generation_flops(cfg)["flops_per_generation"]
                rows.append(
                    {
                        "axis": name,
                        "value": list(value) if isinstance(value, tuple) else value,
                        "seconds_per_generation": run["seconds_per_generation"],
                        "gflop_per_generation": flops / 1e9,
                        "achieved_gflops": run["achieved_tflops"] * 1e3,
                        "load_1min": _load_average(),
                    }
                )
    return rows


def chunking_points(
    cfg: BenchConfig = SMALL,
    chunks: Iterable[int | None] = (None, 8, 4, 2, 1),
    precision: str = "float32",
) -> list[dict[str, Any]]:
    """Seconds per generation and XLA's per-generation temp memory for each chunk size;
    ``identical`` says whether the ES state after the timed generations equals the
    unchunked one bit for bit."""
    rows, reference = [], None
    with precision_names.matmul_precision(precision):
        task = make_task(cfg, jax.random.PRNGKey(cfg.seed))
        for chunk in chunks:
            c = replace(cfg, chunk_size=chunk)
            run = time_generations(c, task, score_centre=False)
            evo, state = run["_evo"], run["_state0"]
            key = jax.ShapeDtypeStruct((2,), jnp.uint32)
            stats = evo.step.lower(state, task, key).compile().memory_analysis()
            leaves = [np.asarray(x) for x in jax.tree.leaves(run["_final"])]
            if reference is None:
                reference = leaves
            rows.append(
                {
                    "chunk_size": chunk,
                    "seconds_per_generation": run["seconds_per_generation"],
                    "temp_mib": None if stats is None else stats.temp_size_in_bytes / 2**20,
                    "identical_to_unchunked": all(
                        np.array_equal(a, b) for a, b in zip(leaves, reference, strict=True)
                    ),
                    "load_1min": _load_average(),
                }
            )
    return rows


def rows_to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of scaling or chunking rows (keys of the first row as columns)."""
    if not rows:
        return ""
    cols = list(rows[0])

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _spec_evolution(cfg: BenchConfig, examples: int) -> tuple[Evolution, TDCA, Any, Any]:
    """(evolution, strategy, task, starting parameters) of ``cfg`` at ``examples``
    training examples, from shapes only (call inside the precision's context: the task's
    dtype follows it)."""
    task = cx.spec_task(cfg.sizes, examples)
    strategy = TDCA.for_task(task, hidden=cfg.credit_hidden, kernel=cfg.kernel)
    beta0 = strategy.init(jax.random.PRNGKey(0))  # tiny; PGPE needs real leaves
    evo = Evolution(
        InnerLoop(strategy, cfg.steps, cfg.lr),
        beta0,
        ESConfig(population=cfg.population, generations=1),
        mesh=None,
    )
    return evo, strategy, task, beta0


FIT_BUDGET_BYTES = 80 * 10**9
"""The memory the issue asks about: an 80 GB H100."""


def memory_fit(
    cfg: BenchConfig,
    at_examples: dict[int, dict[str, Any]],
    budget_bytes: int = FIT_BUDGET_BYTES,
    headroom: float = 0.8,
) -> dict[str, Any]:
    """The largest configurations whose population evaluation fits ``headroom`` x
    ``budget_bytes`` (the share ``auto_chunk_size`` plans with), from ``candidate_memory``
    at two training-set sizes (``at_examples``: examples -> its result): the largest
    population at ``cfg.examples`` in one vmap, and the largest training set at
    ``cfg.population`` in one vmap and in chunks of one candidate (with chunking any
    population fits; then the data and one candidate's activations are the limit). Fixed
    and per-candidate bytes are taken to grow linearly with the examples, as everything
    they hold (data, activations) does; both sizes are reported."""
    (e1, m1), (e2, m2) = sorted(at_examples.items())
    usable = headroom * budget_bytes

    def line(key: str) -> tuple[float, float]:  # bytes = a + b * examples
        slope = (m2[key] - m1[key]) / (e2 - e1)
        return m1[key] - slope * e1, slope

    (f0, f1), (p0, p1) = line("fixed"), line("per_candidate")
    mem = at_examples[cfg.examples]
    population = int((usable - mem["fixed"]) // mem["per_candidate"])
    return {
        "budget_bytes": budget_bytes,
        "headroom": headroom,
        "measured_at_examples": {str(e): at_examples[e] for e in (e1, e2)},
        # 0 where nothing fits (the fixed bytes alone exceed the budget)
        "largest_population_one_vmap": max(population - population % 2, 0),
        "largest_examples_one_vmap": max(
            int((usable - f0 - cfg.population * p0) // (f1 + cfg.population * p1)), 0
        ),
        "largest_examples_chunk_of_one": max(int((usable - f0 - p0) // (f1 + p1)), 0),
    }


def plan(cfg: BenchConfig = FULL, precision: str = "float32") -> dict[str, Any]:
    """What a configuration costs, without running it (shapes only; works on a CPU for the
    full paper config): analytic and XLA FLOPs per generation, the TFLOP/s the 0.7 s target
    needs, XLA's memory analysis per candidate, and the largest configurations that fit
    80 GB by that analysis (``memory_fit``)."""
    with precision_names.matmul_precision(precision):
        evo, strategy, task, beta0 = _spec_evolution(cfg, cfg.examples)
        state = jax.eval_shape(evo.init, jax.random.PRNGKey(0), beta0)
        analytic = analytic_generation_flops(cfg)
        xla = xla_generation_flops(evo, strategy, state, task, cfg)
        mem = candidate_memory(evo, task)
        half = cfg.examples // 2
        evo_half, _, task_half, _ = _spec_evolution(cfg, half)
        at_half = candidate_memory(evo_half, task_half)
    flops = analytic["flops_per_generation"]
    return {
        "config": cfg.to_dict(),
        **analytic,
        **xla,
        "xla_over_analytic_flops": xla["flops_per_generation_xla"] / flops,
        "tflops_needed_for_target": flops / TARGETS["seconds_per_generation"] / 1e12,
        "memory": {
            **mem,
            "population_bytes_estimate": mem["fixed"] + cfg.population * mem["per_candidate"],
        },
        "fits_80gb": memory_fit(cfg, {cfg.examples: mem, half: at_half}),
    }
