"""The outer loop's one generation: ask PGPE for a population, train each candidate's
inner loop in parallel (``jax.vmap`` over the population axis, sharded across devices when
there are several), and tell PGPE the fitnesses.

Memory: a vmapped population holds every candidate's training-set activations at once.
``Evolution(..., chunk_size=k)`` evaluates k candidates at a time per device instead
(``jax.lax.map(..., batch_size=k)``), trading some speed for memory; ``auto_chunk_size``
picks the largest k that fits a memory budget, from XLA's own memory analysis, and
``chunk_size="auto"`` (what tdca's classification experiments use) does so by itself before
the first generation, where the population would not fit the device's free memory
(``fitting_chunk_size``).

evosax minimises, tdca's fitness is "higher is better": we hand evosax minus the fitness.
A candidate whose inner loop diverged (NaN/Inf fitness) is given a fitness just below the
worst finite one and counted, so the ES update never sees a NaN.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from tdca.checks import config_fields, is_finite_number, is_integer, shape_mismatch
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.tasks.base import Task

OPTIMIZERS = ("adam", "clipup", "sgd")
CHUNK_AUTO = "auto"


@dataclass(frozen=True)
class ESConfig:
    """PGPE settings. ``sigma_init`` is the initial per-parameter search std."""

    population: int = 64
    generations: int = 300
    sigma_init: float = 0.1
    learning_rate: float = 0.05
    optimizer: str = "adam"
    std_lr: float = 0.1
    std_max_change: float = 0.2
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        for name in ("population", "generations", "checkpoint_every"):
            value = getattr(self, name)
            if not is_integer(value):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in ("sigma_init", "learning_rate", "std_lr", "std_max_change"):
            value = getattr(self, name)
            if not is_finite_number(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if value < 0 or (value == 0 and name in ("sigma_init", "learning_rate")):
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.population < 2 or self.population % 2:
            raise ValueError(
                f"population must be an even number >= 2 (PGPE samples mirrored pairs), "
                f"got {self.population}"
            )
        if self.generations < 1:
            raise ValueError(f"generations must be >= 1, got {self.generations}")
        if self.sigma_init <= 0 or self.learning_rate <= 0:
            raise ValueError("sigma_init and learning_rate must be > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")

    def make_optimizer(self) -> optax.GradientTransformation:
        if self.optimizer == "adam":
            return optax.adam(self.learning_rate)
        if self.optimizer == "clipup":
            from evosax.core.optimizer import clipup  # lazily: see Evolution.__init__

            return clipup(learning_rate=self.learning_rate, max_velocity=2 * self.learning_rate)
        return optax.sgd(self.learning_rate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ESConfig:
        """The ``es`` part of a saved config.json; unknown or missing settings are refused."""
        return cls(**config_fields(cls, d))


def population_mesh() -> Mesh | None:
    """A 1-D mesh named ``pop`` over all devices, or None on a single device.

    After ``jax.distributed.initialize`` ``jax.devices()`` lists every process's devices,
    so the same mesh spans hosts.
    """
    devices = jax.devices()
    return None if len(devices) == 1 else Mesh(devices, ("pop",))


def require_pytree_task(task: Any) -> None:
    """Evolution jits and vmaps over the task, so it must be a JAX pytree whose leaves are
    arrays; a plain dataclass would fail inside jit with an error that names neither."""
    for leaf in jax.tree.leaves(task):
        if not isinstance(leaf, jax.Array | np.ndarray | np.generic | int | float | bool):
            raise TypeError(
                f"the task must be a JAX pytree of arrays (e.g. @flax.struct.dataclass with "
                f"static settings as struct.field(pytree_node=False)); it has a leaf of type "
                f"{type(leaf).__name__}"
            )


def generation_keys(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A generation's key split into (ask, evaluation, tell) keys: one place for the order,
    which the centre's own score and the benchmark's reference must share with ``step``."""
    k_ask, k_eval, k_tell = jax.random.split(key, 3)
    return k_ask, k_eval, k_tell


class Evolution:
    """PGPE over a strategy's parameters, each candidate scored by ``inner.fitness``.

    ``chunk_size``: evaluate at most that many candidates at once per device (None: the
    whole population in one vmap; "auto": chunked only where the population would not fit
    the free memory, decided before the first generation by ``resolve_chunk_size``, which
    ``step`` and ``evolve`` call). ``mesh``: "auto" shards the population over all devices
    (``population_mesh``); None keeps it on the default device; or pass a 1-D Mesh whose
    axis is named ``pop``.
    """

    def __init__(
        self,
        inner: InnerLoop,
        template: Any,
        config: ESConfig,
        chunk_size: int | Literal["auto"] | None = None,
        mesh: Mesh | str | None = "auto",
    ) -> None:
        self.inner = inner
        self.config = config
        # Imported here, not at the top: importing evosax.algorithms starts JAX's backend,
        # and a multi-process job must call jax.distributed.initialize before that
        # (``tdca evolve --distributed`` joins after importing tdca).
        from evosax.algorithms import PGPE

        self.es = PGPE(config.population, solution=template, optimizer=config.make_optimizer())
        self.es_params = self.es.default_params.replace(
            std_init=config.sigma_init,
            std_lr=config.std_lr,
            std_max_change=config.std_max_change,
        )
        if isinstance(mesh, str):
            if mesh != "auto":
                raise ValueError(f"mesh must be 'auto', None or a jax.sharding.Mesh, got {mesh!r}")
            mesh = population_mesh()
        if mesh is not None and mesh.axis_names != ("pop",):
            raise ValueError(
                f"the population mesh needs one axis named 'pop', got {mesh.axis_names}"
            )
        self.mesh = None if mesh is not None and mesh.size == 1 else mesh
        if self.mesh is not None and config.population % self.mesh.size:
            raise ValueError(
                f"population {config.population} must be divisible by the "
                f"{self.mesh.size} devices it is sharded over"
            )
        self.chunk_size: int | Literal["auto"] | None
        self.chunk_auto = chunk_size == CHUNK_AUTO  # still true once resolved
        if chunk_size is None or chunk_size == CHUNK_AUTO:
            self.chunk_size = chunk_size
        elif is_integer(chunk_size) and chunk_size >= 1:
            self.chunk_size = int(chunk_size)
        else:
            raise ValueError(
                f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}"
            )
        self.template_shapes = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), template
        )
        jitted_init = jax.jit(self._init)

        def init(key: jax.Array, mean: Any) -> Any:
            """The ES state centred on ``mean`` (jitted), after checking that ``mean`` is
            shaped like the template (evosax would flatten another one without a word, and
            the first generation fail on the sizes)."""
            mismatch = shape_mismatch(mean, self.template_shapes)
            if mismatch is not None:
                raise ValueError(
                    "the initial mean is not shaped like the template the Evolution was "
                    f"built with: {mismatch}"
                )
            return jitted_init(key, mean)

        self.init = init
        jitted = jax.jit(self._step)

        def step(state: Any, task: Task, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
            """One generation (jitted), after checking that the task can be traced (and,
            the first time, choosing the chunk size where it is "auto")."""
            require_pytree_task(task)
            self.resolve_chunk_size(task)
            return jitted(state, task, key)

        step.lower = jitted.lower  # type: ignore[attr-defined]  # for cost/memory analyses
        self.step = step
        self._centre_fitness = jax.jit(self._centre_only)

    def resolve_chunk_size(self, task: Task, processes_on_host: int | None = None) -> int | None:
        """The chunk size the generations run with; an "auto" one is decided here, once,
        for ``task`` (``fitting_chunk_size``), before anything was traced with it.
        ``processes_on_host``: how many processes of the job share this host's memory
        (CPU devices plan with their share of it). In a job of several processes only
        ``evolve`` decides an "auto" one, in the processes' agreement, which tells it that
        number: processes that chose different chunks would run different programs, and
        their collectives would fail (a CPU job aborted: Gloo's "collective mismatch")."""
        if self.chunk_size == CHUNK_AUTO:
            if processes_on_host is None and jax.process_count() > 1:
                raise ValueError(
                    f'chunk_size "auto" in a job of {jax.process_count()} processes is chosen '
                    "by tdca.evolution.evolve, which agrees it among them (each process's "
                    "free memory differs, and processes with different chunks fail in their "
                    "collectives); evolve with it, or give Evolution a chunk_size"
                )
            budget = free_memory_per_device(processes_on_host or 1)
            self.chunk_size = None if budget is None else fitting_chunk_size(self, task, budget)
        return self.chunk_size

    @property
    def num_devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    @property
    def per_device_population(self) -> int:
        """The candidates each device evaluates in a generation (what chunks divide)."""
        return self.config.population // self.num_devices

    def _init(self, key: jax.Array, mean: Any) -> Any:
        # The state ``step`` returns is strongly typed and (over a mesh) replicated on it;
        # jit keys on both, so init's state must match or generation 1 compiles the step a
        # second time (evosax fills some fields from Python scalars: weakly typed).
        state = self.es.init(key, mean, self.es_params)
        strong = jax.tree.map(lambda x: jax.lax.convert_element_type(x, jnp.result_type(x)), state)
        return self._replicate(strong)

    def mean(self, state: Any) -> Any:
        """The search distribution's centre: the evolved strategy parameters."""
        return self.es.get_mean(state)

    def _replicate(self, tree: Any) -> Any:
        """Gather to every device, so the ES update's reductions run in the one-device order
        (a sharded sum would add per-device partial sums: not bit-identical)."""
        if self.mesh is None:
            return tree
        sharding = NamedSharding(self.mesh, PartitionSpec())
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)

    def evaluate(self, population: Any, task: Task, key: jax.Array) -> jax.Array:
        """Fitness of every candidate (leading axis of ``population``), all with ``key``.

        Unchunked: one vmap over the population. Chunked: ``chunk_size`` candidates at a
        time, so peak memory scales with the chunk instead of the population. Over a mesh,
        each device evaluates its own slice (``jax.shard_map``; the task and key are
        replicated): explicit, so that code XLA's partitioner cannot split, such as a
        Pallas kernel (``--kernel fused``), still runs on each device's slice only.
        """

        def local(population: Any, task: Task, key: jax.Array) -> jax.Array:
            def one(sparams: Any) -> jax.Array:
                return self.inner.fitness(sparams, task, key)

            if self.chunk_size == CHUNK_AUTO:
                raise ValueError(
                    'chunk_size "auto" is decided for a task: call resolve_chunk_size(task) '
                    "(step does) before tracing the evaluation"
                )
            if self.chunk_size is None:
                return jax.vmap(one)(population)
            return jax.lax.map(one, population, batch_size=self.chunk_size)

        if self.mesh is None:
            return local(population, task, key)
        d = self.mesh.size
        n = jax.tree.leaves(population)[0].shape[0]
        if n % d:
            raise ValueError(f"population {n} must be divisible by the {d} devices")
        spread = jax.shard_map(
            local,
            mesh=self.mesh,
            in_specs=(PartitionSpec("pop"), PartitionSpec(), PartitionSpec()),
            out_specs=PartitionSpec("pop"),
            # a candidate's inner loop starts from replicated values (theta0, the optimizer
            # state) that its own parameters make device-varying: nothing to check here, as
            # no collective runs inside
            check_vma=False,
        )
        return spread(population, task, key)  # in_specs place each slice on its device

    def centre_fitness(self, state: Any, task: Task, key: jax.Array) -> float:
        """The fitness of ``state``'s centre as the generation keyed ``key`` would log it
        (its row's ``centre_fitness``). A row scores the centre its generation *started*
        from, so the centre an evolution ends on is scored by none: this measures it, with
        the key of the generation that would come next (an extended run logs the same)."""
        require_pytree_task(task)
        return float(self._centre_fitness(state, task, key))

    def _centre_only(self, state: Any, task: Task, key: jax.Array) -> jax.Array:
        return self._score_centre(state, task, generation_keys(key)[1])[0]

    def _score_centre(
        self, state: Any, task: Task, k_eval: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        # An evaluator with a ``fitness_and_report`` (InnerLoop's) also logs what the task
        # reports of the centre's trained network; one with ``fitness`` alone, the fitness.
        report = getattr(self.inner, "fitness_and_report", None)
        if report is None:
            return self.inner.fitness(self.mean(state), task, k_eval), {}
        return report(self.mean(state), task, k_eval)

    def _step(self, state: Any, task: Task, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        k_ask, k_eval, k_tell = generation_keys(key)
        centre_fitness, centre_report = self._score_centre(state, task, k_eval)
        population, state = self.es.ask(k_ask, state, self.es_params)
        fitness = self._replicate(self.evaluate(population, task, k_eval))
        population = self._replicate(population)  # the update runs as on one device
        ok = jnp.isfinite(fitness)
        worst = jnp.min(jnp.where(ok, fitness, jnp.inf))
        worst = jnp.where(jnp.isfinite(worst), worst, 0.0)
        clean = jnp.where(ok, fitness, worst - 1.0)
        state, _ = self.es.tell(k_tell, population, -clean, state, self.es_params)
        n_ok = jnp.maximum(ok.sum(), 1)
        # over the finite candidates; NaN where none is (0 would read as a perfect -CE)
        mean_ok = jnp.where(ok.any(), jnp.sum(jnp.where(ok, fitness, 0.0)) / n_ok, jnp.nan)
        stats = {
            "best_fitness": jnp.max(jnp.where(ok, fitness, -jnp.inf)),
            "mean_fitness": mean_ok,
            "centre_fitness": centre_fitness,
            "mean_sigma": jnp.mean(state.std),
            "diverged": jnp.sum(~ok),
        }
        return state, stats | {f"centre_{k}": v for k, v in centre_report.items()}


# ----------------------------------------------------------------------------- memory

ACTIVATION_BUFFERS = 4
"""Live (batch, units) float32 buffers per credited layer in the analytic estimate: the
pre-activation, the activation, the credit and the local rule's delta."""


def analytic_candidate_bytes(task: Any, credit_widths: tuple[int, ...] = ()) -> int | None:
    """Rough bytes one candidate's inner loop keeps live, from the task's shapes only.

    Dominant: the training-set activations, batch x units x 4 bytes x a few buffers per
    layer, plus the credit network's activations; the scan keeps no per-step history (no
    gradient flows through it), so this does not grow with the number of steps. None for
    tasks without ``x`` and ``model.sizes`` (e.g. the Gaussian task, whose state is tiny).
    """
    x = getattr(task, "x", None)
    sizes = getattr(getattr(task, "model", None), "sizes", None)
    if x is None or sizes is None:
        return None
    batch = int(getattr(task, "batch_size", None) or x.shape[0])
    units = sum(int(s) for s in sizes[1:])
    params = sum((int(a) + 1) * int(b) for a, b in itertools.pairwise(sizes))
    per_example = ACTIVATION_BUFFERS * units + sum(credit_widths)
    return 4 * (batch * per_example + 3 * params)


def _temp_bytes(evolution: Evolution, task: Task, n: int) -> tuple[int, int] | None:
    """(temp, argument) bytes XLA reserves to evaluate ``n`` candidates in one vmap."""
    population = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct((n, *s.shape), s.dtype), evolution.template_shapes
    )
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    fn = jax.vmap(evolution.inner.fitness, in_axes=(0, None, None))
    try:
        stats = jax.jit(fn).lower(population, task, key).compile().memory_analysis()
    except (NotImplementedError, AttributeError, RuntimeError):
        return None
    if stats is None:
        return None
    return int(stats.temp_size_in_bytes), int(stats.argument_size_in_bytes)


def candidate_memory(evolution: Evolution, task: Task) -> dict[str, Any]:
    """Bytes per candidate and fixed bytes (data, shared buffers) of population evaluation.

    Measured: XLA's ``memory_analysis`` of the compiled vmapped fitness for 2 and 4
    candidates, per candidate = the difference / 2. Falls back to the analytic estimate
    where the backend reports nothing. ``source`` says which one was used.
    """
    analytic = analytic_candidate_bytes(task, _credit_widths(evolution))
    two, four = _temp_bytes(evolution, task, 2), _temp_bytes(evolution, task, 4)
    if two is not None and four is not None and four[0] > two[0]:
        per = (four[0] - two[0]) / 2
        fixed = max(two[0] - 2 * per, 0) + two[1]
        return {
            "per_candidate": int(per),
            "fixed": int(fixed),
            "analytic": analytic,
            "source": "xla_memory_analysis",
        }
    if analytic is None:
        raise ValueError(
            "XLA reports no memory analysis here and the task has no shapes to "
            "estimate from; pass chunk_size explicitly"
        )
    data = _data_bytes(task)
    return {"per_candidate": analytic, "fixed": data, "analytic": analytic, "source": "analytic"}


def _credit_widths(evolution: Evolution) -> tuple[int, ...]:
    """The credit network's layer widths (its input left out), for the analytic estimate;
    () where the inner loop has no credit network. Looks through a wrapper over several
    tasks (the "All" fitness holds its InnerLoop as ``loop``)."""
    inner = evolution.inner
    strategy = getattr(inner, "strategy", None)
    if strategy is None:
        strategy = getattr(getattr(inner, "loop", None), "strategy", None)
    return tuple(getattr(getattr(strategy, "net", None), "sizes", ())[1:])


def _data_bytes(task: Any) -> int:
    """Bytes of the arrays a task (or a tuple of tasks) holds."""
    return sum(int(getattr(a, "nbytes", 0)) for a in jax.tree.leaves(task))


def device_memory_budget(device: jax.Device | None = None) -> int | None:
    """Free bytes on ``device`` (default: this process's first) per its allocator, or None
    (CPU). Another process's device cannot say (JAX refuses to ask it)."""
    stats = (device or jax.local_devices()[0]).memory_stats()
    if not stats or "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))


def auto_chunk_size(
    evolution: Evolution,
    task: Task,
    budget_bytes: int | None = None,
    headroom: float = 0.8,
) -> int | None:
    """The largest per-device chunk whose evaluation fits ``headroom`` x the budget.

    The budget is the device's free memory when its allocator reports it (GPU/TPU), else
    ``budget_bytes`` must be given. Returns None when the whole per-device population fits
    (no chunking needed), else a divisor of the per-device population (no ragged last
    chunk). Raises when not even one candidate fits.
    """
    budget = budget_bytes if budget_bytes is not None else device_memory_budget()
    if budget is None:
        raise ValueError("this device reports no memory statistics; pass budget_bytes")
    mem = candidate_memory(evolution, task)
    per_device = evolution.per_device_population
    usable = headroom * budget - mem["fixed"]
    fit = int(usable // max(mem["per_candidate"], 1))
    if fit < 1:
        raise ValueError(
            f"one candidate needs ~{mem['per_candidate'] / 2**20:.1f} MiB on top of "
            f"{mem['fixed'] / 2**20:.1f} MiB fixed; {headroom:g} of the budget "
            f"({budget / 2**20:.1f} MiB) is {headroom * budget / 2**20:.1f} MiB: a smaller "
            "training set or network needs less, or a device with more memory"
        )
    if fit >= per_device:
        return None
    return max(k for k in range(1, fit + 1) if per_device % k == 0)


def host_memory_budget(processes_on_host: int = 1) -> int | None:
    """Bytes of host memory available to each local CPU device (the kernel's MemAvailable
    shared among them, and among the ``processes_on_host`` processes that read the same
    MemAvailable, each with as many devices), or None where /proc/meminfo cannot say (not
    Linux)."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    return available // (max(jax.local_device_count(), 1) * max(processes_on_host, 1))


HOST_MEMORY_SHARE = 0.625
"""The part of the host's available memory that CPU devices plan with (times the 0.8
headroom: half). XLA:CPU's memory analysis, which ``auto_chunk_size`` plans from, fell
short of the process's peak resident memory by up to about 1.6 times (784-100-10, 60,000
examples, 1 step: chunks of 32 and 64 candidates added 3.7 and 9.0 GiB where it said 3.1
and 6.0; a `tdca evolve` in chunks of 128 peaked at 18.9 GiB where it said 11.9). On a
GPU the analysis is what XLA allocates for the program's buffers (not measured here), so
the allocator's free bytes are taken as they are."""


def free_memory_per_device(processes_on_host: int = 1) -> int | None:
    """The memory one device has to evaluate its share of the population: the free bytes
    its allocator reports (GPU/TPU: each process has its own devices); on CPUs
    ``HOST_MEMORY_SHARE`` of the host's available memory shared among the CPU devices of
    the ``processes_on_host`` processes on this host; None when neither is known."""
    budget = device_memory_budget()
    if budget is None and jax.local_devices()[0].platform == "cpu":
        host = host_memory_budget(processes_on_host)
        budget = None if host is None else int(host * HOST_MEMORY_SHARE)
    return budget


def fitting_chunk_size(
    evolution: Evolution,
    task: Task,
    budget_bytes: int | None = None,
    headroom: float = 0.8,
) -> int | None:
    """The chunk size that lets the population fit ``headroom`` x the memory of a device
    (``budget_bytes``, else ``free_memory_per_device``): None (one vmap) where it fits or no
    budget is known, else ``auto_chunk_size``'s. What makes "auto" cheap: the population is
    first checked against ``analytic_candidate_bytes``, with twice the data as fixed bytes,
    which overestimates what XLA needs for an MLP (1.5 to 1.9 times XLA:CPU's memory
    analysis for the MLPs measured, 2.2 and 5.3 times per candidate for two CNNs, whose
    fixed bytes were larger); for other models the estimate must fit a quarter of the
    headroom. Only where it does not is XLA's analysis compiled (two small compiles).
    Raises where not even one candidate fits."""
    budget = budget_bytes if budget_bytes is not None else free_memory_per_device()
    if budget is None:
        return None
    tasks = task if isinstance(task, (tuple, list)) else (task,)
    widths = _credit_widths(evolution)
    estimates = [analytic_candidate_bytes(t, widths) for t in tasks]
    if all(e is not None for e in estimates):
        per_device = evolution.per_device_population
        mlps = all(isinstance(getattr(t, "model", None), MLP) for t in tasks)
        share = 1.0 if mlps else 0.25
        needed = 2 * _data_bytes(tasks) + per_device * sum(estimates)  # type: ignore[arg-type]
        if needed <= share * headroom * budget:
            return None
    return auto_chunk_size(evolution, task, budget_bytes=budget, headroom=headroom)
