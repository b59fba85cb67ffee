"""CI smoke test of the throughput benchmark (``tdca.bench``), sized for a 2-core CPU."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import pytest

from tdca import bench
from tdca import complexity as cx
from tdca.precision import matmul_precision

KEYS = (
    "device",
    "precision",
    "seconds_per_generation",
    "achieved_tflops",
    "peak_tflops",
    "fraction_of_peak",
    "speedup_vs_reference",
    "config",
    "xla_over_analytic_flops",
    "flops_per_generation",
    "reference_seconds_per_generation",
    "memory",
    "targets",
)


@pytest.mark.full_optimisation  # it times what users run
def test_small_bench_writes_sane_metrics(tmp_path):
    metrics = bench.run_bench(small=True, out=tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in KEYS:
        assert key in saved, key
    assert saved["precision"] == "float32"
    assert saved["config"]["preset"] == "small"
    assert saved["device"]["platform"] == jax.devices()[0].platform
    assert saved["seconds_per_generation"] > 0
    assert saved["reference_seconds_per_generation"] > 0
    assert saved["achieved_tflops"] > 0 and saved["peak_tflops"] > 0
    assert 0 < saved["fraction_of_peak"] < 2  # > 1 would mean the peak GEMM was mis-timed
    assert saved["speedup_vs_reference"] > 0
    # FLOPs counted from the model agree with XLA's count of the compiled generation.
    assert cx.XLA_TOLERANCE[0] <= saved["xla_over_analytic_flops"] <= cx.XLA_TOLERANCE[1]
    # The reference computes the same fitnesses (to float rounding), hence the same state.
    assert saved["reference_fitness_max_rel_diff"] < 1e-4
    assert saved["reference_rank_order_equal"] is True
    assert saved["reference_state_max_abs_diff"] < 1e-4
    assert set(saved["reference_state_max_abs_diff_by_field"]) >= {"mean", "std"}
    assert saved["memory"]["per_candidate"] > 0
    # What evolve adds at its end: one candidate's program compiled, then run again; a
    # generation runs population + 1 candidates, so one candidate alone costs less.
    assert saved["centre_score_compile_and_first_seconds"] > saved["centre_score_seconds"] > 0
    assert saved["centre_score_seconds"] < saved["seconds_per_generation"]
    assert saved["centre_score_repeatable"] is True  # same state, same key: same score
    assert saved["targets"]["applicable"] is False  # only the full config on a GPU
    assert math.isclose(metrics["seconds_per_generation"], saved["seconds_per_generation"])


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        bench.run_bench(small=True, out=tmp_path, precision="fp8")


@pytest.mark.skipif(jax.devices()[0].platform != "cpu", reason="CPU behaviour")
@pytest.mark.parametrize("precision", sorted(set(bench.PRECISIONS) - {"bfloat16-activations"}))
def test_cpu_matmuls_stay_float32_whatever_is_asked(precision):
    """XLA:CPU ignores TF32/bf16 requests; the benchmark reports what really happened."""
    with matmul_precision(precision):
        assert bench.effective_matmul_inputs() == "float32"


def test_stored_bf16_activations_are_reported_as_the_matmul_inputs():
    with matmul_precision("bfloat16-activations"):
        assert bench.effective_matmul_inputs() == "bfloat16 (activations stored in it)"


def test_generation_flops_are_candidates_times_steps():
    cfg = bench.BenchConfig(examples=100, population=4, steps=3)
    f = bench.analytic_generation_flops(cfg)
    step = cx.tdca_step_flops((784, 100, 10), 100).flops
    assert f["candidates"] == 5  # population + the search centre
    assert f["flops_per_generation"] == 5 * (3 * step + f["fitness_flops_per_candidate"])


def test_one_rank_swap_moves_the_centre_by_twice_the_es_lr():
    """Why the benchmark checks fitnesses, not only the ES state: with centred-rank shaping
    and Adam's first (sign-like) step, two near-tied candidates swapping order under
    different rounding move a few centre coordinates by 2 x lr (seen on GPU as 0.09998)."""
    from evosax.algorithms import PGPE

    from tdca.evolution.pgpe import ESConfig

    cfg = ESConfig(population=64)
    template = jnp.zeros(4970)
    es = PGPE(64, solution=template, optimizer=cfg.make_optimizer())
    params = es.default_params.replace(std_init=cfg.sigma_init)
    state = es.init(jax.random.PRNGKey(0), template, params)
    population, state = es.ask(jax.random.PRNGKey(1), state, params)
    fitness = jax.random.normal(jax.random.PRNGKey(2), (64,))
    i, j = jnp.argsort(fitness)[10:12]
    swapped = fitness.at[i].set(fitness[j]).at[j].set(fitness[i])
    a, _ = es.tell(jax.random.PRNGKey(3), population, fitness, state, params)
    b, _ = es.tell(jax.random.PRNGKey(3), population, swapped, state, params)
    by_field = bench.state_diff_by_field(a, b)
    assert by_field["mean"] == pytest.approx(2 * cfg.learning_rate, rel=1e-3)
    assert by_field["std"] < 1e-3  # the std update is not sign-like


def test_the_largest_configurations_that_fit_are_the_edges_of_the_budget():
    """memory_fit's answers sit exactly at the budget's edge: one more (pair of) candidates
    or one more example would not fit, by the linear model through the two measurements."""
    cfg = bench.SMALL

    def fixed(e: int) -> int:  # data and shared buffers
        return 1_000 + 8 * e

    def per(e: int) -> int:  # one candidate's activations
        return 500 + 3 * e

    at = {e: {"fixed": fixed(e), "per_candidate": per(e)} for e in (cfg.examples, 2 * cfg.examples)}
    budget = 10**8
    fit = bench.memory_fit(cfg, at, budget_bytes=budget, headroom=0.5)
    usable, e = 0.5 * budget, cfg.examples
    p = fit["largest_population_one_vmap"]
    assert p % 2 == 0 and fixed(e) + p * per(e) <= usable < fixed(e) + (p + 2) * per(e)
    n = fit["largest_examples_one_vmap"]
    assert fixed(n) + cfg.population * per(n) <= usable < fixed(n + 1) + cfg.population * per(n + 1)
    n = fit["largest_examples_chunk_of_one"]
    assert fixed(n) + per(n) <= usable < fixed(n + 1) + per(n + 1)


def test_the_plan_reports_what_fits_from_xla_memory_at_two_sizes():
    """The small plan's memory, compiled here: linear in the examples as memory_fit takes
    it, and the population it says fits does fit by the measured bytes."""
    cfg = bench.SMALL
    info = bench.plan(cfg)
    fit, mem = info["fits_80gb"], info["memory"]
    measured = fit["measured_at_examples"]
    assert set(measured) == {str(cfg.examples), str(cfg.examples // 2)}
    half = measured[str(cfg.examples // 2)]
    assert half["per_candidate"] < mem["per_candidate"] and half["fixed"] < mem["fixed"]
    p = fit["largest_population_one_vmap"]
    usable = fit["headroom"] * fit["budget_bytes"]
    assert mem["fixed"] + p * mem["per_candidate"] <= usable
    assert mem["fixed"] + (p + 2) * mem["per_candidate"] > usable
    assert fit["largest_examples_chunk_of_one"] > fit["largest_examples_one_vmap"] > cfg.examples
