"""The papers' first experiment end to end, at the default settings of ``tdca gaussian``.

These are the issue's acceptance checks: from the default start BP stops in the local
minimum and TDCA reaches the global one; TDCA brings >= 95% of a grid of start points to
the global minimum (>= 90% per task in multi-task mode).
"""

import json

import numpy as np
import pytest

from tdca.experiments.gaussian import GaussianConfig, run_gaussian
from tdca.tasks import FUNCTION_1, FUNCTION_2


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"radius": float("nan")}, "radius must be a finite number > 0"),
        ({"tdca_lr": float("inf")}, "tdca_lr must be a finite number > 0"),
        ({"steps": 2.5}, "steps must be an integer >= 1"),
        ({"hidden": (30, 0)}, r"widths\) must be >= 1"),
    ],
)
def test_a_config_that_cannot_work_is_refused_when_built(setting, message):
    """The Python API refuses what the CLI's flags refuse (it ran to meaningless numbers)."""
    with pytest.raises(ValueError, match=message):
        GaussianConfig(**setting)


def test_each_function_has_its_local_minimum_in_the_small_well_above_the_global_one():
    """The wells are placed as intended (BP's trapping itself: test_single_task_default_run)."""
    for f in (FUNCTION_1, FUNCTION_2):
        assert np.linalg.norm(f.local_min - np.asarray(f.wells[1].centre)) < 3
        assert float(f.value(f.global_min)) < float(f.value(f.local_min))


@pytest.mark.full_optimisation  # compute-bound: the papers' default experiment
def test_single_task_default_run(tmp_path):
    m = run_gaussian(GaussianConfig(), tmp_path, progress=False, make_figures=False)
    assert m["bp"]["reached"] == "local"
    assert m["tdca"]["reached"] == "global"
    assert m["field"]["tdca_to_global_fraction"] >= 0.95
    bp_frac, basin = m["field"]["bp_to_global_fraction"], m["field"]["global_basin_fraction"]
    assert 0.3 < basin < 0.95  # the local basin is a real share of the domain
    assert bp_frac <= basin + 1e-9  # BP never does better than its basin allows
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved) >= {"global_min", "local_min", "start", "bp", "tdca", "field"}
    assert saved["field"]["grid"] == 21


@pytest.mark.full_optimisation  # compute-bound: the papers' default experiment
@pytest.mark.parametrize("seed", [0])
def test_multi_task_default_run(tmp_path, seed):
    m = run_gaussian(
        GaussianConfig(multi_task=True, seed=seed), tmp_path, progress=False, make_figures=False
    )
    assert len(m["tasks"]) == 2
    for t in m["tasks"]:
        assert t["field"]["tdca_to_global_fraction"] >= 0.9
        assert t["bp"]["reached"] == "local"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"seed": 2**32}, "seed must be in"),  # PRNGKey would truncate it to seed 0
        ({"seed": 2**31}, "seed must be in"),
        ({"seed": -1}, "seed must be in"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"multi_task": "no"}, "multi_task must be true or false"),
        ({"multi_task": 1}, "multi_task must be true or false"),
    ],
)
def test_a_gaussian_config_with_a_bad_seed_or_multi_task_is_refused(setting, message):
    with pytest.raises(ValueError, match=message):
        GaussianConfig(**setting)
    assert GaussianConfig(seed=2**31 - 1, multi_task=True).seed == 2**31 - 1


def test_a_gaussian_task_without_points_or_functions_is_refused_and_survives_jit():
    import jax

    from tdca.tasks.gaussian import GaussianTask

    with pytest.raises(ValueError, match="num_points must be an integer >= 1"):
        GaussianTask(num_points=0)
    with pytest.raises(ValueError, match="functions must be a non-empty tuple"):
        GaussianTask(functions=())
    task = GaussianTask(functions=(FUNCTION_1, FUNCTION_2), num_points=3)
    assert jax.tree.map(lambda x: x, task) == task  # rebuilt by unflattening: still valid
    theta = jax.jit(lambda t, k: t.init_params(k))(task, jax.random.PRNGKey(0))
    assert theta.shape == (2, 3, 2)


def test_a_gaussian_evolution_in_chunks_of_candidates_follows_the_one_vmap_run(tmp_path):
    """`tdca gaussian --chunk-size K` (run_gaussian(chunk_size=K)) evaluates K candidates at
    a time: the same generations as the whole population in one vmap, up to the last bit."""
    from dataclasses import replace

    from tdca.evolution import ESConfig

    es = ESConfig(population=8, generations=3, sigma_init=0.1, learning_rate=0.03)
    cfg = replace(GaussianConfig(), es=es, steps=5, basin_steps=5, grid=3)
    curves = {}
    for chunk in (None, 2, 100):
        out = tmp_path / f"chunk-{chunk}"
        m = run_gaussian(cfg, out, progress=False, make_figures=False, chunk_size=chunk)
        ran = chunk if chunk == 2 else None  # a chunk of the whole population is one vmap
        assert m["evolution"]["chunk_size"] == ran
        assert m["evolution"]["chunk_size_by_generation"] == [
            {"from": 0, "to": 2, "chunk_size": ran}
        ]
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        curves[chunk] = [(r["centre_fitness"], r["mean_fitness"]) for r in rows]
    assert len(curves[2]) == 3
    np.testing.assert_allclose(curves[2], curves[None], rtol=1e-5, atol=1e-6)
    assert curves[100] == curves[None]
