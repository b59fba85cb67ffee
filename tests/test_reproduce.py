"""``tdca reproduce``: tables written with paper numbers; work is cached and reused."""

import json
from dataclasses import replace

import pytest
from rich.console import Console

from tdca.cli import main
from tdca.evolution import ESConfig
from tdca.experiments import reproduce
from tdca.experiments.classification import make_split, seeds_summary, train_learner
from tdca.experiments.reproduce import SMALL, Reproduction


def test_table_s4_command(tmp_path, capsys):
    assert main(["reproduce", "tableS4", "--out", str(tmp_path / "s4"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "s4" / "metrics.json").read_text())
    rows = {(r["dataset"], r["setting"]): r for r in m["rows"]}
    assert rows[("mnist", "Credit neurons")]["params"] == 4970
    assert rows[("mnist", "Credit neurons")]["paper_params"] == 4970
    assert "Param (paper)" in (tmp_path / "s4" / "table.md").read_text()
    assert "12 rows" in capsys.readouterr().out


def test_bad_reproduce_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "table9", "--out", str(tmp_path)])
    assert (
        main(["reproduce", "tableS1", "--out", str(tmp_path / "x"), "--datasets", "mnist,imagenet"])
        == 2
    )
    assert "subset of" in capsys.readouterr().err


def test_evolutions_and_baselines_are_cached_and_reused(tmp_path, monkeypatch):
    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (28, 28))
    tiny = replace(
        SMALL,
        es=ESConfig(population=4, generations=2, sigma_init=0.003, learning_rate=0.001),
        seeds=2,
    )
    monkeypatch.setattr(reproduce, "LR_GRID", (0.1, 0.3))
    r = Reproduction(
        "table1", tmp_path / "out", tiny, None, False, Console(quiet=True), cache=tmp_path / "cache"
    )
    credit, metrics = r.evolution((spec,), "mlp-100", 100, 5)
    assert metrics["evolution"]["generations"] == 2
    mtime = (tmp_path / "cache" / "evolutions").stat().st_mtime_ns
    again, _ = r.evolution((spec,), "mlp-100", 100, 5)
    assert again == credit
    assert (tmp_path / "cache" / "evolutions").stat().st_mtime_ns == mtime
    b = r.baseline("dfa", spec, "mlp-100", 100, 5)
    # the row is the mean +- std of the learner trained with seeds 0 and 1 at the tuned lr
    split = make_split(spec, None, 100)
    runs = [train_learner("dfa", split, steps=5, lr=b["lr"], seed=s, curves=False) for s in (0, 1)]
    assert runs[0]["train_loss"] != runs[1]["train_loss"]  # the seed varies DFA's feedback
    summary = seeds_summary(runs)
    assert {k: b[k] for k in summary} == pytest.approx(summary)
    cached = json.loads((tmp_path / "cache" / "baselines.json").read_text())
    assert len(cached) == 1
    r2 = Reproduction(
        "table1",
        tmp_path / "out2",
        tiny,
        None,
        False,
        Console(quiet=True),
        cache=tmp_path / "cache",
    )
    assert r2.baseline("dfa", spec, "mlp-100", 100, 5) == b
