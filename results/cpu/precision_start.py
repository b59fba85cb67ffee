"""Where bf16 storage's cost at inner lr 1.0 (and not at 0.3) comes from: the starting (DFA-like)
credit network of each evolution seed, trained once on MNIST 1,000/20 at both rates under
float32, under bfloat16-activations, and under bfloat16-activations with the credit network
kept in float32 (its input p = softmax is then not rounded). Prints test % per seed.

    TDCA_DATA_DIR=../shared/data python results/cpu/precision_start.py
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import replace

import jax
import jax.numpy as jnp

from tdca.experiments.classification import (
    EvolveConfig,
    build_model,
    make_split,
    make_task,
    starting_point,
)
from tdca.inner import InnerLoop, make_optimizer
from tdca.precision import matmul_precision
from tdca.tasks.classification import ClassificationTask, accuracy


@contextmanager
def credit_net_in_float32():
    """Feed the credit network float32 input (so it computes in float32); credits are then
    rounded to bf16 only where the local rule meets the bf16 activations."""
    original = ClassificationTask.credit_state

    def credit_state(self, theta, batch):
        u, taps = original(self, theta, batch)
        return u.astype(jnp.float32), taps

    ClassificationTask.credit_state = credit_state  # type: ignore[method-assign]
    try:
        yield
    finally:
        ClassificationTask.credit_state = original  # type: ignore[method-assign]


def start_accuracy(split, seed: int, lr: float) -> float:
    task = make_task(split, build_model("mlp-100", split.dataset), "zero")
    strategy, beta0 = starting_point(replace(EvolveConfig(), seed=seed), task)
    loop = InnerLoop(strategy, 20, lr, make_optimizer("sgd", lr))
    theta, _ = jax.jit(loop.run)(beta0, task, jax.random.PRNGKey(seed))
    logits = task.model.apply(theta, jnp.asarray(split.x_eval, task.x.dtype))
    return 100 * float(accuracy(logits, split.y_eval))


def main() -> None:
    split = make_split("mnist", None, 1000)
    print("| run | seed | start, test % at lr 0.3 | at lr 1.0 |")
    print("|---|---|---|---|")
    for name in ("float32", "bfloat16-activations", "bf16 activations, f32 credit network"):
        for seed in (0, 1, 2):
            precision = "float32" if name == "float32" else "bfloat16-activations"
            credit_net = credit_net_in_float32() if "f32 credit" in name else nullcontext()
            with matmul_precision(precision), credit_net:
                accs = [start_accuracy(split, seed, lr) for lr in (0.3, 1.0)]
            print(f"| {name} | {seed} | {accs[0]:.2f} | {accs[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
