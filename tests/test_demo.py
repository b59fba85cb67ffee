"""`tdca demo`, the README's main job, end to end with a shortened evolution."""

import json
from dataclasses import replace

from tdca.cli import main
from tdca.data import DatasetError
from tdca.experiments import demo


def _mnist_result(learner: str, acc: float) -> dict:
    return {
        "learner": learner,
        "lr": 0.3,
        "train_size": 1000,
        "steps": 20,
        "train_accuracy": acc + 0.05,
        "test_accuracy": acc,
        "curve_test_accuracy": [0.1, acc],
    }


def test_demo_prints_its_tables_writes_its_runs_and_skips_mnist_saying_why(
    tmp_path,
    monkeypatch,
    capsys,
    piped_output,  # a pipe: 120 columns, no wrapped cells
):
    real = demo.run_gaussian

    def short(cfg, out, **kwargs):  # the real experiment, two generations of four
        cfg = replace(cfg, es=replace(cfg.es, generations=2, population=4), basin_steps=50)
        done[cfg.multi_task] = real(replace(cfg, grid=5), out, **kwargs, make_figures=False)
        return done[cfg.multi_task]

    done = {}

    mnist = {"entry": demo.ZOO_ENTRY, "recorded": {}, "bp_lr_tuning": {}}
    mnist |= {"tdca": _mnist_result("tdca", 0.9), "bp": _mnist_result("bp", 0.85)}
    monkeypatch.setattr(demo, "run_gaussian", short)
    monkeypatch.setattr(demo, "mnist_zoo_comparison", lambda: mnist)
    assert main(["demo", "--out", str(tmp_path / "d"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "BP vs evolved TDCA on mixed Gaussians" in printed
    assert all(f"{f}\u2502" in printed.replace(" ", "") for f in ("gaussian1", "multi-task2"))
    assert "90.00%" in printed and "85.00%" in printed  # the MNIST table, both learners
    single = json.loads((tmp_path / "d" / "gaussian-single" / "metrics.json").read_text())
    multi = json.loads((tmp_path / "d" / "gaussian-multi-task" / "metrics.json").read_text())
    assert single["tdca"]["reached"] in ("global", "local", "none") and len(multi["tasks"]) == 2
    config = json.loads((tmp_path / "d" / "mnist-zoo" / "config.json").read_text())
    assert config["experiment"] == "demo-mnist-zoo" and "git_commit" in config["code_version"]
    saved = json.loads((tmp_path / "d" / "mnist-zoo" / "metrics.json").read_text())
    assert saved["tdca"]["test_accuracy"] == 0.9 and "curve_test_accuracy" not in saved["tdca"]

    def missing():
        raise DatasetError("no MNIST in /nowhere")

    monkeypatch.setattr(demo, "mnist_zoo_comparison", missing)
    monkeypatch.setattr(demo, "run_gaussian", lambda cfg, out, **kw: done[cfg.multi_task])
    assert main(["demo", "--out", str(tmp_path / "e"), "--no-progress"]) == 0
    assert "MNIST part skipped: no MNIST in /nowhere" in capsys.readouterr().out
    assert not (tmp_path / "e" / "mnist-zoo").exists()

    # The same --out again: refused before any work, and what is there is kept.
    before = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert main(["demo", "--out", str(tmp_path / "d"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is not an empty folder" in err and "--resume" not in err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == before
