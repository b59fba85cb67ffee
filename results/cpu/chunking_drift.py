"""Chunked vs unchunked evaluation over a long run: do they evolve the same thing?

The tests' small classification task (12-10-3 MLP, 128 examples, 4 inner steps,
population 8), evolved for 300 generations in one vmap and in chunks of 2 candidates, side
by side with the same keys. Prints how many generations logged different fitness stats
(and by how much), which ES state fields ever differed, and in how many generations the
search centre (the evolved credit network) differed. Output: results/cpu/chunking-drift.txt.

    JAX_PLATFORMS=cpu python results/cpu/chunking_drift.py
"""

import jax
import numpy as np

from tdca.credit import TDCA
from tdca.evolution import ESConfig, Evolution
from tdca.evolution.runner import _key_for
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.tasks import ClassificationTask

GENERATIONS, SEED = 300, 3


def main() -> None:
    k = jax.random.PRNGKey(3)
    x = jax.random.uniform(k, (128, 12))
    y = jax.random.randint(k, (128,), 0, 3)
    task = ClassificationTask.create(x, y, MLP((12, 10, 3)), 3)
    strategy = TDCA.for_task(task, hidden=(6, 6))
    beta0 = strategy.init(jax.random.PRNGKey(1))
    config = ESConfig(population=8, generations=GENERATIONS)
    evos = [Evolution(InnerLoop(strategy, 4, 0.5), beta0, config, c) for c in (None, 2)]
    states = [e.init(jax.random.PRNGKey(SEED), beta0) for e in evos]
    flat = jax.tree_util.tree_flatten_with_path(states[0])[0]
    names = [jax.tree_util.keystr(path) for path, _ in flat]
    rows, largest, fields, centres = 0, 0.0, set(), 0
    for g in range(GENERATIONS):
        out = [e.step(s, task, _key_for(SEED, g)) for e, s in zip(evos, states, strict=True)]
        states = [o[0] for o in out]
        diffs = [abs(float(out[0][1][s]) - float(out[1][1][s])) for s in out[0][1]]
        if max(diffs) > 0:
            rows, largest = rows + 1, max(largest, max(diffs))
        leaves = [jax.tree.leaves(s) for s in states]
        fields |= {
            n
            for n, a, b in zip(names, *leaves, strict=True)
            if not np.array_equal(np.asarray(a), np.asarray(b))
        }
        means = [jax.tree.leaves(e.mean(s)) for e, s in zip(evos, states, strict=True)]
        if not all(np.array_equal(a, b) for a, b in zip(*means, strict=True)):
            centres += 1
    print(
        f"JAX {jax.__version__}, {GENERATIONS} generations, chunks of 2 vs one vmap of 8: "
        f"stats differed in {rows} generations (largest difference {largest:.3g}); state "
        f"fields that ever differed: {sorted(fields)}; generations whose search centre "
        f"differed: {centres}"
    )


if __name__ == "__main__":
    main()
