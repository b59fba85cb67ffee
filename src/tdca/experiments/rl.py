"""Reinforcement-learning experiment (2024 paper, Table S5): evolve a credit network that
trains an agent, then compare it with REINFORCE (the paper's "Policy Gradient") and DFA.

Writes a run directory with config.json, metrics.jsonl (per generation), checkpoint.npz,
credit_net.npz, metrics.json, log.txt and figures (evolution fitness; return against inner
step for each learner). The baselines are fair ones: REINFORCE and DFA each get the inner
learning rate that did best on validation seeds (from ``lr_grid``, grown past an end where
the best sat), and every learner is reported as mean +- std over ``seeds`` test seeds that
neither evolution nor the pick saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np
import optax

from tdca.checks import check_seed, config_fields, is_finite_number, is_integer
from tdca.credit.strategies import BP, TDCA
from tdca.credit.strategies.feedback import DFA
from tdca.evolution import ESConfig, Evolution, evolve, open_run, stream_key
from tdca.experiments.lr_grid import fitness_curves, pick_rate, tune_rate, tuned_rate
from tdca.inner import InnerLoop
from tdca.io import save_pytree
from tdca.networks.credit_net import check_hidden_widths
from tdca.rundir import RUN_METADATA
from tdca.tasks.rl import ENVS, RLTask, env_spec

PAPER_TABLE_S5 = {
    "cartpole": {"tdca": 200.0, "policy_gradient": 199.0},
    "pendulum": {"tdca": -119.0, "td3": -647.0},
}
"""The 2024 paper's Table S5 (final reward; CartPole cut at 200 steps). The paper's agents
trained for 200 inner iterations with a recurrent credit network evolved for 3,000
generations; BipedalWalker (Box2D) is not in gymnax and not run here."""

# Key streams beside the evolution (``stream_key``: none is a generation's key), so no
# reported episode was played while evolving or while choosing a learning rate.
INIT_STREAM = 1  # the credit network evolution starts from
FEEDBACK_STREAM = 2  # DFA's fixed feedback matrices
VALIDATION_STREAM = 3  # the baselines' learning-rate pick
TEST_STREAM = 4  # every reported number


@dataclass(frozen=True)
class RLConfig:
    """Everything that defines an RL run (saved as config.json)."""

    env: str = "cartpole"
    hidden: tuple[int, ...] = (16,)  # the agent's hidden layers
    credit_hidden: tuple[int, ...] = (30, 30)
    steps: int = 50  # inner steps M, each one batch of episodes (the paper: 200)
    episodes: int = 8
    horizon: int = 200
    lr: float = 0.03  # the credit network's inner Adam step
    lr_grid: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)  # REINFORCE, DFA
    seeds: int = 5
    seed: int = 0
    es: ESConfig = field(
        default_factory=lambda: ESConfig(
            population=32,
            generations=100,
            sigma_init=0.1,
            learning_rate=0.05,
            checkpoint_every=25,
        )
    )

    def __post_init__(self) -> None:
        env_spec(self.env)  # a clear error for an unknown name
        for name in ("steps", "episodes", "horizon", "seeds"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        check_seed(self.seed)
        if not (is_finite_number(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not self.lr_grid or not all(is_finite_number(v) and v > 0 for v in self.lr_grid):
            raise ValueError(f"lr_grid must hold finite numbers > 0, got {self.lr_grid!r}")
        if list(self.lr_grid) != sorted(set(self.lr_grid)):
            # full ties go to the first rate: with an ascending grid, the most cautious one
            raise ValueError(f"lr_grid must be ascending, without repeats, got {self.lr_grid!r}")
        check_hidden_widths(self.hidden)
        check_hidden_widths(self.credit_hidden)

    def task(self) -> RLTask:
        return RLTask.create(self.env, self.hidden, episodes=self.episodes, horizon=self.horizon)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": "rl", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RLConfig:
        """A saved config.json; unknown or missing settings are refused (``config_fields``)."""
        d = config_fields(cls, d, metadata=RUN_METADATA)
        for name in ("hidden", "credit_hidden", "lr_grid"):
            d[name] = tuple(d[name])
        d["es"] = ESConfig.from_dict(d["es"])
        return cls(**d)


def _keys(stream: int, seed: int, n: int) -> jax.Array:
    return jax.random.split(stream_key(seed, stream), n)


def _summary(curves: np.ndarray) -> dict[str, Any]:
    final = curves[:, -1]
    return {
        "final_return_mean": float(final.mean()),
        "final_return_std": float(final.std()),
        "final_return_per_seed": final.tolist(),
        "curve_mean": curves.mean(0).tolist(),
        "curve_std": curves.std(0).tolist(),
    }


def compare(
    cfg: RLConfig,
    task: RLTask,
    tdca: TDCA,
    beta: Any,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Return curves of REINFORCE, DFA and the evolved credit network on the test seeds.

    REINFORCE and DFA each run with the rate of ``lr_grid`` (grown past an end the pick sat
    at: ``tune_rate``) that ``pick_rate`` chooses on the validation seeds; the credit network
    with its own.
    """
    validation = _keys(VALIDATION_STREAM, cfg.seed, cfg.seeds)
    test = _keys(TEST_STREAM, cfg.seed, cfg.seeds)
    dfa = DFA.for_task(task)
    baselines = {
        # BP from zero cannot leave zero (every backpropagated error is multiplied by a
        # zero weight), so REINFORCE starts from Kaiming weights, as the papers' BP does.
        "reinforce": (BP(), (), task.replace(init_scheme="kaiming")),
        "dfa": (dfa, dfa.init(stream_key(cfg.seed, FEEDBACK_STREAM)), task),
    }
    out: dict[str, Any] = {}
    for name, (strategy, sparams, t) in baselines.items():
        rates, grid = tune_rate(
            lambda lrs, s=strategy, p=sparams, t=t: fitness_curves(
                s, p, t, cfg.steps, lrs, validation, "adam"
            ),
            cfg.lr_grid,
            log=log,
            name=name,
        )
        lr, record = tuned_rate(rates, grid, cfg.lr_grid)
        if record["lr_at_grid_edge"]:  # of the rates tried, after any extension
            log(f"{name}: the rate picked, {lr:g}, is at an end of the rates tried {tuple(rates)}")
        curves = fitness_curves(strategy, sparams, t, cfg.steps, (lr,), test, "adam")[0]
        out[name] = {**record, "init": t.init_scheme, **_summary(curves)}
    curves = fitness_curves(tdca, beta, task, cfg.steps, (cfg.lr,), test, "adam")[0]
    out["tdca"] = {"lr": cfg.lr, "init": task.init_scheme, **_summary(curves)}
    return out


def run_rl(
    cfg: RLConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    extend_to: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    make_figures: bool = True,
    chunk_size: int | Literal["auto"] | None = None,
) -> dict[str, Any] | None:
    """Evolve, compare and plot; returns metrics, or None if the evolution was interrupted.

    ``resume`` continues ``out`` with its saved config (``cfg`` may be None or must agree
    with it); ``extend_to`` raises its generation count. ``chunk_size``: how many
    candidates each device evaluates at once (``Evolution``'s; None, one vmap, by default:
    a candidate here needs little memory), a matter of memory, not of what is evolved, so
    a resume may change it.
    """
    run, cfg = open_run(
        out, "rl", cfg, RLConfig.from_dict, resume=resume, extend_to=extend_to, write=False
    )  # evolve(config=...) writes it once the resume checks pass

    task = cfg.task()
    tdca = TDCA.for_task(task, hidden=cfg.credit_hidden)
    beta0 = tdca.init(stream_key(cfg.seed, INIT_STREAM))
    inner = InnerLoop(tdca, cfg.steps, optimizer=optax.adam(cfg.lr))
    t0 = time.perf_counter()
    result = evolve(
        Evolution(inner, beta0, cfg.es, chunk_size=chunk_size),
        task,
        beta0,
        run,
        seed=cfg.seed,
        resume=resume,
        stop_after=stop_after,
        progress=progress,
        label=f"evolving TDCA ({cfg.env})",
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
            "task": "rl",
            "env": cfg.env,
            "sizes": list(tdca.net.sizes),
            "agent_sizes": list(task.model.sizes),
            "layout": tdca.layout.describe(),
            "lr": cfg.lr,
            "optimizer": "adam",
            "steps": cfg.steps,
            "generation": result.generation,
        },
    )
    run.log("comparing REINFORCE, DFA and TDCA on the test seeds")
    learners = compare(cfg, task, tdca, result.params, run.log)
    metrics: dict[str, Any] = {
        "env": cfg.env,
        "gym_id": env_spec(cfg.env).gym_id,
        "steps": cfg.steps,
        "episodes_per_step": cfg.episodes,
        "horizon": cfg.horizon,
        "seeds": cfg.seeds,
        "learners": learners,
        "paper": PAPER_TABLE_S5[cfg.env],
        "evolution": result.summary(cfg.es.population, seconds),
    }
    run.write_json("metrics.json", metrics)
    if make_figures:
        from tdca.plotting.curves import fitness_figure, return_curves

        fitness_figure(result.history, run.file("fitness.png"))
        return_curves(learners, run.file("returns.png"), f"{env_spec(cfg.env).gym_id}")
        run.log("wrote fitness.png, returns.png")
    run.log("done")
    return metrics


__all__ = ["ENVS", "PAPER_TABLE_S5", "RLConfig", "compare", "pick_rate", "run_rl", "tune_rate"]
