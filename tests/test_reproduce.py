"""``tdca reproduce``: tables written with paper numbers; work is cached and reused."""

import json
import os
from dataclasses import replace

import pytest
from rich.console import Console

from tdca.cli import main
from tdca.evolution import ESConfig
from tdca.experiments import classification, landscape, reproduce
from tdca.experiments.classification import make_split, seeds_summary, train_learner
from tdca.experiments.report import results_document
from tdca.experiments.reproduce import SMALL, Reproduction

DATA = os.environ.get("TDCA_DATA_DIR")


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
    # a --cache that is another command's run directory is not written into
    train = tmp_path / "t"
    train.mkdir()
    (train / "config.json").write_text(json.dumps({"experiment": "train"}))
    s4 = ["reproduce", "tableS4", "--no-progress"]
    assert main([*s4, "--out", str(tmp_path / "s4"), "--cache", str(train)]) == 2
    assert "--cache" in capsys.readouterr().err and sorted(os.listdir(train)) == ["config.json"]
    # the same --out with other settings would replace its table: refused
    assert main([*s4, "--out", str(tmp_path / "s4")]) == 0
    saved = json.loads((tmp_path / "s4" / "config.json").read_text())
    saved["datasets"] = ["mnist"]  # as if made by --datasets mnist
    (tmp_path / "s4" / "config.json").write_text(json.dumps(saved))
    new_cache = tmp_path / "new-cache"
    assert main([*s4, "--out", str(tmp_path / "s4"), "--cache", str(new_cache)]) == 2
    assert "made with other settings (datasets ['mnist'] there" in capsys.readouterr().err
    assert not new_cache.exists()  # refused before any folder is made


def test_a_reproduction_waits_for_an_evolution_another_command_is_writing(tmp_path):
    """Two reproductions sharing --cache that need one evolution: the second waits for the
    process writing it and reuses its result instead of stopping or evolving it again."""
    import subprocess
    import sys
    import threading

    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (28, 28))
    r = Reproduction(
        "table1", tmp_path / "out", SMALL, None, False, Console(quiet=True), cache=tmp_path / "c"
    )
    r.wait_poll = 0.05
    run = tmp_path / "c" / "evolutions" / f"{spec}_mlp-100_dense_100x5"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from tdca.rundir import RunDir; RunDir({str(run)!r}); print('held', flush=True)"
            "; import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    def finish() -> None:  # what the other command leaves when its evolution ends
        (run / "credit_net.npz").write_bytes(b"written by the other command")
        (run / "metrics.json").write_text(json.dumps({"evolved_by": "the other command"}))
        holder.kill()
        holder.wait()

    try:
        assert holder.stdout.readline().strip() == "held"
        timer = threading.Timer(1.0, finish)
        timer.start()
        credit, metrics = r.evolution((spec,), "mlp-100", 100, 5)
        timer.join()
    finally:
        holder.kill()
        holder.wait()
    assert credit == str(run / "credit_net.npz")
    assert metrics == {"evolved_by": "the other command"}
    assert not (run / "config.json").exists()  # this one never started an evolution there
    log = (tmp_path / "out" / "log.txt").read_text()
    assert f"process {holder.pid}" in log and "waiting to reuse its result" in log


def test_a_reproduction_waits_for_a_baseline_another_command_is_computing(tmp_path, monkeypatch):
    """Two reproductions sharing --cache that need one baseline: the second waits while the
    first holds that baseline's lock, then reuses what it wrote instead of computing it
    again (before, both computed it)."""
    import subprocess
    import sys
    import threading

    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (28, 28))
    cache = tmp_path / "c"
    r = Reproduction(
        "table1", tmp_path / "out", SMALL, None, False, Console(quiet=True), cache=cache
    )
    key = r.baseline_key("dfa", spec, "mlp-100", 100, 3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(r.baseline_lock(key)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    entry = {"test_accuracy": 0.5, "lr": 0.3, "written_by": "the other command"}

    def finish() -> None:  # the other command adds its baseline, then lets go of the lock
        (cache / "baselines.json").write_text(json.dumps({key: entry}))
        holder.kill()
        holder.wait()

    monkeypatch.setattr(reproduce, "tune_lr", lambda *a, **k: pytest.fail("computed again"))
    try:
        assert holder.stdout.readline().strip() == "held"
        timer = threading.Timer(1.0, finish)
        timer.start()
        assert r.baseline("dfa", spec, "mlp-100", 100, 3) == entry
        timer.join()
    finally:
        holder.kill()
        holder.wait()
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "another tdca command sharing this cache is computing it" in log


def test_evolutions_and_baselines_are_cached_and_reused(tmp_path, monkeypatch):
    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (28, 28))
    tiny = replace(
        SMALL,
        es=ESConfig(population=4, generations=2, sigma_init=0.003, learning_rate=0.001),
        seeds=2,
    )
    monkeypatch.setattr(classification, "LR_GRID", (0.1, 0.3))
    r = Reproduction(
        "table1",
        tmp_path / "out",
        tiny,
        None,
        False,
        Console(quiet=True),
        cache=tmp_path / "cache",
        chunk_size=2,  # --chunk-size 2: the evolutions run in chunks of 2 candidates
    )
    credit, metrics = r.evolution((spec,), "mlp-100", 100, 5)
    assert metrics["evolution"]["generations"] == 2
    assert metrics["evolution"]["chunk_size"] == 2
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
    assert len(b["data_fingerprint"]) == 16

    # Other files under the same name (another --data-dir, a changed or cut copy): the
    # cached work is not mixed into a table computed on them.
    _npz(tmp_path / "d.npz", (28, 28), seed=5)
    os.utime(tmp_path / "d.npz", ns=(1, 1))  # a new stamp, whatever the clock's resolution
    r3 = Reproduction(
        "table1",
        tmp_path / "out3",
        tiny,
        None,
        False,
        Console(quiet=True),
        cache=tmp_path / "cache",
    )
    with pytest.raises(ValueError, match="was computed on other data"):
        r3.baseline("dfa", spec, "mlp-100", 100, 5)
    with pytest.raises(ValueError, match="was evolved on other data"):
        r3.evolution((spec,), "mlp-100", 100, 5)


def test_runs_sharing_a_cache_keep_each_others_baselines_and_a_damaged_one_is_set_aside(
    tmp_path, monkeypatch
):
    """Two reproduce commands given one --cache each read baselines.json when they start;
    each write must merge (not overwrite the other's entries), and a baselines.json left
    damaged is moved aside and recomputed, not a crash."""
    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (28, 28))
    tiny = replace(SMALL, seeds=1)
    monkeypatch.setattr(classification, "LR_GRID", (0.1, 0.3))
    cache = tmp_path / "cache"

    def start(name: str, table: str = "table1") -> Reproduction:
        return Reproduction(
            table, tmp_path / name, tiny, None, False, Console(quiet=True), cache=cache
        )

    a, b = start("a"), start("b", "tableS1")  # both start before either has a baseline
    real_tune, others = reproduce.tune_lr, [a]

    def tune_while_the_other_run_writes(*args, **kwargs):
        if others:  # a finishes its baseline while b is computing its own
            others.pop().baseline("dfa", spec, "mlp-100", 100, 3)
        return real_tune(*args, **kwargs)

    monkeypatch.setattr(reproduce, "tune_lr", tune_while_the_other_run_writes)
    b.baseline("fa", spec, "mlp-100", 100, 3)
    dfa = a.baseline("dfa", spec, "mlp-100", 100, 3)  # from a's own memory
    on_disk = json.loads((cache / "baselines.json").read_text())
    assert sorted(k.split("|")[0] for k in on_disk) == ["dfa", "fa"]
    # b finds a's entry on disk and does not recompute it
    monkeypatch.setattr(reproduce, "tune_lr", lambda *a, **k: pytest.fail("recomputed"))
    assert b.baseline("dfa", spec, "mlp-100", 100, 3) == dfa

    (cache / "baselines.json").write_text(json.dumps(on_disk)[:40])  # cut mid-write
    c = start("c")
    assert c.cache == {}
    aside = list(cache.glob("baselines.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == json.dumps(on_disk)[:40]
    assert "moved to baselines.json.damaged-" in (tmp_path / "c" / "log.txt").read_text()


@pytest.mark.skipif(DATA is None, reason="needs the real data sets ($TDCA_DATA_DIR)")
def test_tables_1_s2_and_s3_and_figures_s1_and_s3_run_end_to_end_and_a_rerun_reuses_their_work(
    tmp_path, monkeypatch, capsys
):
    """The table commands on MNIST and Fashion-MNIST at a tiny scale (100 images, 3 steps,
    2 generations of 4): every row the table should have, with the paper's number beside
    it; the same command again gives the same rows from the cache; the multi-dataset
    "all" network (S2) and a diffusion layout (S3) run too; Figures S1 and S3 are drawn
    from those evolutions."""
    es = ESConfig(population=4, generations=2, sigma_init=0.003, learning_rate=0.001)
    tiny = replace(SMALL, es=es, seeds=2, table1_cells=((100, 3),), full=(100, 3))
    monkeypatch.setitem(reproduce.SCALES, "small", tiny)
    monkeypatch.setattr(classification, "LR_GRID", (0.1, 0.3))
    monkeypatch.setitem(classification.LR_GRIDS, "sgd", (0.1, 0.3))  # evolutions' inner lr
    common = ["--no-progress", "--cache", str(tmp_path / "cache"), "--data-dir", DATA]
    t1 = ["reproduce", "table1", "--out", str(tmp_path / "t1"), *common]
    assert main(t1) == 0
    m = json.loads((tmp_path / "t1" / "metrics.json").read_text())
    rows = {(r["dataset"], r["method"]): r for r in m["rows"]}
    baselines = {
        (d, k) for d in ("mnist", "fashion-mnist") for k in ("kaiming-bp", "zero-bp", "dfa")
    }
    transfer = {("fashion-mnist", "tr-fc"), ("fashion-mnist", "tr-tdca")}
    assert set(rows) == baselines | {("mnist", "tdca")} | transfer
    assert all(r["train_size"] == 100 and r["steps"] == 3 for r in m["rows"])
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in m["rows"])
    assert rows[("mnist", "dfa")]["seeds"] == 2 and "test_accuracy_std" in rows[("mnist", "dfa")]
    assert rows[("mnist", "tdca")]["paper_test_accuracy"] == pytest.approx(0.8861)
    assert "88.61" in (tmp_path / "t1" / "table.md").read_text()
    assert main(t1) == 0  # again: evolutions and baselines from the cache, the same rows
    assert json.loads((tmp_path / "t1" / "metrics.json").read_text())["rows"] == m["rows"]

    both = ["--datasets", "mnist,fashion-mnist"]
    assert main(["reproduce", "tableS2", "--out", str(tmp_path / "s2"), *both, *common]) == 0
    s2 = json.loads((tmp_path / "s2" / "metrics.json").read_text())["rows"]
    assert {(r["evolved_on"], r["dataset"], r["method"]) for r in s2} == {
        ("mnist", "mnist", "tdca"),
        ("mnist", "fashion-mnist", "tr-tdca"),
        ("fashion-mnist", "fashion-mnist", "tdca"),
        ("fashion-mnist", "mnist", "tr-tdca"),
        ("mnist+fashion-mnist", "mnist", "tdca"),
        ("mnist+fashion-mnist", "fashion-mnist", "tdca"),
    }  # not the paper's "All" (three data sets): no paper number beside these two
    assert all(r["paper_test_accuracy"] is None for r in s2 if "+" in r["evolved_on"])
    s3_argv = ["--datasets", "mnist", "--archs", "mlp-100", *common]
    assert main(["reproduce", "tableS3", "--out", str(tmp_path / "s3"), *s3_argv]) == 0
    s3 = json.loads((tmp_path / "s3" / "metrics.json").read_text())["rows"]
    assert [(r["method"], r["layout"]) for r in s3] == [
        ("tdca", "dense"),
        ("tdca-diffusion", "line:10"),
    ]
    # the other reading of eq. 2 (each credit within its group): its own evolution; the
    # dense one is shared, and the first folder is not overwritten by the other reading
    group_argv = ["reproduce", "tableS3", *s3_argv, "--diffusion", "group"]
    assert main([*group_argv, "--out", str(tmp_path / "s3")]) == 2
    assert "diffusion layer there, group now" in capsys.readouterr().err
    assert main([*group_argv, "--out", str(tmp_path / "s3g")]) == 0
    s3g = json.loads((tmp_path / "s3g" / "metrics.json").read_text())
    assert [(r["method"], r["layout"]) for r in s3g["rows"]] == [
        ("tdca", "dense"),
        ("tdca-diffusion", "line:10/group"),
    ]
    assert s3g["rows"][0]["test_accuracy"] == s3[0]["test_accuracy"]  # the same network
    assert s3g["rows"][1]["paper_test_accuracy"] == s3[1]["paper_test_accuracy"]
    group_run = tmp_path / "cache" / "evolutions" / "mnist_mlp-100_line-10-group_100x3"
    assert json.loads((group_run / "config.json").read_text())["layout"] == "line:10/group"
    from tdca.credit.artifact import load_credit_net

    strategy, _, _ = load_credit_net(group_run / "credit_net.npz")  # the kernel it ran with
    assert strategy.layout.describe()[0]["scope"] == "group"
    assert "--diffusion group --cache" in results_document([tmp_path / "s3g"])
    assert main(["reproduce", "table1", "--out", str(tmp_path / "x"), "--diffusion", "group"]) == 2
    assert "table1 evolves no diffused credit network" in capsys.readouterr().err

    # Figures S1 and S3 from the same cache: no new evolution (the S3 networks serve).
    monkeypatch.setattr(classification, "ADAM_LR_GRID", (0.01, 0.03))  # Figure S3's Zero-BP (Adam)
    monkeypatch.setattr(landscape, "GRID_POINTS", 6)
    evolutions = sorted(p.name for p in (tmp_path / "cache" / "evolutions").iterdir())
    argv = ["reproduce", "figS1", "--out", str(tmp_path / "f1"), "--datasets", "mnist", *common]
    assert main(argv) == 0
    (f1,) = json.loads((tmp_path / "f1" / "metrics.json").read_text())["rows"]
    run = tmp_path / "cache" / "evolutions" / "mnist_mlp-100_dense_100x3"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert f1["curve_generation"] == [0, 1]
    assert f1["curve_centre_loss"] == [-h["centre_fitness"] for h in history]
    assert f1["curve_centre_accuracy"] == [h["centre_accuracy"] for h in history]
    assert all(0.0 <= a <= 1.0 for a in f1["curve_centre_accuracy"])
    assert (tmp_path / "f1" / "figS1.png").stat().st_size > 0
    # a run made before the centre's accuracy was logged: the loss curve, and a note
    (run / "metrics.jsonl").write_text(
        "".join(
            json.dumps({k: v for k, v in h.items() if k not in ("centre_accuracy", "centre_loss")})
            + "\n"
            for h in history
        )
    )
    argv[3] = str(tmp_path / "f1-old")
    assert main(argv) == 0
    (old,) = json.loads((tmp_path / "f1-old" / "metrics.json").read_text())["rows"]
    assert old["curve_centre_loss"] == f1["curve_centre_loss"]
    assert old["curve_centre_accuracy"] == [None, None] and "not recorded" in old["note"]

    assert main(["reproduce", "figS3", "--out", str(tmp_path / "f3"), *common]) == 0
    f3 = json.loads((tmp_path / "f3" / "metrics.json").read_text())
    assert f3["datasets"] == ["mnist"]
    rows = {r["method"]: r for r in f3["rows"]}
    assert list(rows) == ["tdca", "tdca-diffusion", "zero-bp", "zero-bp-seed1"]
    # the networks S3 trains with the same credit networks, reached the same way
    assert rows["tdca"]["test_accuracy"] == s3[0]["test_accuracy"]
    assert rows["tdca-diffusion"]["test_accuracy"] == s3[1]["test_accuracy"]
    assert rows["zero-bp"]["optimizer"] == "adam" and rows["zero-bp"]["lr"] in (0.01, 0.03)
    assert [rows[m]["compared_with"] for m in list(rows)[1:]] == ["tdca", "tdca", "zero-bp"]
    for m in list(rows)[1:]:
        assert -1.0 <= rows[m]["cos_principal"] <= 1.0
        assert all(0.0 <= v <= 1.0 + 1e-9 for v in rows[m]["plane_shows"].values())
        assert len(rows[m]["plane_coordinates"][m]) == 4  # start and 3 steps
    assert len(rows["tdca"]["curve_gradient_alignment"]["layer2"]) == 3
    for name in ("figS3_mnist.png", "figS3_alignment.png"):
        assert (tmp_path / "f3" / name).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "cache" / "evolutions").iterdir()) == evolutions
    doc = results_document([tmp_path / "f3"])
    assert "`tdca reproduce figS3 --scale small --cache" in doc  # no --datasets: it is fixed
    bad = ["reproduce", "figS3", "--out", str(tmp_path / "f3x"), "--datasets", "fashion-mnist"]
    assert main(bad) == 2
    assert "figS3 is MNIST" in capsys.readouterr().err


def test_table_s2_puts_the_papers_all_row_only_beside_all_three_data_sets():
    """A credit network evolved on two data sets is not the paper's "All" (MNIST, Fashion
    and CIFAR-10): its rows have no paper number, where they used to show the All row's."""
    from types import SimpleNamespace

    from tdca.experiments import reproduce as rp

    def stub(datasets):
        return SimpleNamespace(
            datasets=datasets,
            scale=SimpleNamespace(full=(100, 5)),
            size=lambda ds, n: n,
            evolution=lambda src, arch, n, steps: ("+".join(src), None),
            tdca=lambda credit, ds, arch, n, steps: {"test_accuracy": 0.5},
        )

    two = rp._tableS2(stub(("mnist", "fashion-mnist")))
    mixed = [r for r in two if r["evolved_on"] == "mnist+fashion-mnist"]
    assert len(mixed) == 2 and all(r["paper_test_accuracy"] is None for r in mixed)
    three = rp._tableS2(stub(rp.DATASETS))
    everything = {r["dataset"]: r for r in three if r["evolved_on"] == "all"}
    assert everything["mnist"]["paper_test_accuracy"] == pytest.approx(0.9492)
