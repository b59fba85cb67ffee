"""Numbers in the docs come from committed run directories: the README's "results at a
glance" table is checked against the metrics.json it came from, and generated pages against
their generator (no hand-typed result)."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist", "CIFAR-10": "cifar10"}


def _glance_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index("### Results at a glance")
    block = text[start : text.index("###", start + 5)]
    rows = [r.strip("|").split("|") for r in block.splitlines() if r.startswith("| ")]
    return [[c.strip() for c in r] for r in rows if r[0].strip() in DATASETS]


def _cell(rows: list[dict], dataset: str, method: str) -> dict:
    (row,) = [
        r
        for r in rows
        if r["dataset"] == dataset
        and r["method"] == method
        and (r["train_size"], r["steps"]) == (1000, 20)
    ]
    return row


def test_readme_glance_table_matches_the_tableS1_run():
    metrics = json.loads((ROOT / "results/small/tableS1/metrics.json").read_text())
    glance = _glance_rows()
    assert [g[0] for g in glance] == list(DATASETS)
    header = (ROOT / "README.md").read_text()
    assert f"Kaiming BP (tuned lr, {metrics['rows'][0]['seeds']} seeds)" in header
    for name, tdca, bp, dfa, _paper in glance:
        ds = DATASETS[name]
        assert tdca == f"{100 * _cell(metrics['rows'], ds, 'tdca')['test_accuracy']:.2f}"
        for text, method in ((bp, "kaiming-bp"), (dfa, "dfa")):
            r = _cell(metrics["rows"], ds, method)
            mean, std = (float(v) for v in re.findall(r"[\d.]+", text))
            assert mean == pytest.approx(100 * r["test_accuracy"], abs=0.005), (name, method)
            assert std == pytest.approx(100 * r["test_accuracy_std"], abs=0.005), (name, method)


def test_readme_bp_to_convergence_figure_matches_the_tableS1_run():
    metrics = json.loads((ROOT / "results/small/tableS1/metrics.json").read_text())
    (row,) = [
        r for r in metrics["rows"] if r["dataset"] == "mnist" and r["method"] == "bp-adam-converged"
    ]
    text = (ROOT / "README.md").read_text()
    found = re.search(r"BP-Adam to convergence 100 / ([\d.]+) ± ([\d.]+) \(lr ([\d.]+)\)", text)
    assert found, "README lost its BP-to-convergence figure"
    mean, std, lr = (float(v) for v in found.groups())
    assert mean == pytest.approx(100 * row["test_accuracy"], abs=0.005)
    assert std == pytest.approx(100 * row["test_accuracy_std"], abs=0.005)
    assert lr == row["lr"]


def test_readme_demo_tables_are_what_the_committed_demo_run_printed():
    """The README's two demo tables are the rows `./scripts/demo` printed for the run
    committed under results/cpu/demo, and that run's metrics say the same."""
    printed = (ROOT / "results/cpu/demo/output.txt").read_text()
    rows = [line for line in printed.splitlines() if line.startswith("│")]
    readme = (ROOT / "README.md").read_text()
    assert len(rows) == 8 and all(row in readme for row in rows)
    single = json.loads((ROOT / "results/cpu/demo/gaussian-single/metrics.json").read_text())
    assert single["tdca"]["reached"] == "global" and single["bp"]["reached"] == "local"
    assert f"{single['field']['tdca_to_global_fraction']:.2f}" in rows[1]
    mnist = json.loads((ROOT / "results/cpu/demo/mnist-zoo/metrics.json").read_text())
    assert f"{100 * mnist['tdca']['test_accuracy']:.2f}%" in rows[6]


def _generator(path: str):
    """Import a page generator under results/ by path (they are scripts, not modules)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / "results" / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_outer_loop_page_is_generated_from_the_committed_runs():
    """docs/outer-loop.md is exactly what results/cpu/outer_loop_table.py makes of the run
    directories under results/cpu/outer-loop and the zoo cards (regenerate it, don't edit)."""
    module = _generator("cpu/outer_loop_table.py")
    assert (ROOT / "docs" / "outer-loop.md").read_text() == module.render()


def test_cross_host_page_is_generated_and_the_readme_says_what_it_shows():
    """results/cpu/cross-host.md is what results/cpu/cross_host.py makes of the committed
    runs and their second making on another CPU; the README's claims about it (the
    classification tables unchanged, the first making's Pendulum TDCA returns) are its."""
    import re

    page = _generator("cpu/cross_host.py").main()
    assert (ROOT / "results/cpu/cross-host.md").read_text() == page
    equal = re.findall(r"(\d+) of (?:the )?(\d+) (?:rows|these two tables use|generations)", page)
    assert len(equal) == 7 and all(a == b for a, b in equal)
    assert page.count("bit for bit the committed one") == 3
    readme = " ".join((ROOT / "README.md").read_text().split())
    earlier = [
        json.loads((ROOT / f"results/cpu/cross-host/earlier-host/{run}/metrics.json").read_text())
        for run in ("rl-pendulum", "rl-pendulum-seed1")
    ]
    cells = [
        f"{m['learners']['tdca']['final_return_mean']:.1f} ± "
        f"{m['learners']['tdca']['final_return_std']:.1f}".replace("-", "−")
        for m in earlier
    ]
    assert f"(TDCA {cells[0]} / {cells[1]} there)" in readme
    assert "The classification tables did not change" in readme

    # The report says which RL runs were made before the baselines' grids grew.
    from tdca.experiments.report import _rl_section

    def said(run: Path) -> str:
        config = json.loads((run / "config.json").read_text())
        return _rl_section([(run, json.loads((run / "metrics.json").read_text()), config)])[2]

    assert "not in rl-cartpole-seed1, made before" in said(
        ROOT / "results/cpu/cross-host/earlier-host/rl-cartpole-seed1"
    )
    assert "made before" not in said(ROOT / "results/small/rl-cartpole-seed1")


def test_gpu_h200_page_is_generated_from_the_committed_runs():
    """docs/gpu-h200.md is exactly what results/gpu/h200/tables.py makes of the H200 lease's
    run directories, profiles and CPU re-evaluations (regenerate it, don't edit)."""
    module = _generator("gpu/h200/tables.py")
    page = module.reflow(module.render())
    assert (ROOT / "docs" / "gpu-h200.md").read_text() == page


def test_precision_comparison_in_the_performance_page_is_generated_from_the_runs():
    """The bf16-activations accuracy table of docs/performance.md is what
    results/cpu/precision_table.py prints from results/cpu/precision (paste it, don't edit)."""
    table = _generator("cpu/precision_table.py").render()
    assert table.count("\n") > 10 and table in (ROOT / "docs" / "performance.md").read_text()


def test_cpu_benchmark_sections_of_the_performance_page_are_generated_from_the_runs():
    """docs/performance.md's CPU benchmark tables, plans and memory figures are what
    results/cpu/bench/tables.py makes of results/cpu/bench/* (regenerate them, don't edit)."""
    module = _generator("cpu/bench/tables.py")
    page = (ROOT / "docs" / "performance.md").read_text()
    assert len(module.regions()) == page.count("<!-- /bench:") == 8
    assert module.render(page) == page


def test_saved_centre_score_cost_in_the_performance_page_is_the_measured_one():
    """The CPU cost of scoring the saved centre that docs/performance.md gives is
    results/cpu/bench/centre-score/metrics.json's (a bench run, not an estimate)."""
    m = json.loads((ROOT / "results/cpu/bench/centre-score/metrics.json").read_text())
    assert m["centre_score_repeatable"] is True
    page = " ".join((ROOT / "docs" / "performance.md").read_text().split())
    said = (
        f"took {m['centre_score_compile_and_first_seconds']:.2f} s the first time (compiling)"
        f" and {m['centre_score_seconds']:.2f} s again, against"
        f" {m['seconds_per_generation']:.2f} s a generation and"
        f" {m['compile_and_first_generation_seconds']:.2f} s for the compile and first"
    )
    assert said in page, said
    assert m["device"]["host"].startswith("Intel") and "an Intel Xeon" in page


def test_results_page_is_generated_from_the_committed_runs(monkeypatch):
    """docs/results.md is exactly what `tdca report results/small/* results/small/checks/*
    results/small/cache/evolutions/*` makes of the committed run directories (the command
    results/run_small.sh ends with)."""
    from tdca.experiments.report import results_document

    monkeypatch.chdir(ROOT)  # the page names run directories relative to the repository
    dirs = [
        d
        for sub in ("results/small", "results/small/checks", "results/small/cache/evolutions")
        for d in sorted(Path(sub).glob("*"))
    ]
    assert (ROOT / "docs" / "results.md").read_text() == results_document(dirs)


def test_zoo_page_is_generated_from_the_cards_and_runs():
    """docs/zoo.md is exactly what results/gpu/make_zoo.py's zoo_markdown makes of the zoo
    cards and the committed run directories (regenerate it, don't edit)."""
    module = _generator("gpu/make_zoo.py")
    assert (ROOT / "docs" / "zoo.md").read_text() == module.zoo_markdown()


def test_readme_python_example_runs_and_improves_on_its_start():
    """The README's code example runs as printed (fewer generations), and the credit
    network it evolves is a better one than it started from."""
    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert "for g in range(300):" in code, "README example changed; update this test"
    scope: dict = {}
    exec(code.replace("range(300)", "range(30)"), scope)
    import jax

    first = scope["evo"].inner.fitness(scope["beta0"], scope["task"], jax.random.PRNGKey(0))
    last = scope["evo"].inner.fitness(scope["beta"], scope["task"], jax.random.PRNGKey(0))
    assert float(last) > float(first)
    assert isinstance(scope["score"], float) and scope["score"] > float(first)


def test_credit_rules_page_is_generated_from_the_committed_runs():
    """docs/credit-rules.md is exactly what results/cpu/credit-rules/table.py makes of the
    probe, perturbation and evolution files beside it (regenerate it, don't edit)."""
    module = _generator("cpu/credit-rules/table.py")
    assert (ROOT / "docs" / "credit-rules.md").read_text() == module.render()


def test_readme_rl_table_is_what_the_committed_rl_runs_measured():
    """Each row of the README's reinforcement-learning table, rebuilt from the metrics.json
    of the runs of results/run_small.sh (seed 0 / seed 1 per learner)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("### Reinforcement learning")
    block = text[start : text.index("###", start + 5)]

    def cell(m: dict) -> str:
        return f"{m['final_return_mean']:.1f} ± {m['final_return_std']:.1f}".replace("-", "−")

    runs_of = {
        env: [
            json.loads((ROOT / "results/small" / d / "metrics.json").read_text())
            for d in (f"rl-{env}", f"rl-{env}-seed1")
        ]
        for env in ("cartpole", "pendulum")
    }
    for env, gym_id in (("cartpole", "CartPole-v1"), ("pendulum", "Pendulum-v1")):
        runs = runs_of[env]
        cells = [
            " / ".join(cell(m["learners"][name]) for m in runs)
            for name in ("reinforce", "dfa", "tdca")
        ]
        (row,) = [r for r in block.splitlines() if r.startswith(f"| {gym_id}")]
        assert [c.strip() for c in row.strip("|").split("|")][1:4] == cells

    # The prose's run with the paper's 200 inner steps.
    long = json.loads((ROOT / "results/small/rl-pendulum-200steps/metrics.json").read_text())
    prose = " ".join(block.split())
    for name, label in (("reinforce", "REINFORCE"), ("dfa", "DFA"), ("tdca", "TDCA")):
        assert f"{label} {cell(long['learners'][name])}" in prose, name
    longer = "results/small/checks/rl-pendulum-400gen/metrics.json"
    evolved = json.loads((ROOT / longer).read_text())
    assert evolved["evolution"]["generations"] == 400
    assert f"TDCA gives {cell(evolved['learners']['tdca'])}" in prose

    # The prose's description of the Pendulum learning curves (means over the test seeds).
    for seed, m in enumerate(runs_of["pendulum"]):
        mean = {name: m["learners"][name]["curve_mean"] for name in ("reinforce", "dfa", "tdca")}
        tdca = mean["tdca"]
        low = min(range(len(tdca)), key=tdca.__getitem__)
        dip = f"{tdca[0]:.1f} → {tdca[low]:.1f} at step {low} in seed {seed}".replace("-", "−")
        assert dip in prose, dip
        best_baseline = [max(r, q) for r, q in zip(mean["reinforce"], mean["dfa"], strict=True)]
        behind = [s for s, (t, b) in enumerate(zip(tdca, best_baseline, strict=True)) if t <= b]
        ahead_from = behind[-1] + 1
        assert ahead_from < len(tdca)
        assert f"{ahead_from} (seed {seed})" in prose, (seed, ahead_from)
        flat = max(mean["dfa"]) - min(mean["dfa"])
        assert flat < 0.05 * abs(mean["dfa"][0]), "the prose calls DFA's curve flat"

    # The prose's budgets: evolution's training episodes against one baseline's rate search.
    pendulum = runs_of["pendulum"][0]
    config = json.loads((ROOT / "results/small/rl-pendulum/config.json").read_text())
    evo, steps, per = pendulum["evolution"], pendulum["steps"], pendulum["episodes_per_step"]
    evolution = evo["generations"] * evo["population"] * steps * per
    grid = len(pendulum["learners"]["reinforce"]["lr_grid_validation"]) * pendulum["seeds"]
    assert (
        f"{evo['generations']} generations × {evo['population']} candidates × {steps} steps × "
        f"{per} episodes = {evolution:,} training episodes" in prose
    )
    assert f"{grid // pendulum['seeds']} rates × {pendulum['seeds']} validation" in prose
    assert f"× {steps} steps × {per} episodes = {grid * steps * per:,}." in prose
    assert f"config's `lr` ({config['lr']:g})" in prose


def test_readme_test_command_time_is_the_last_four_ci_landings():
    """The README's time for the test command is the range of the last four CI landings
    that results/cpu/suite-times.md records (each a time `issues stops` reported)."""
    table = (ROOT / "results/cpu/suite-times.md").read_text().split("## This development host")[0]
    pairs = re.findall(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|", table)
    seconds = [s for _, s in sorted((int(stop), int(s)) for stop, s in pairs)[-4:]]
    assert len(seconds) == 4

    def minutes(s: int) -> str:
        return f"{s // 60} min {s % 60} s"

    said = f"took {minutes(min(seconds))} to {minutes(max(seconds))} in the last four landings"
    assert said in " ".join((ROOT / "README.md").read_text().split()), said


def test_readme_xla_cpu_bug_numbers_are_what_the_benchmark_printed():
    """The README's counts for the XLA:CPU broadcast-dot bug come from the committed output
    of benchmarks/xla_cpu_zero_dot.py (jaxlib 0.10.2 part; 0.10.1 printed no wrong case)."""
    text = (ROOT / "results/cpu/xla-cpu-zero-dot.txt").read_text()
    new, old = text.split("# the same command in a venv with jax==0.10.1")
    on, off = new.split("YNNPACK fusions off:")
    off = off.split("Longer runs")[0]

    def wrong(block: str, case: str) -> str:
        return re.search(rf"{re.escape(case)}\s+wrong in\s+(\d+ of \d+)", block).group(1)

    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "jaxlib 0.10.2" in new and "jaxlib 0.10.1" in old
    before = wrong(on, "1-step DFA, no barrier")
    assert f"(NaN, as in `tdca train --steps 1`) in {before} compilations" in readme
    assert f"`jax.lax.optimization_barrier`: {wrong(on, '1-step DFA, barrier (tdca)')}," in readme
    assert set(re.findall(r"wrong in\s+(\d+) of", off)) == {"0"}  # "0 of 30 in every case"
    assert set(re.findall(r"wrong in\s+(\d+) of", old)) == {"0"}  # "0.10.1 computes it right"
    assert text.count("same weights with and without the barrier: True") == 6
    gaps = re.findall(r"largest per-step accuracy gap ([\d.]+)", new)
    assert len(gaps) == 4 and {float(g) for g in gaps} == {0.0}  # "the same accuracy"
    assert "1,000 and 32,769 examples" in readme and {"1000", "32769"} == set(
        re.findall(r"(?:dfa|bp)-(\d+) ", new)
    )


def test_paper_departures_diffusion_measurements_are_the_check_runs():
    """docs/paper-departures.md's table of the two diffusion readings is what the check run
    directories (results/small/checks/evolve-mnist-*-{layer,group}[-seedN]) recorded, or for
    a summed layout without one, the cached Table S3 evolution it names; the means over
    seeds, on the line and on the grid, are those rows'."""
    import numpy as np

    text = (ROOT / "docs/paper-departures.md").read_text()
    rows = re.findall(r"^\| `(\S+)`(?: \(summed\))? \| (\d+) \| (.+) \|$", text, flags=re.M)
    assert [(layout, int(seed)) for layout, seed, _ in rows] == [
        (f"{shape}{g}", seed)
        for shape, seeds in (("line:10", (0, 1, 2)), ("grid:6x6", (0, 1, 2)))
        for seed in seeds
        for g in ("", "/group")
    ]
    tests: dict[tuple[str, str], list[float]] = {}
    fits: dict[tuple[str, str], list[float]] = {}
    for layout, seed, cells in rows:
        lr, fitness, test, start = (c.strip().replace("−", "-") for c in cells.split("|"))
        shape = layout.split("/")[0].replace(":", "")  # line:10 -> line10
        scope = "group" if layout.endswith("/group") else "layer"
        suffix = "" if seed == "0" else f"-seed{seed}"
        run = ROOT / f"results/small/checks/evolve-mnist-{shape}-{scope}{suffix}"
        if not run.exists() and scope == "layer" and seed == "0":
            slug = layout.replace(":", "-")
            (run,) = (ROOT / "results/small/cache/evolutions").glob(f"mnist_*_{slug}_1000x20")
            assert run.relative_to(ROOT).as_posix() in " ".join(text.split())
        m = json.loads((run / "metrics.json").read_text())
        assert json.loads((run / "config.json").read_text())["seed"] == int(seed)
        (result,) = m["results"]
        (at_start,) = m["at_start"]
        assert float(lr) == result["lr"]
        assert float(fitness) == round(m["evolution"]["final_centre_fitness"], 3)
        assert test == f"{100 * result['test_accuracy']:.2f}"
        assert start == f"{100 * at_start['test_accuracy']:.2f}"
        tests.setdefault((shape, scope), []).append(100 * result["test_accuracy"])
        fits.setdefault((shape, scope), []).append(m["evolution"]["final_centre_fitness"])
    said = " ".join(text.split())
    for shape, where in (
        ("line10", "On the line,"),
        ("grid6x6", "where the two readings differ most,"),
    ):
        seeds = len(tests[shape, "layer"])
        over = f"over seeds 0 to {seeds - 1}" if seeds > 2 else f"over seeds 0 and {seeds - 1}"
        means = [
            f"{name} {np.mean(v):.2f} ± {np.std(v, ddof=1):.2f}%"
            for name, v in (("summed", tests[shape, "layer"]), ("group", tests[shape, "group"]))
        ]
        assert f"{where} {over} (mean ± sample std): {means[0]}, {means[1]}" in said
    # the paired comparison over every seed of both layouts: group minus summed
    diffs = [
        g - s
        for shape in ("line10", "grid6x6")
        for g, s in zip(tests[shape, "group"], tests[shape, "layer"], strict=True)
    ]
    worse = sum(
        g < s
        for shape in ("line10", "grid6x6")
        for g, s in zip(fits[shape, "group"], fits[shape, "layer"], strict=True)
    )
    words = dict(enumerate(("none", "one", "two", "three", "four", "five", "six")))
    lower = sum(d < 0 for d in diffs)
    mean = f"{np.mean(diffs):+.2f}".replace("-", "−")
    assert f"Over the {words[len(diffs)]} paired runs the group form tested lower in" in said
    assert f"tested lower in {words[lower]} (mean difference {mean} points)" in said
    n = f"all {words[worse]}" if worse == len(diffs) else words[worse]
    assert f"ended on a worse fitness in {n}" in said
    # two-sided sign test of that count: twice the chance of at least as many by coin flips
    k = max(worse, len(diffs) - worse)
    tail = sum(math.comb(len(diffs), i) for i in range(k, len(diffs) + 1))
    p = min(Fraction(1), Fraction(2 * tail, 2 ** len(diffs)))
    assert f"a two-sided sign test puts at probability {p} if" in said


def test_readme_demo_time_is_the_measured_one():
    """The README's time for the demo command is the wall time results/cpu/demo-time.txt
    recorded (a fresh clone through ./scripts/demo)."""
    text = (ROOT / "results/cpu/demo-time.txt").read_text()
    seconds = round(float(re.search(r"^wall ([\d.]+) s$", text, flags=re.M).group(1)))
    assert re.search(r"^rc=0$", text, flags=re.M)
    said = f"runs `tdca demo`; {seconds // 60} min {seconds % 60} s on our 2-core CPU"
    assert said in " ".join((ROOT / "README.md").read_text().split()), said


def test_readme_task_example_is_what_the_committed_task_runs_printed():
    """The README's `tdca task` output is the summary of results/cpu/task-blobs (what the
    command prints, rebuilt from its metrics.json), and the prose's numbers are those runs'."""
    from tdca.experiments.registered_task import summary_lines

    text = (ROOT / "README.md").read_text()
    runs = {
        seed: json.loads((ROOT / "results/cpu" / d / "metrics.json").read_text())
        for seed, d in ((0, "task-blobs"), (1, "task-blobs-seed1"))
    }
    printed = "\n".join("  " + line for line in summary_lines(runs[0]))
    assert f"  ```text\n{printed}\n  ```" in text
    learners = [r["learners"] for r in runs.values()]
    prose = " ".join(text.split())  # the prose's numbers, whatever its line breaks
    margins = [f"{r['tdca']['fitness_mean'] - r['dfa']['fitness_mean']:.3f}" for r in learners]
    assert f"by {margins[0]} here and {margins[1]} with evolution seed 1" in prose
    one = learners[1]
    said = (
        f"TDCA {one['tdca']['fitness_mean']:.3f}, "
        f"DFA {one['dfa']['fitness_mean']:.3f} ± {one['dfa']['fitness_std']:.3f})",
        f"({one['bp']['fitness_mean']:.3f} ± {one['bp']['fitness_std']:.3f})",
    )
    for s in said:
        assert s.replace("-", "−") in prose, s
    config = json.loads((ROOT / "results/cpu/task-blobs/config.json").read_text())
    assert not config["code_version"]["git_dirty"]
