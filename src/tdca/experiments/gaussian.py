"""Mixed-Gaussian experiment: evolve a TDCA credit field, compare it with BP's gradient.

Writes a run directory with config.json, metrics.jsonl (per generation), checkpoint.npz,
credit_net.npz (the evolved network), metrics.json, log.txt and figures: trajectories
from the default start point (BP blue, TDCA red) and the update fields of BP and TDCA.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from tdca.checks import check_seed, config_fields, is_finite_number, is_integer
from tdca.credit.strategies import BP, TDCA
from tdca.evolution import ESConfig, Evolution, evolve, open_run
from tdca.inner import InnerLoop
from tdca.io import save_pytree
from tdca.networks.credit_net import check_hidden_widths
from tdca.rundir import RUN_METADATA
from tdca.tasks.gaussian import DOMAIN, FUNCTION_1, FUNCTION_2, GaussianTask, MixedGaussian


@dataclass(frozen=True)
class GaussianConfig:
    """Everything that defines a mixed-Gaussian run (saved as config.json)."""

    multi_task: bool = False
    steps: int = 50
    bp_lr: float = 150.0
    tdca_lr: float = 10.0
    points: int = 64
    hidden: tuple[int, ...] = (30, 30)
    grid: int = 21
    radius: float = 5.0
    basin_steps: int = 3000
    seed: int = 0
    es: ESConfig = field(
        default_factory=lambda: ESConfig(
            population=64,
            generations=300,
            sigma_init=0.1,
            learning_rate=0.03,
            checkpoint_every=50,
        )
    )

    def __post_init__(self) -> None:
        if not isinstance(self.multi_task, bool):
            raise ValueError(f"multi_task must be true or false, got {self.multi_task!r}")
        check_seed(self.seed)
        for name in ("steps", "points", "grid", "basin_steps"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("bp_lr", "tdca_lr", "radius"):
            value = getattr(self, name)
            if not (is_finite_number(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        check_hidden_widths(self.hidden)

    @property
    def functions(self) -> tuple[MixedGaussian, ...]:
        return (FUNCTION_1, FUNCTION_2) if self.multi_task else (FUNCTION_1,)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": "gaussian", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GaussianConfig:
        """A saved config.json; unknown or missing settings are refused (``config_fields``)."""
        d = config_fields(cls, d, metadata=RUN_METADATA)
        d["hidden"] = tuple(d["hidden"])
        d["es"] = ESConfig.from_dict(d["es"])
        return cls(**d)


def _grid_points(domain: tuple[float, float], n: int) -> np.ndarray:
    g = np.linspace(domain[0], domain[1], n, dtype=np.float32)
    xx, yy = np.meshgrid(g, g)
    return np.stack([xx.ravel(), yy.ravel()], -1)


def _reached(p: np.ndarray, f: MixedGaussian, radius: float) -> str:
    if np.linalg.norm(p - f.global_min) < radius:
        return "global"
    if np.linalg.norm(p - f.local_min) < radius:
        return "local"
    return "none"


def _from_points(task: GaussianTask, points: np.ndarray) -> jax.Array:
    """theta with the same points for every function: (functions, n, 2)."""
    return jnp.broadcast_to(jnp.asarray(points), (task.num_functions, *points.shape))


def analyse(
    cfg: GaussianConfig, task: GaussianTask, tdca: TDCA, beta: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Trajectories, update fields and to-global fractions for BP and the evolved TDCA."""
    key = jax.random.PRNGKey(cfg.seed)
    loops = {
        "bp": (InnerLoop(BP(), cfg.steps, cfg.bp_lr), ()),
        "tdca": (InnerLoop(tdca, cfg.steps, cfg.tdca_lr), beta),
    }
    starts = jnp.asarray([f.start for f in task.functions], jnp.float32)[:, None, :]
    grid = _grid_points(task.domain, cfg.grid)
    theta_grid = _from_points(task, grid)
    record = lambda _task, th: th  # noqa: E731
    # The same functions, with as many points as each start holds (theta0's shape is checked).
    one, on_grid = task.replace(num_points=1), task.replace(num_points=len(grid))

    traj, finals = {}, {}
    for name, (loop, sp) in loops.items():
        _, trace = jax.jit(lambda sp, loop=loop: loop.run(sp, one, key, starts, record))(sp)
        traj[name] = np.concatenate([np.asarray(starts)[None], np.asarray(trace)])[:, :, 0]
        final, _ = jax.jit(lambda sp, loop=loop: loop.run(sp, on_grid, key, theta_grid))(sp)
        finals[name] = np.asarray(final)
    basin_loop = InnerLoop(BP(), cfg.basin_steps, cfg.bp_lr)
    basin_final = np.asarray(jax.jit(lambda: basin_loop.run((), on_grid, key, theta_grid)[0])())

    # Update fields (one step's displacement) on a coarser grid for the quiver plots.
    field_pts = _grid_points(task.domain, 17)
    theta_field = _from_points(task, field_pts)
    bp_field = -cfg.bp_lr * np.asarray(jax.grad(task.loss)(theta_field, None))
    tdca_field = cfg.tdca_lr * np.asarray(tdca.direction(beta, task, theta_field, None))

    per_task = []
    for k, f in enumerate(task.functions):
        gmin, lmin = f.global_min, f.local_min

        def frac(final: np.ndarray, gmin: np.ndarray = gmin) -> float:
            return float(np.mean(np.linalg.norm(final - gmin, axis=-1) < cfg.radius))

        near_global = np.linalg.norm(basin_final[k] - gmin, axis=-1) < np.linalg.norm(
            basin_final[k] - lmin, axis=-1
        )
        entry: dict[str, Any] = {
            "global_min": gmin.tolist(),
            "local_min": lmin.tolist(),
            "start": list(f.start),
        }
        for name in loops:
            end = traj[name][-1, k]
            entry[name] = {
                "final": end.tolist(),
                "value": float(f.value(jnp.asarray(end))),
                "reached": _reached(end, f, cfg.radius),
            }
        entry["field"] = {
            "bp_to_global_fraction": frac(finals["bp"][k]),
            "tdca_to_global_fraction": frac(finals["tdca"][k]),
            "global_basin_fraction": float(np.mean(near_global)),
            "grid": cfg.grid,
            "radius": cfg.radius,
            "domain": list(task.domain),
            "steps": cfg.steps,
            "basin_steps": cfg.basin_steps,
        }
        per_task.append(entry)
    arrays = {
        "trajectories": traj,
        "field_points": field_pts,
        "bp_field": bp_field,
        "tdca_field": tdca_field,
    }
    return {"tasks": per_task}, arrays


def run_gaussian(
    cfg: GaussianConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    extend_to: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    make_figures: bool = True,
    chunk_size: int | Literal["auto"] | None = None,
) -> dict[str, Any] | None:
    """Evolve, analyse and plot; returns metrics, or None if the evolution was interrupted.

    ``resume`` continues ``out`` with its saved config (``cfg`` may be None or must agree
    with it); ``extend_to`` raises its generation count. ``chunk_size``: how many
    candidates each device evaluates at once (``Evolution``'s; None, one vmap, by default:
    a candidate here needs little memory), a matter of memory, not of what is evolved, so
    a resume may change it.
    """
    run, cfg = open_run(
        out,
        "gaussian",
        cfg,
        GaussianConfig.from_dict,
        resume=resume,
        extend_to=extend_to,
        write=False,  # evolve(config=...) writes it once the resume checks pass
    )

    task = GaussianTask(functions=cfg.functions, domain=DOMAIN, num_points=cfg.points)
    tdca = TDCA.for_task(task, hidden=cfg.hidden)
    # This key is also generation 1's (tdca.evolution.stream_key says why that is a flaw);
    # kept so that the committed runs and the demo's numbers stay reproducible.
    beta0 = tdca.init(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1))
    evolution = Evolution(
        InnerLoop(tdca, cfg.steps, cfg.tdca_lr), beta0, cfg.es, chunk_size=chunk_size
    )
    t0 = time.perf_counter()
    result = evolve(
        evolution,
        task,
        beta0,
        run,
        seed=cfg.seed,
        resume=resume,
        stop_after=stop_after,
        progress=progress,
        label="evolving TDCA (gaussian)",
        config=cfg.to_dict(),
    )
    if result.interrupted:
        return None
    seconds = time.perf_counter() - t0
    save_pytree(
        run.file("credit_net.npz"),
        result.params,
        {
            "kind": "tdca-credit-net",
            "task": "gaussian",
            "sizes": list(tdca.net.sizes),
            "layout": tdca.layout.describe(),
            "lr": cfg.tdca_lr,
            "steps": cfg.steps,
            "multi_task": cfg.multi_task,
            "generation": result.generation,
        },
    )

    analysis, arrays = analyse(cfg, task, tdca, result.params)
    evolution_summary = result.summary(cfg.es.population, seconds)
    metrics: dict[str, Any]
    metrics = {"tasks": analysis["tasks"]} if cfg.multi_task else dict(analysis["tasks"][0])
    metrics |= {"steps": cfg.steps, "evolution": evolution_summary}
    run.write_json("metrics.json", metrics)
    if make_figures:
        from tdca.plotting.gaussian import plot_gaussian_run

        for path in plot_gaussian_run(run.path, task, analysis, arrays, result.history):
            run.log(f"wrote {path.name}")
    run.log("done")
    return metrics
