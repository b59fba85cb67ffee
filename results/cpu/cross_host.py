"""Write results/cpu/cross-host.md: the committed small-scale runs made again on another
kind of CPU, side by side with what the earlier host measured.

Inputs (all committed):
* results/cpu/cross-host/earlier-host/<run>/: the RL runs as the earlier host made them
  (copied before results/small's RL runs were replaced by this host's);
* results/small/<run>/ and results/small/checks/<run>/: the RL runs as committed now;
* results/cpu/cross-host/this-host/: table1's and tableS1's rows, the 24 baselines they use
  (recomputed from an empty baselines.json), Figure S1's rows (figS1-table) and its three
  re-evolutions (metrics.jsonl, credit_net.npz), made on this host with the committed
  evolutions; and 3 generations of the Pendulum run by the code that first made it
  (48a70ba);
* results/small/table1, tableS1, cache/baselines.json and cache/evolutions: the earlier
  host's.

Usage: python results/cpu/cross_host.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "results/cpu/cross-host"
SMALL = ROOT / "results/small"
RL_RUNS = {  # folder here -> folder under results/small
    "rl-cartpole": "rl-cartpole",
    "rl-cartpole-seed1": "rl-cartpole-seed1",
    "rl-pendulum": "rl-pendulum",
    "rl-pendulum-seed1": "rl-pendulum-seed1",
    "rl-pendulum-200steps": "rl-pendulum-200steps",
    "rl-pendulum-400gen": "checks/rl-pendulum-400gen",
}
TIMING = ("seconds",)  # wall-clock fields: they differ with the host's load, not its numbers


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _host(config: dict[str, Any]) -> str:
    host = config["code_version"].get("host")
    if host is None:
        return "not recorded (before the host record)"
    features = ", ".join(host.get("cpu_features", []))
    return f"{host['processor']} ({host['machine']}; {features})"


def _untimed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not any(t in k for t in TIMING)}


def _rows_equal(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(_untimed(x) == _untimed(y) for x, y in zip(a, b, strict=True)), len(a)


def _same_arrays(path: Path, cached: Path) -> bool:
    """The evolved credit network's arrays (not its metadata, which names the code) equal."""
    import numpy as np

    a, b = np.load(path), np.load(cached / "credit_net.npz")
    leaves = [k for k in a.files if k != "__meta__"]
    return leaves == [k for k in b.files if k != "__meta__"] and all(
        np.array_equal(a[k], b[k]) for k in leaves
    )


def _pick_on(learner: dict[str, Any], grid: list[float]) -> float:
    """The rate ``rl.pick_rate`` would take from ``grid`` alone (best final, then best
    whole-curve mean, then the first), from the validation means the run recorded."""
    final, whole = learner["lr_grid_validation"], learner["lr_grid_validation_curve_mean"]
    return max(grid, key=lambda r: (final[str(r)], whole[str(r)], -grid.index(r)))


def _fmt(m: dict[str, Any]) -> str:
    return f"{m['final_return_mean']:.1f} ± {m['final_return_std']:.1f}"


def rl_section() -> list[str]:
    out = [
        "## Reinforcement learning: the same seeds, different numbers",
        "",
        "Greedy return after the inner steps, mean ± std over the five test seeds; *lr* is "
        "the validation pick (TDCA's is its config's). *gen. 0 centre* is the fitness of the "
        "starting credit network, before evolution changed it: on Pendulum the two hosts "
        "already disagree there (in the last bits after 50 inner steps, by more after 200); "
        "CartPole's whole episodes agree.",
        "",
        "| run | learner | earlier host: lr | earlier host: return | this host: lr "
        "(on `lr_grid` alone) | this host: return | Δ mean |",
        "|---|---|---|---|---|---|---|",
    ]
    firsts = []
    for name, where in RL_RUNS.items():
        before, now = (
            _json(HERE / "earlier-host" / name / "metrics.json"),
            _json(SMALL / where / "metrics.json"),
        )
        grid = _json(SMALL / where / "config.json")["lr_grid"]
        for learner, b in before["learners"].items():
            a = now["learners"][learner]
            lr = f"{a['lr']:g}"
            if a.get("lr_grid_added") and (alone := _pick_on(a, grid)) != a["lr"]:
                lr += f" ({alone:g})"
            out.append(
                f"| {name} | {learner} | {b['lr']:g} | {_fmt(b)} | {lr} | {_fmt(a)} "
                f"| {a['final_return_mean'] - b['final_return_mean']:+.1f} |"
            )
        g0b = _jsonl(HERE / "earlier-host" / name / "metrics.jsonl")[0]["centre_fitness"]
        g0a = _jsonl(SMALL / where / "metrics.jsonl")[0]["centre_fitness"]
        firsts.append(f"| {name} | {g0b!r} | {g0a!r} |")
    old_code = HERE / "this-host/rl-pendulum-3gen-at-48a70ba"
    commit = _json(old_code / "config.json")["code_version"]["git_commit"][:7]
    rows = _jsonl(old_code / "metrics.jsonl")
    g0 = rows[0]["centre_fitness"]
    committed = _jsonl(SMALL / "rl-pendulum/metrics.jsonl")[: len(rows)]
    same = sum(
        all(r[k] == c[k] for k in r if k != "seconds") for r, c in zip(rows, committed, strict=True)
    )
    out += [
        "",
        "| run | earlier host: gen. 0 centre | this host: gen. 0 centre |",
        "|---|---|---|",
        *firsts,
        "",
        f"What moved what: the code the earlier host ran ({commit}), run here for "
        f"{len(rows)} generations of `tdca rl --env pendulum`, gives this host's "
        f"generation-0 centre, {g0!r}, and {same} of those {len(rows)} generations log what "
        "the committed run logs: the evolution's numbers moved with the host, not the code. "
        "The baselines' picks moved with the host (a pick decided by the last bits of a "
        "return) and, where a pick sat at an end of `lr_grid`, with the code, whose grids now "
        "grow past it: the parenthesis gives this host's pick on `lr_grid` alone. Every "
        "conclusion the README draws from these runs holds on both hosts.",
    ]
    return out


def classification_section() -> list[str]:
    mine = HERE / "this-host"
    out = ["## Classification: the same numbers", ""]
    lines = []
    for table, folder in (("table1", "table1"), ("tableS1", "tableS1"), ("figS1", "figS1-table")):
        same, n = _rows_equal(
            _json(mine / folder / "metrics.json")["rows"],
            _json(SMALL / table / "metrics.json")["rows"],
        )
        lines.append(f"* `{table}`: {same} of {n} rows equal (every field but wall time).")
    ours, theirs = _json(mine / "baselines.json"), _json(SMALL / "cache/baselines.json")
    same = sum(_untimed(ours[k]) == _untimed(theirs[k]) for k in ours)
    lines.append(
        f"* Baselines: {same} of the {len(ours)} these two tables use equal "
        "(recomputed here from an empty `baselines.json`: learning-rate search, five seeds)."
    )
    for run in sorted((mine / "figS1").iterdir()):
        here = _jsonl(run / "metrics.jsonl")
        cached = _jsonl(SMALL / "cache/evolutions" / run.name / "metrics.jsonl")
        path = ("best_fitness", "mean_fitness", "mean_sigma", "diverged")  # the ES's own
        same = sum(all(x[k] == y[k] for k in path) for x, y in zip(here, cached, strict=True))
        centre = [
            abs(x["centre_fitness"] - y["centre_fitness"]) / abs(y["centre_fitness"])
            for x, y in zip(here, cached, strict=True)
        ]
        moved = [c for c in centre if c > 0]
        weights = _same_arrays(run / "credit_net.npz", SMALL / "cache/evolutions" / run.name)
        lines.append(
            f"* `{run.name}`, evolved again from nothing (`tdca reproduce figS1`): the evolved "
            f"credit network is {'bit for bit the committed one' if weights else 'DIFFERENT'}; "
            f"{same} of {len(here)} generations log the same best and mean fitness, σ and "
            f"divergences; the centre's fitness (a separate program) differs in {len(moved)} "
            f"of them, by at most {max(moved, default=0):.1e} relative."
        )
    return out + lines


def main() -> str:
    earlier = _json(HERE / "earlier-host/rl-pendulum/config.json")
    now = _json(SMALL / "rl-pendulum/config.json")
    page = [
        "# The committed CPU results on another kind of CPU",
        "",
        "<!-- written by results/cpu/cross_host.py; regenerate it, don't edit -->",
        "",
        "XLA compiles for the processor it runs on, so a seed fixes the numbers on one kind "
        "of processor, not on every one. Every run records its host (`code_version.host`, "
        "from commit c80f5ed on). These are the committed small-scale runs made again with "
        "the same seeds on a different CPU from the one that first made them; the code "
        "differs too (the commits below), and the end of the page says which difference "
        "moved what.",
        "",
        f"* Earlier hosts: {_host(earlier)}. The RL runs were made on 2026-12-05 at "
        f"{earlier['code_version']['git_commit'][:7]}; the classification runs were rerun, "
        "bit for bit, on 2026-12-07 at 92e5d9c (results/run_small.sh), perhaps on another "
        "machine than the RL runs.",
        f"* This host (at {now['code_version']['git_commit'][:7]}): {_host(now)}.",
        "",
        *classification_section(),
        "",
        *rl_section(),
        "",
    ]
    return "\n".join(page)


if __name__ == "__main__":
    (ROOT / "results/cpu/cross-host.md").write_text(main())
    print("wrote results/cpu/cross-host.md")
