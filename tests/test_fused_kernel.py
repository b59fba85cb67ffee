"""The fused Pallas TDCA step (``tdca.kernels``) against XLA's unfused step.

On a CPU the kernel runs in Pallas' interpreter, which pads every out-of-bounds block with
NaN: a tile that read or summed rows past the last example would poison the result, so
these equalities also check the masking of the last, partial tile.
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_classification import _first_centre_fitness, _npz

from tdca import bench
from tdca.cli import main
from tdca.credit import TDCA, CreditLayout
from tdca.credit.artifact import load_credit_net
from tdca.kernels import fused_direction
from tdca.kernels.fused_tdca import Tiling
from tdca.networks import CNN, MLP
from tdca.precision import matmul_precision
from tdca.tasks.classification import ClassificationTask
from tdca.tasks.gaussian import GaussianTask


def _task(n=100, inputs=24, hidden=20, classes=10, seed=0):
    kx, ky = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.uniform(kx, (n, inputs))
    y = jax.random.randint(ky, (n,), 0, classes)
    return ClassificationTask.create(x, y, MLP((inputs, hidden, classes)), classes)


def _directions(task, credit_hidden=(30, 30), gain_speed=0.0, population=3, anchored=False):
    """Both kernels' directions for a population of random credit networks at a random
    (Kaiming) bottom-up state, vmapped as the outer loop does."""
    xla = TDCA.for_task(task, hidden=credit_hidden, gain_speed=gain_speed, anchored=anchored)
    fused = dataclasses.replace(xla, kernel="fused")
    betas = jax.vmap(xla.init)(jax.random.split(jax.random.PRNGKey(1), population))
    if gain_speed:
        betas[-1]["log_gain"] = jnp.linspace(-0.2, 0.3, population)
    theta = task.model.init(jax.random.PRNGKey(2), "kaiming")
    batch = (task.x, task.y)

    def run(s):
        return jax.jit(jax.vmap(lambda b: s.direction(b, task, theta, batch)))(betas)

    return run(xla), run(fused)


@pytest.mark.parametrize(
    ("n", "hidden", "credit_hidden", "gain_speed", "anchored"),
    [
        (100, 20, (30, 30), 0.0, False),  # the papers' credit net; 100 = 64 + a partial tile
        (64, 100, (30,), 2.0, False),  # one full tile, 100 units padded to 128, learned gain
        (130, 16, (8, 40, 12), 0.0, False),  # three credit hidden layers of odd widths
        (100, 20, (30, 30), 0.0, True),  # anchored (random nets: the anchors are not zero)
        (64, 100, (30,), 2.0, True),  # anchored, with the gain in the anchors too
    ],
)
def test_fused_step_gives_the_local_rules_direction(n, hidden, credit_hidden, gain_speed, anchored):
    ref, out = _directions(_task(n, hidden=hidden), credit_hidden, gain_speed, anchored=anchored)
    for r, o in zip(jax.tree.leaves(ref), jax.tree.leaves(out), strict=True):
        assert r.shape == o.shape and o.dtype == jnp.float32
        assert np.all(np.isfinite(o))
        scale = float(jnp.max(jnp.abs(r)))
        assert scale > 1e-4  # a real update, not two zeros agreeing
        np.testing.assert_allclose(o, r, atol=1e-5 * scale)


def test_fused_step_under_bfloat16_activations_stays_within_bf16_rounding():
    with matmul_precision("bfloat16-activations"):
        task = _task(96, hidden=100)
        assert task.x.dtype == jnp.bfloat16
        ref, out = _directions(task)
    for r, o in zip(jax.tree.leaves(ref), jax.tree.leaves(out), strict=True):
        scale = float(jnp.max(jnp.abs(r)))
        np.testing.assert_allclose(o, r, atol=1e-2 * scale)  # bf16 keeps ~3 digits


def test_fused_step_vmapped_over_candidates_with_their_own_data():
    """The population rule serves a vmap over credit networks and states with shared data;
    a vmap over data too (one data set per candidate, as a multi-data-set evolution can
    do) falls back to Pallas' generic batching and must give each candidate's direction."""
    tasks = [_task(70, hidden=20, seed=s) for s in (0, 1)]
    xla = TDCA.for_task(tasks[0])
    betas = jax.vmap(xla.init)(jax.random.split(jax.random.PRNGKey(1), 2))
    theta = tasks[0].model.init(jax.random.PRNGKey(2), "kaiming")
    xs, ys = jnp.stack([t.x for t in tasks]), jnp.stack([t.y for t in tasks])
    tiling = Tiling(32, 16, 4, True)  # 70 rows: a second, partial block walked in sub-tiles

    def fused(b, x, y):
        return fused_direction(tasks[0].model, xla.net, b, theta, (x, y), tiling)

    out = jax.jit(jax.vmap(fused))(betas, xs, ys)
    for i, task in enumerate(tasks):
        beta = jax.tree.map(lambda a, i=i: a[i], betas)
        ref = xla.direction(beta, task, theta, (task.x, task.y))
        for r, o in zip(jax.tree.leaves(ref), jax.tree.leaves(out), strict=True):
            np.testing.assert_allclose(o[i], r, atol=1e-5 * float(jnp.max(jnp.abs(r))))


def test_fused_kernel_refuses_what_it_cannot_run():
    task = _task()
    with pytest.raises(ValueError, match="kernel must be one of"):
        TDCA.for_task(task, kernel="triton")

    def refused(task, match, **options):
        with pytest.raises(ValueError, match=match):
            TDCA.for_task(task, kernel="fused", **options)
        built_elsewhere = dataclasses.replace(TDCA.for_task(task, **options), kernel="fused")
        with pytest.raises(ValueError, match=match):  # e.g. loaded, then switched
            built_elsewhere.check_kernel_for(task)

    deep = ClassificationTask.create(task.x, task.y, MLP((24, 16, 16, 10)), 10)
    refused(deep, "2 hidden layers, not 1")
    refused(task, "diffusion", layout=CreditLayout.parse("line:5", (20, 10)))
    refused(task, "no hidden layer", hidden=())
    images = jnp.zeros((8, 8 * 8 * 1))
    cnn = CNN(input_shape=(8, 8, 1), channels=2, kernel=3, stride=1, hidden=(8,))
    refused(ClassificationTask.create(images, task.y[:8], cnn, 10), "CNN, not the tanh MLP")
    refused(GaussianTask(), "GaussianTask, not a ClassificationTask")

    class Relu(MLP):
        def activation(self, z):
            return jax.nn.relu(z)

        def hidden_prime(self, z):
            return (z > 0).astype(z.dtype)

    refused(ClassificationTask.create(task.x, task.y, Relu((24, 20, 10)), 10), "Relu")
    strategy = TDCA.for_task(task)
    beta = strategy.init(jax.random.PRNGKey(0))
    theta = task.model.init(jax.random.PRNGKey(0), "zero")
    for bad in ({"block_rows": 48}, {"sub_rows": 8}, {"block_rows": 32, "sub_rows": 64}):
        with pytest.raises(ValueError, match=r"power of two|sub_rows"):
            fused_direction(task.model, strategy.net, beta, theta, (task.x, task.y), Tiling(**bad))


def test_a_tiling_without_the_fused_kernel_is_refused_not_ignored(tmp_path):
    """A tiling steers only the fused kernel: with XLA's step it would change nothing while
    the bench still recorded it, so both the strategy and the bench refuse the pair."""
    task = _task()
    xla = TDCA.for_task(task)
    with pytest.raises(ValueError, match=r"tiling .* is for the fused kernel"):
        dataclasses.replace(xla, tiling=Tiling())
    dataclasses.replace(xla, kernel="fused", tiling=Tiling())  # the pair that makes sense
    cfg = bench.BenchConfig(examples=300, population=4, steps=3, generations=1, gemm_size=128)
    with pytest.raises(ValueError, match="--tiling 32,16,4,1 is for the fused kernel"):
        bench.run_bench(False, tmp_path / "b", config=cfg, tiling=(32, 16, 4, True))
    assert not (tmp_path / "b").exists()  # refused before any work or folder


def test_fused_generation_ranks_the_population_as_xlas_per_candidate_loop(tmp_path):
    """The benchmark's reference runs XLA's step per candidate; with the fused kernel in
    the batched generation its fitness check compares the two kernels end to end."""
    cfg = bench.BenchConfig(
        examples=300, population=4, steps=3, generations=1, warmup=1, gemm_size=128, kernel="fused"
    )
    m = bench.run_bench(False, tmp_path / "b", config=cfg, tiling=(32, 16, 4, True))
    assert m["config"]["kernel"] == "fused"
    assert m["config"]["tiling"] == [32, 16, 4, True]  # the tiling it ran, recorded
    assert m["reference_fitness_max_rel_diff"] < 1e-5
    assert m["reference_rank_order_equal"]


def test_evolve_command_runs_the_fused_kernel_and_records_it(tmp_path, capsys):
    data = _npz(tmp_path / "d.npz", (8, 8), n_train=150, n_test=50)
    out = tmp_path / "run"
    argv = ["evolve", "--dataset", data, "--train-size", "100", "--steps", "4", "--lr", "0.3"]
    argv += ["--generations", "2", "--population", "4", "--no-progress"]
    assert main([*argv, "--kernel", "fused", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["kernel"] == "fused"
    # the fitness the fused run logged is what XLA's step computes for the same start
    logged, recomputed = _first_centre_fitness(out)
    assert load_credit_net(out)[0].kernel == "xla"  # a saved network trains anywhere
    assert logged == pytest.approx(recomputed, rel=1e-5)
    # a resume continues with the config's kernel; switching it is refused
    assert main(["evolve", "--resume", str(out), "--kernel", "xla", "--no-progress"]) == 2
    assert "--kernel" in capsys.readouterr().err
    # an architecture it cannot run is refused before any work
    bad = tmp_path / "deep"
    assert main([*argv, "--kernel", "fused", "--arch", "deep-fc", "--out", str(bad)]) == 2
    assert "fused TDCA kernel cannot run" in capsys.readouterr().err


def test_fused_step_benchmark_script_runs_and_checks_agreement(tmp_path):
    """The GPU lease's first call runs this script; keep it working on a CPU."""
    script = Path(__file__).parents[1] / "benchmarks" / "fused_step.py"
    cmd = [sys.executable, str(script), "--out", str(tmp_path), "--small"]
    subprocess.run([*cmd, "--precision", "float32"], check=True, capture_output=True)
    (row,) = json.loads((tmp_path / "metrics.json").read_text())["rows"]
    assert row["precision"] == "float32" and row["fused"]
    assert row["default_kernel_max_rel_diff_vs_xla"] < 1e-5
    assert all(f["max_rel_diff_vs_xla"] < 1e-5 for f in row["fused"])


def _triton_gpu_info():
    """The module Pallas' Triton lowering asks which GPU it lowers for (``gpu_info_lib`` in
    its registration: jax._src.pallas.triton.gpu_info in JAX 0.11, jax._src.gpu_info in
    0.12), or None where it asks nothing (JAX < 0.11)."""
    from jax._src.pallas.triton import pallas_call_registration

    return getattr(pallas_call_registration, "gpu_info_lib", None)


def _lower_for_a_gpu(monkeypatch) -> None:
    """Lower the kernel's GPU path on this CPU: Pallas' Triton lowering, not its interpreter.
    JAX >= 0.11 asks the device which GPU it lowers for (its compute capability) and a CPU
    has none, so it is told an H100, the GPU the kernel is tuned on; older JAX did not ask."""
    from tdca.kernels import fused_tdca

    monkeypatch.setattr(fused_tdca, "_interpret", lambda: False)  # the GPU path
    gpu_info = _triton_gpu_info()
    if gpu_info is not None:
        h100 = gpu_info.get_gpu_info_from_version(gpu_info.GpuVersion.H100)
        monkeypatch.setattr(gpu_info, "get_gpu_info", lambda: h100)


@pytest.mark.parametrize("precision", ["default", "float32", "bfloat16-activations"])
def test_fused_generation_lowers_to_a_triton_kernel_for_cuda(precision, monkeypatch):
    """Without a GPU the kernel still goes through Pallas' Triton lowering when a generation
    is lowered for CUDA: its block shapes (powers of two), masked loads, dots and
    reductions are all ones the Triton backend accepts. (Triton's own compile to PTX is
    left for a GPU: results/gpu/next-lease.sh, block 0.)"""
    _lower_for_a_gpu(monkeypatch)
    with matmul_precision(precision):
        cfg = bench.BenchConfig(examples=200, population=4, steps=2, kernel="fused")
        task = bench.make_task(cfg, jax.random.PRNGKey(0))
        evo, _, beta0, _ = bench.build(cfg, task)
        state = evo.init(jax.random.PRNGKey(0), beta0)
        traced = jax.jit(evo._step).trace(state, task, jax.random.PRNGKey(1))
        text = traced.lower(lowering_platforms=("cuda",)).as_text()
    assert text.count("__gpu$xla.gpu.triton") == 2  # the population's and the centre's
    dtype = "bf16" if precision == "bfloat16-activations" else "f32"
    # delta1 of the population in the GEMMs' layout: 200 examples x (4 candidates x 128)
    assert f"tensor<200x512x{dtype}>" in text


def test_anchored_fused_step_lowers_to_a_triton_kernel_for_cuda(monkeypatch):
    """The anchored kernel's two extra operands (each class's anchor credits) and dots go
    through Pallas' Triton lowering too (bf16 activations, as a long GPU run uses)."""
    _lower_for_a_gpu(monkeypatch)
    with matmul_precision("bfloat16-activations"):
        task = _task(96, hidden=100)
        strategy = TDCA.for_task(task, kernel="fused", anchored=True)
        betas = jax.vmap(strategy.init)(jax.random.split(jax.random.PRNGKey(1), 4))
        theta = task.model.init(jax.random.PRNGKey(2), "kaiming")
        step = jax.vmap(lambda b: strategy.direction(b, task, theta, (task.x, task.y)))
        text = jax.jit(step).trace(betas).lower(lowering_platforms=("cuda",)).as_text()
    assert text.count("__gpu$xla.gpu.triton") == 1
    assert "tensor<96x512xbf16>" in text  # delta1 of 4 candidates in the GEMMs' layout


SHARDED_LOWERING = """
import re
import jax
from tdca import bench
from tdca.evolution.pgpe import ESConfig, Evolution
from tdca.inner import InnerLoop
from tdca.kernels import fused_tdca

fused_tdca._interpret = lambda: False  # the GPU path
from jax._src.pallas.triton import pallas_call_registration
gpu_info = getattr(pallas_call_registration, "gpu_info_lib", None)
if gpu_info is not None:  # as _lower_for_a_gpu: JAX >= 0.11 is told the GPU it lowers for
    h100 = gpu_info.get_gpu_info_from_version(gpu_info.GpuVersion.H100)
    gpu_info.get_gpu_info = lambda: h100
cfg = bench.BenchConfig(examples=200, population=8, steps=2, kernel="fused")
task = bench.make_task(cfg, jax.random.PRNGKey(0))
_, strategy, beta0, _ = bench.build(cfg, task)
evo = Evolution(InnerLoop(strategy, 2, 0.1), beta0, ESConfig(population=8), None, mesh="auto")
state = evo.init(jax.random.PRNGKey(0), beta0)
traced = jax.jit(evo._step).trace(state, task, jax.random.PRNGKey(1))
text = traced.lower(lowering_platforms=("cuda",)).as_text()
print(sorted({int(w) // 128 for w in re.findall(r"-> \\(tensor<200x(\\d+)xf32>", text)}))
"""


def test_a_sharded_population_runs_the_kernel_on_each_devices_slice_only():
    """XLA's partitioner cannot split a Pallas kernel: under plain sharding constraints
    every device ran it on the whole population. The population is evaluated under
    shard_map, so over 4 devices each runs it on its own 8 / 4 = 2 candidates."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    done = subprocess.run(
        [sys.executable, "-c", SHARDED_LOWERING], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[1, 2]"  # the centre's, a device's slice
