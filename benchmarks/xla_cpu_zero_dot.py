"""How often XLA:CPU computes a dot with a broadcast-constant operand wrongly, and whether
tdca's inner loop is affected (why tdca.inner puts an optimization barrier on theta0).

jaxlib 0.10.2's YNNPACK fusions read garbage when a dot whose right operand is a broadcast
scalar (``jnp.zeros``, ``jnp.full``) is fused with a following reduction (a max, a sum, a
softmax). A zero-initialised network trained for one step is exactly that once XLA removes
the one-trip loop. Every case below is compiled afresh ``--compilations`` times (a new
constant each time) and checked against numpy; each arm runs in its own process, with the
YNNPACK fusions on (the default) and off (``--xla_cpu_experimental_ynn_fusion_type=``).

Usage: python benchmarks/xla_cpu_zero_dot.py [--compilations 30] > results/cpu/xla-cpu-zero-dot.txt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

YNN_OFF = "--xla_cpu_experimental_ynn_fusion_type="


def _pure_jax(compilations: int) -> None:
    """A dot then a max over its output, for a real weight matrix and broadcast ones."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    h = jnp.tanh(jnp.asarray(rng.standard_normal((1000, 100), dtype=np.float32)))
    w = jnp.asarray(rng.standard_normal((100, 10), dtype=np.float32))
    cases = {
        "max(h @ W), W an argument": (
            lambda h, c: jnp.max(h @ w + c, axis=1),
            (np.asarray(h) @ np.asarray(w)).max(1),
        ),
        "max(h @ zeros)": (lambda h, c: jnp.max(h @ jnp.zeros((100, 10)) + c, axis=1), 0.0),
        "sum(h @ full(c))": (lambda h, c: jnp.sum(h @ jnp.full((100, 10), c), axis=1), 0.0),
        "h @ zeros, no reduction": (lambda h, c: h @ jnp.zeros((100, 10)) + c, 0.0),
    }
    for name, (f, want) in cases.items():  # want: the right result (0.0: all zeros)
        wrong = 0
        for i in range(compilations):
            fn = jax.jit(lambda h, f=f, i=i: f(h, jnp.float32(i) * 0.0))
            wrong += not np.allclose(np.asarray(fn(h)), want, atol=1e-4)
        print(f"  {name:<28} wrong in {wrong:>2} of {compilations} compilations", flush=True)


def _dfa_task() -> tuple:
    """(task, DFA strategy, its parameters, key): a zero-initialised 784-100-10 network on
    1,000 random examples of ten classes, the case both barrier checks train."""
    import jax
    import numpy as np

    from tdca.credit import DFA
    from tdca.networks.mlp import MLP
    from tdca.tasks.classification import ClassificationTask

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 1000).astype(np.int32)
    x = (rng.normal(size=(10, 784)) * 2)[y] + rng.normal(size=(1000, 784))
    task = ClassificationTask.create(x.astype(np.float32), y, MLP((784, 100, 10)))
    dfa = DFA.for_task(task)
    sp, key = dfa.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1)
    return task, dfa, sp, key


def _one_step(compilations: int, barrier: bool) -> None:
    """tdca's inner loop: one DFA step of a zero-initialised 784-100-10 network."""
    import jax
    import numpy as np

    if not barrier:  # what tdca.inner did before the fix (read when the loop is traced)
        jax.lax.optimization_barrier = lambda x: x
    from tdca.inner import InnerLoop

    task, dfa, sp, key = _dfa_task()
    direction = dfa.direction(sp, task, task.init_params(key), (task.x, task.y))
    wrong = 0
    for i in range(compilations):
        lr = 0.001 * (i + 1)
        loop = InnerLoop(dfa, 1, lr)
        theta, _ = jax.jit(lambda *a, loop=loop: loop.run(*a))(sp, task, key)
        wrong += not all(
            np.allclose(t, lr * np.asarray(d), rtol=1e-4, atol=1e-9)
            for t, d in zip(jax.tree.leaves(theta), jax.tree.leaves(direction), strict=True)
        )
    label = "1-step DFA, barrier (tdca)" if barrier else "1-step DFA, no barrier"
    print(f"  {label:<28} wrong in {wrong:>2} of {compilations} compilations", flush=True)


def _longer_runs_unchanged() -> None:
    """The barrier sits outside the loop: with 2 or more steps the weights are a loop
    variable anyway, so the trained weights must be the same bit for bit without it."""
    import jax
    import numpy as np

    from tdca.inner import InnerLoop

    task, dfa, sp, key = _dfa_task()
    barrier = jax.lax.optimization_barrier
    for steps in (2, 5, 20):
        leaves = []
        for fn in (barrier, lambda t: t):
            jax.lax.optimization_barrier = fn  # read when the loop is traced
            loop = InnerLoop(dfa, steps, 0.3)
            theta, _ = jax.jit(lambda *a, loop=loop: loop.run(*a))(sp, task, key)  # new trace
            leaves.append([np.asarray(t) for t in jax.tree.leaves(theta)])
        jax.lax.optimization_barrier = barrier
        same = all(np.array_equal(a, b) for a, b in zip(*leaves, strict=True))
        print(f"  {steps:>2}-step DFA: same weights with and without the barrier: {same}")


def _curves() -> None:
    """Per-step train accuracy and final loss of DFA and BP (20 steps, full batch) at two
    sizes, one of them past 32,768 rows (where jax-ml/jax#39103's 0.10.2 bug read wrong
    rows), printed as JSON for the parent to compare between the two fusion settings."""
    import json

    import jax
    import numpy as np

    from tdca.credit import BP, DFA
    from tdca.inner import InnerLoop
    from tdca.networks.mlp import MLP
    from tdca.tasks.classification import ClassificationTask, accuracy, cross_entropy

    out = {}
    for n in (1000, 32769):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n).astype(np.int32)
        x = ((rng.normal(size=(10, 784)) * 0.04)[y] + rng.normal(size=(n, 784))).astype(np.float32)
        for name, strategy, init in (("dfa", None, "zero"), ("bp", BP(), "kaiming")):
            task = ClassificationTask.create(x, y, MLP((784, 100, 10)), init_scheme=init)
            strategy = strategy or DFA.for_task(task)
            sp, key = strategy.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1)

            def record(t, th):
                return accuracy(t.model.apply(th, t.x), t.y)

            loop = InnerLoop(strategy, 20, 0.3)
            theta, trace = jax.jit(lambda *a, loop=loop: loop.run(*a, record=record))(sp, task, key)
            loss = float(cross_entropy(task.model.apply(theta, task.x), task.y))
            out[f"{name}-{n}"] = {"curve": np.asarray(trace).tolist(), "loss": loss}
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compilations", type=int, default=30)
    parser.add_argument(
        "--arm",
        choices=("pure", "tdca", "tdca-no-barrier", "longer", "curves"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.arm == "pure":
        return _pure_jax(args.compilations)
    if args.arm == "longer":
        return _longer_runs_unchanged()
    if args.arm == "curves":
        return _curves()
    if args.arm:
        return _one_step(args.compilations, barrier=args.arm == "tdca")

    import jax
    import jaxlib

    print(
        f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, {jax.devices()[0].platform}, "
        f"{os.cpu_count()} cores"
    )
    base = os.environ.get("XLA_FLAGS", "")
    for title, flags in (
        ("YNNPACK fusions on (default)", base),
        ("YNNPACK fusions off", f"{base} {YNN_OFF}"),
    ):
        print(f"{title}:", flush=True)
        for arm in ("pure", "tdca-no-barrier", "tdca"):
            cmd = [sys.executable, __file__, "--arm", arm, "--compilations", str(args.compilations)]
            subprocess.run(cmd, env=os.environ | {"XLA_FLAGS": flags.strip()}, check=True)
    print("Longer runs, YNNPACK fusions on:", flush=True)
    subprocess.run([sys.executable, __file__, "--arm", "longer"], check=True)
    print("20-step trainings, YNNPACK fusions on against off:", flush=True)
    curves = [
        json.loads(
            subprocess.run(
                [sys.executable, __file__, "--arm", "curves"],
                env=os.environ | {"XLA_FLAGS": flags.strip()},
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for flags in (base, f"{base} {YNN_OFF}")
    ]
    for run, on in curves[0].items():
        off = curves[1][run]
        gap = max(abs(a - b) for a, b in zip(on["curve"], off["curve"], strict=True))
        print(
            f"  {run:<10} final accuracy {on['curve'][-1]:.4f} (on) {off['curve'][-1]:.4f} (off), "
            f"largest per-step accuracy gap {gap:.4f}, loss gap {abs(on['loss'] - off['loss']):.1e}"
        )


if __name__ == "__main__":
    main()
