"""A user's mistakes never cost them earlier work, and never end in a traceback: a run of
one kind is not resumed or overwritten as another, a folder a failed start left behind can
be reused, SIGTERM stops a run like Ctrl-C, and bad files are refused with their name."""

import json
import os
import signal
import socket
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from tdca import cli
from tdca.cli import main
from tdca.experiments.classification import evolved_meta, evolved_setting
from tdca.rundir import RunDir, RunDirError

ROOT = Path(__file__).resolve().parents[1]


def _run_of(tmp_path: Path, kind: str, name: str = "run") -> Path:
    """A finished-looking run directory of ``kind``."""
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"experiment": kind, "seed": 0}))
    (d / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9}))
    return d


def _untouched(d: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in d.iterdir()}


def test_resuming_a_run_of_another_kind_is_refused_before_anything_is_written(tmp_path, capsys):
    train = _run_of(tmp_path, "train")
    before = _untouched(train)
    assert main(["gaussian", "--resume", str(train), "--no-progress"]) == 2
    assert "a 'train' run, not a 'gaussian' one" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(train), "--no-progress"]) == 2
    assert "not a 'evolve-classification' one" in capsys.readouterr().err
    assert _untouched(train) == before

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("[1, 2]")
    assert main(["evolve", "--resume", str(bad)]) == 2
    assert "a JSON object was expected" in capsys.readouterr().err


def test_a_saved_config_with_missing_fields_is_refused_naming_the_file(tmp_path, capsys):
    d = tmp_path / "evo"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"experiment": "evolve-classification"}))
    assert main(["evolve", "--resume", str(d), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{d / 'config.json'}: incomplete or damaged config" in err


def test_resuming_an_evolution_for_an_unregistered_architecture_says_so(tmp_path, capsys):
    """A run started from a script that registered its own network: resumed from the shell,
    the message names the architecture and the fix, not a damaged config.json."""
    d = tmp_path / "evo"
    d.mkdir()
    saved = {"experiment": "evolve-classification", "arch": "my-net", "seed": 0}
    (d / "config.json").write_text(json.dumps(saved))
    assert main(["evolve", "--resume", str(d), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "architecture 'my-net', which this process does not know" in err
    assert "register_arch" in err and "damaged" not in err


def test_a_misspelt_or_dropped_setting_in_a_saved_config_is_refused_not_defaulted(tmp_path, capsys):
    """A hand-edited config.json: a misspelt key would otherwise be dropped (and its default
    used) and a dropped one defaulted, so the resumed run would silently differ."""
    from tdca.experiments.classification import EvolveConfig
    from tdca.experiments.gaussian import GaussianConfig

    cfg = EvolveConfig(lr=0.3, fitness_data="within", train_size=500)
    saved = cfg.to_dict() | {"code_version": {"tdca": "0"}, "lr_selection": {"lr": 0.3}}
    assert EvolveConfig.from_dict(saved) == cfg
    # Settings added after the first release may be absent: older runs did the default.
    older = {k: v for k, v in saved.items() if k not in ("precision", "gain_speed")}
    assert EvolveConfig.from_dict(older) == cfg

    d = tmp_path / "evo"
    d.mkdir()
    cases = {
        "unknown settings ['fitnes_data']": saved | {"fitnes_data": "train"},
        "settings missing: ['lr']": {k: v for k, v in saved.items() if k != "lr"},
        "unknown settings ['populaton']": saved | {"es": saved["es"] | {"populaton": 8}},
    }
    for message, config in cases.items():
        (d / "config.json").write_text(json.dumps(config))
        assert main(["evolve", "--resume", str(d), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"{d / 'config.json'}: incomplete or damaged config" in err and message in err

    g = GaussianConfig(steps=30).to_dict()
    assert GaussianConfig.from_dict(g) == GaussianConfig(steps=30)
    with pytest.raises(ValueError, match=r"settings missing: \['hidden'\]"):
        GaussianConfig.from_dict({k: v for k, v in g.items() if k != "hidden"})


def test_reproduce_and_bench_do_not_write_into_another_commands_run(tmp_path, capsys):
    train = _run_of(tmp_path, "train")
    before = _untouched(train)
    assert main(["reproduce", "tableS4", "--out", str(train)]) == 2
    assert "holds a 'train' run" in capsys.readouterr().err
    assert main(["bench", "--small", "--out", str(train)]) == 2
    assert "holds a 'train' run" in capsys.readouterr().err
    assert _untouched(train) == before
    # Their own earlier output is theirs to rewrite.
    own = tmp_path / "s4"
    assert main(["reproduce", "tableS4", "--out", str(own)]) == 0
    assert main(["reproduce", "tableS4", "--out", str(own)]) == 0
    capsys.readouterr()
    assert main(["reproduce", "table2", "--archs", "foo", "--out", str(tmp_path / "t2")]) == 2
    assert "--archs for table2 must be among" in capsys.readouterr().err
    assert main(["reproduce", "table1", "--archs", "cnn", "--out", str(tmp_path / "t1")]) == 2
    assert "table1 has no architectures to choose from" in capsys.readouterr().err


def test_a_folder_left_by_a_failed_start_can_be_reused(tmp_path):
    d = tmp_path / "failed"
    d.mkdir()
    (d / "log.txt").write_text("2026 error before any work\n")
    RunDir(d, kind="evolve-classification")  # only a log: fine
    # A run that cannot be resumed (train) may also have written its config.
    (d / "config.json").write_text(json.dumps({"experiment": "train"}))
    RunDir(d, kind="train", resumable=False)
    # its config means a real run, of another kind: --resume would fail, so not suggested
    with pytest.raises(
        RunDirError, match=r"choose a new one \(it holds another kind of run: 'train'\)$"
    ):
        RunDir(d, kind="evolve-classification")
    (d / "config.json").write_text(json.dumps({"experiment": "evolve-classification"}))
    with pytest.raises(RunDirError, match="not empty; choose a new one, or pass --resume"):
        RunDir(d, kind="evolve-classification")  # one of its own kind: --resume continues it
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("a user's folder, no run")
    with pytest.raises(RunDirError, match=r"not empty; choose a new one$"):
        RunDir(other, kind="evolve-classification")
    (d / "config.json").write_text(json.dumps({"experiment": "train"}))
    (d / "metrics.json").write_text("{}")
    with pytest.raises(RunDirError, match=r"not empty; choose a new one$"):
        RunDir(d, kind="train", resumable=False)  # finished: never overwritten


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_command_like_ctrl_c(monkeypatch, capsys, signum):
    """The handler turns SIGTERM and SIGHUP (a closed terminal) into KeyboardInterrupt,
    which evolutions catch to save their checkpoint (tests/test_evolution.py) and the CLI
    reports with exit code 130; a SIGHUP ignored already (nohup) stays ignored."""
    reached = []

    def killed(args):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # interrupted by the signal, not finished
        reached.append("end")
        return 0

    monkeypatch.setattr(cli, "_bench", killed)
    before = signal.getsignal(signum)
    try:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a terminal's: the process would die
        assert main(["bench", "--small", "--out", "unused"]) == 130
        assert "interrupted" in capsys.readouterr().err and not reached
        assert signal.getsignal(signum) is (before if signum == signal.SIGTERM else signal.SIG_DFL)
        if signum == signal.SIGHUP:  # under nohup
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            reached.clear()

            def hung_up(args):
                os.kill(os.getpid(), signal.SIGHUP)
                reached.append("end")
                return 0

            monkeypatch.setattr(cli, "_bench", hung_up)
            assert main(["bench", "--small", "--out", "unused"]) == 0 and reached
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signum, before)


@pytest.mark.filterwarnings("ignore:no inner learning rate")  # 3 steps of tiny data
def test_a_stop_before_the_first_generation_says_to_run_the_command_again(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C while a new evolution picks its inner lr leaves no config.json: the message
    says there is nothing to resume, --resume says the same, and the same command works."""
    from test_classification import _npz

    import tdca.experiments.classification as classification

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    spec, out = _npz(tmp_path / "d.npz", (8, 8)), tmp_path / "e"
    argv = ["evolve", "--dataset", spec, "--train-size", "200", "--steps", "3"]
    argv += ["--generations", "1", "--population", "4", "--no-progress", "--out", str(out)]
    with monkeypatch.context() as m:
        m.setattr(classification, "pick_inner_lr", stopped)
        assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"nothing to resume; run the same command again (it reuses {out})" in err
    assert main(["evolve", "--resume", str(out)]) == 2
    assert "stopped before its first generation" in capsys.readouterr().err
    assert main(argv) == 0
    assert (out / "metrics.json").exists()

    # stopped later, just before generation 1 (after the lr pick), with --keep-every: the
    # folder still holds nothing a rerun of the same command would refuse
    from tdca.evolution import processes

    def agreed_then_stopped(*args, **kwargs):
        raise KeyboardInterrupt

    kept = [*argv[:-1], str(tmp_path / "k"), "--keep-every", "1", "--lr", "0.3"]
    with monkeypatch.context() as m:
        m.setattr(processes, "check_agree", agreed_then_stopped)
        assert main(kept) == 130
    assert "run the same command again" in capsys.readouterr().err
    assert main(kept) == 0


def test_distributed_options_that_cannot_work_are_refused_before_the_work(tmp_path, capsys):
    """A process id outside the job, or a job JAX cannot join (here: this process has
    already started JAX, which jax.distributed must precede), stop with what to change and
    no run folder. The working launch is tests/test_sharding.py's two-process test."""
    out = tmp_path / "g"
    base = ["gaussian", "--generations", "1", "--no-progress", "--out", str(out)]
    assert main([*base, "--num-processes", "2", "--process-id", "2"]) == 2
    assert "--process-id 2 is not one of the 2 processes (0 .. 1)" in capsys.readouterr().err
    jax.numpy.zeros(1).block_until_ready()  # JAX's backend is up in this process
    job = ["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "0"]
    assert main([*base, *job]) == 2
    err = capsys.readouterr().err
    assert "could not join the jax.distributed job" in err and "--coordinator HOST:PORT" in err
    assert not out.exists()
    assert main([*base, "--join-timeout", "5"]) == 2  # alone, not joining anything
    assert "--join-timeout applies to a distributed job" in capsys.readouterr().err


def test_an_unreachable_coordinator_is_reported_in_one_line_not_a_jax_abort(tmp_path, capsys):
    """Process 1 of a job whose coordinator nobody serves: JAX would abort the process (a
    C++ check failure) after its timeout; tdca stops after --join-timeout with what to
    check, before JAX is touched."""
    with socket.socket() as s:  # a port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "g"
    job = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", "1"]
    argv = ["gaussian", "--generations", "1", "--no-progress", "--out", str(out), *job]
    start = time.monotonic()
    assert main([*argv, "--join-timeout", "1"]) == 2
    assert time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert f"could not reach the coordinator 127.0.0.1:{port} in 1 s" in err
    assert "--join-timeout waits longer" in err and err.count("\n") == 1
    assert not out.exists()
    bad = ["--coordinator", "nohostport", "--num-processes", "2", "--process-id", "1"]
    assert main([*argv[:6], *bad]) == 2
    assert "--coordinator must be HOST:PORT" in capsys.readouterr().err
    assert main([*argv[:6], *bad[:1], "::1", *bad[2:]]) == 2
    assert "an IPv6 address in brackets, [::1]:PORT), got '::1'" in capsys.readouterr().err


def test_output_files_are_checked_before_the_work(tmp_path, monkeypatch, capsys):
    import tdca.zoo.verify as zv

    monkeypatch.setattr(
        zv, "verify", lambda *a, **k: pytest.fail("verified before the --out check")
    )
    assert main(["zoo", "verify", "mnist", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["zoo", "verify", "mnist", "--out", str(afile / "z.json")]) == 2
    assert f"{afile} is a file, not a folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert "none of the 1 paths given" in err and f"({tmp_path / 'nope'}: no such file" in err


def test_a_relative_npz_path_is_looked_for_in_the_data_folder_too(tmp_path, monkeypatch):
    """npz:NAME not in the working directory is read from --data-dir, as the loader says
    (the CLI used to make it absolute against the working directory first)."""
    from test_classification import _npz

    (tmp_path / "data").mkdir()
    _npz(tmp_path / "data" / "mine.npz", (8, 8))
    monkeypatch.chdir(tmp_path)
    assert cli._dataset_spec("npz:mine.npz") == "npz:mine.npz"
    assert cli._dataset_spec("npz:data/mine.npz") == f"npz:{tmp_path / 'data' / 'mine.npz'}"
    argv = ["train", "--dataset", "npz:mine.npz", "--data-dir", str(tmp_path / "data")]
    argv += ["--learner", "dfa", "--train-size", "100", "--steps", "2", "--lr", "0.3"]
    assert main([*argv, "--out", str(tmp_path / "t")]) == 0
    # rewritten within the session, it is read again (not served from memory)
    from tdca.experiments.classification import fingerprint, make_split

    before = fingerprint(make_split("npz:mine.npz", str(tmp_path / "data"), 100))
    _npz(tmp_path / "data" / "mine.npz", (8, 8), seed=3)
    os.utime(tmp_path / "data" / "mine.npz", ns=(1, 1))
    assert fingerprint(make_split("npz:mine.npz", str(tmp_path / "data"), 100)) != before


def test_an_empty_out_is_refused_not_read_as_the_working_directory(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "mnist", "--learner", "dfa", "--out", ""])
    assert "--out: needs a path (it is empty)" in capsys.readouterr().err


def test_a_data_dir_that_is_a_file_or_missing_is_said(tmp_path, capsys, monkeypatch):
    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (8, 8))
    argv = ["train", "--dataset", spec, "--learner", "dfa", "--train-size", "100"]
    argv += ["--steps", "2", "--lr", "0.3"]
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main([*argv, "--data-dir", str(afile), "--out", str(tmp_path / "a")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    typo = tmp_path / "dtaa"
    assert main([*argv, "--data-dir", str(typo), "--out", str(tmp_path / "b")]) == 0
    assert f"--data-dir {typo} does not exist (is the name misspelt?)" in capsys.readouterr().err
    # the same folder set by the environment is checked the same way
    monkeypatch.setenv("TDCA_DATA_DIR", str(afile))
    assert main([*argv, "--out", str(tmp_path / "c")]) == 2
    assert f"TDCA_DATA_DIR {afile}: is a file, not a folder" in capsys.readouterr().err
    monkeypatch.setenv("TDCA_DATA_DIR", str(typo))
    assert main([*argv, "--out", str(tmp_path / "d")]) == 0
    assert f"TDCA_DATA_DIR {typo} does not exist" in capsys.readouterr().err


def test_a_report_names_an_evolution_run_from_python_that_it_leaves_out(tmp_path, capsys):
    """A run directory of tdca.evolution.evolve (a user's task) has no metrics.json; the
    report says it leaves it out instead of passing over it as it passes over a cache."""
    from tdca.evolution.runner import OWN_KIND

    custom, cache = tmp_path / "mine", tmp_path / "cache"
    custom.mkdir()
    cache.mkdir()
    (custom / "config.json").write_text(json.dumps({"experiment": OWN_KIND, "seed": 0}))
    table1 = str(ROOT / "results" / "small" / "table1")
    out = tmp_path / "r.md"
    assert main(["report", table1, str(custom), str(cache), "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tdca report: warning: {custom}: an evolution")
    assert out.read_text().startswith("# Results")


def test_the_report_preamble_says_only_what_its_runs_are(tmp_path):
    """Its notes on scale small, CIFAR-10's JPEG copy, the paper scale not run and the
    Single-evolutions section follow the run directories given, not the committed ones."""
    import shutil

    from tdca.experiments.report import results_document

    d = tmp_path / "t1"
    shutil.copytree(ROOT / "results" / "small" / "table1", d)
    m = json.loads((d / "metrics.json").read_text())
    doc = results_document([d])
    assert "*scale small* is sized for" in doc and "has not been run" in doc
    assert ("CIFAR-10 here is the JPEG" in doc) == ("cifar10" in m["datasets"])
    m.update(scale="paper", datasets=["mnist"])
    (d / "metrics.json").write_text(json.dumps(m))
    doc = results_document([d])
    assert "*scale small* is sized for" not in doc and "has not been run" not in doc
    assert "CIFAR-10 here is the JPEG" not in doc and "pass the tables' evolution" in doc


def test_a_report_over_damaged_run_files_names_the_folder_in_one_line(tmp_path, capsys):
    """A run directory whose metrics.json lost a field (a bad edit, a cut copy) stops the
    report with one line naming it, not a KeyError from deep in the table code."""
    import shutil

    check = sorted((ROOT / "results" / "small" / "checks").iterdir())[0]
    damaged = {
        "no-rows": ("table1", lambda m: m.pop("rows")),
        "unknown-table": ("table1", lambda m: m.update(table="nosuch")),
        "results-null": (check, lambda m: m.update(results=None)),
        "no-evolution": (check, lambda m: m.pop("evolution")),
    }
    errors = {}
    for name, (source, edit) in damaged.items():
        d = tmp_path / name
        shutil.copytree(ROOT / "results" / "small" / source, d)
        m = json.loads((d / "metrics.json").read_text())
        edit(m)
        (d / "metrics.json").write_text(json.dumps(m))
        assert main(["report", str(d), "--out", str(tmp_path / f"{name}.md")]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{d}: its metrics.json or config.json is not as" in err[0]
        assert not (tmp_path / f"{name}.md").exists()
        errors[name] = err[0]
    assert "unknown table 'nosuch'" in errors["unknown-table"]


def test_an_output_file_replaces_only_what_the_same_command_wrote(tmp_path, monkeypatch, capsys):
    """--out FILE over another command's result (a run's metrics.json, a credit network)
    is refused and the file kept; an earlier output of the same command is replaced."""
    import tdca.zoo.verify as zv

    monkeypatch.setattr(zv, "verify", lambda *a, **k: [])
    run = _run_of(tmp_path, "evolve-classification")
    before = _untouched(run)
    assert main(["zoo", "verify", "mnist", "--out", str(run / "metrics.json")]) == 2
    assert "exists and is not a `tdca zoo verify` output" in capsys.readouterr().err
    report = ["report", str(ROOT / "results" / "small" / "table1")]
    assert main([*report, "--out", str(run / "config.json")]) == 2
    assert "exists and is not a document `tdca report` wrote" in capsys.readouterr().err
    assert _untouched(run) == before
    ours = tmp_path / "verify.json"
    assert main(["zoo", "verify", "mnist", "--out", str(ours)]) == 0
    assert main(["zoo", "verify", "mnist", "--out", str(ours)]) == 0  # its own: replaced
    old_style = tmp_path / "old.json"  # written before the file said what it is
    old_style.write_text(json.dumps({"backend": "cpu", "rows": []}))
    assert main(["zoo", "verify", "mnist", "--out", str(old_style)]) == 0
    assert json.loads(old_style.read_text())["kind"] == "tdca-zoo-verify"
    doc = tmp_path / "results.md"
    assert main([*report, "--out", str(doc)]) == 0
    assert main([*report, "--out", str(doc)]) == 0
    assert doc.read_text().startswith("# Results")


def test_bad_credit_network_files_are_refused_without_inviting_unpickling(tmp_path, capsys):
    from tdca.credit.artifact import load_credit_net
    from tdca.io import ArtifactError, save_pytree

    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an archive at all " * 8)
    with pytest.raises(ArtifactError, match="pickles are never loaded") as e:
        load_credit_net(junk)
    assert "allow_pickle" not in str(e.value)
    # A tdca file without a classification credit network's description (a gaussian run's).
    other = save_pytree(tmp_path / "g.npz", [np.zeros(3)], {"kind": "tdca-credit-net"})
    with pytest.raises(ArtifactError, match="does not describe a classification credit"):
        load_credit_net(other)


def test_tiny_and_overfull_validation_splits_are_refused(tmp_path):
    from tdca.experiments.classification import make_split

    rng = np.random.default_rng(0)

    def npz(n):
        p = tmp_path / f"d{n}.npz"
        x = rng.integers(0, 255, (n, 4, 4), dtype=np.uint8)
        y = np.arange(n) % 3
        np.savez(p, x_train=x, y_train=y, x_test=x[:3], y_test=y[:3])
        return f"npz:{p}"

    with pytest.raises(ValueError, match="too few to hold a tenth out"):
        make_split(npz(5), None, 5, validation=True)
    spec = npz(300)  # 30 held out: at most 270 for an evolution that reports its size
    assert len(make_split(spec, None, 270, validation=True, whole_cell=True).y_train) == 270
    with pytest.raises(ValueError, match="--train-size can be at most 270"):
        make_split(spec, None, 290, validation=True, whole_cell=True)
    assert len(make_split(spec, None, 290, validation=True).y_train) == 270  # lr tuning: documented


def test_relative_paths_are_recorded_absolute(tmp_path, monkeypatch):
    from tdca.data.cache import resolve_data_dir

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.npz").write_bytes(b"")  # found here (else: in --data-dir)
    assert cli._dataset_spec("npz:data/a.npz") == f"npz:{tmp_path / 'data' / 'a.npz'}"
    assert cli._dataset_spec("mnist") == "mnist"
    assert resolve_data_dir("rel") == tmp_path / "rel"


def test_non_finite_numbers_are_written_as_json_null(tmp_path):
    run = RunDir(tmp_path / "r")
    run.write_json("m.json", {"loss": float("nan"), "curve": np.array([1.0, np.inf])})
    text = (tmp_path / "r" / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "curve": [1.0, None]}


def test_a_run_is_dirty_only_when_the_code_differs_from_its_commit(tmp_path):
    """Rewriting a committed results folder or page (what `tdca reproduce` and `tdca report`
    do in place), or a test, leaves the code at its commit; an edited source file does not,
    nor does a new file inside the package (read or imported by a run), and each is named.
    A copy installed inside another repository does not report that repository's commit."""
    import subprocess

    from tdca.rundir import git_state

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    repo = tmp_path / "tdca"
    for name in ("pyproject.toml", "src/tdca/rule.py", "results/small/metrics.json", "docs/a.md"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("0\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    state = git_state(repo)
    assert len(state["git_commit"]) == 40 and state["git_dirty"] is False
    (repo / "results/small/metrics.json").write_text("1\n")
    (repo / "docs/a.md").write_text("1\n")
    (repo / "results/new.json").write_text("untracked\n")
    (repo / "my_net.py").write_text("untracked, outside the package\n")
    (repo / "tests").mkdir()
    (repo / "tests/test_new.py").write_text("tests are not run by a run\n")
    assert git_state(repo)["git_dirty"] is False
    (repo / "src/tdca/.rule.py.swp").write_text("an editor's, not code\n")
    assert git_state(repo)["git_dirty"] is False
    (repo / "src/tdca/zoo").mkdir()
    (repo / "src/tdca/zoo/my net é.npz").write_text("0\n")  # `tdca zoo list` would read it
    assert git_state(repo)["git_modified"] == ["src/tdca/zoo/my net é.npz"]  # as it is
    (repo / "src/tdca/zoo/my net é.npz").unlink()
    (repo / "src/tdca/rule.py").write_text("1\n")
    assert git_state(repo) | {"git_commit": None} == {
        "git_commit": None,
        "git_dirty": True,
        "git_modified": ["src/tdca/rule.py"],
    }
    git("mv", "src/tdca/rule.py", "src/tdca/renamed.py")  # a rename: one path, the new one
    assert git_state(repo)["git_modified"] == ["src/tdca/renamed.py"]
    installed = repo / ".venv/lib/python3.11/site-packages"
    installed.mkdir(parents=True)
    assert git_state(installed) == {"git_commit": None}
    (installed / "pyproject.toml").write_text("")
    (installed / "src/tdca").mkdir(parents=True)
    assert git_state(installed) == {"git_commit": None}  # inside the checkout, not its root
    (repo / ".git" / "HEAD").write_text("damaged\n")  # git refuses it: said, not hidden
    state = git_state(repo)
    assert state["git_commit"] is None and state["git_unreadable"].startswith("fatal:")


def test_an_npz_without_images_names_the_file_and_the_array(tmp_path):
    from tdca.data import DatasetError
    from tdca.data.readers import read_npz

    p = tmp_path / "empty.npz"
    x = np.zeros((4, 5, 5), np.uint8)
    np.savez(p, x_train=x[:0], y_train=np.zeros(0, int), x_test=x, y_test=np.zeros(4, int))
    with pytest.raises(DatasetError, match=r"empty.npz\[x_train\] holds no images"):
        read_npz(p)


def test_a_run_is_not_resumed_on_other_data(tmp_path, capsys):
    """The run records a fingerprint of its data; a resume that finds other arrays under
    the same name (a changed npz, another --data-dir) is refused, not continued."""
    rng = np.random.default_rng(0)

    def write(seed_shift):
        x = rng.integers(0, 255, (80, 6, 6), dtype=np.uint8) // (1 + seed_shift)
        y = np.arange(80) % 3
        np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])

    write(0)
    out = tmp_path / "evo"
    argv = ["evolve", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--train-size", "40"]
    argv += ["--steps", "3", "--population", "4", "--lr", "0.1", "--no-progress"]
    assert main([*argv, "--generations", "2", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())["data_fingerprints"]
    spec = f"npz:{tmp_path / 'd.npz'}"  # keyed by the full spec: two files named alike differ
    assert list(saved) == [spec] and len(saved[spec]) == 16
    write(1)
    capsys.readouterr()
    assert main(["evolve", "--resume", str(out), "--generations", "3", "--no-progress"]) == 2
    assert "differ from those this run was evolved on" in capsys.readouterr().err
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # nothing ran


def test_train_defaults_to_the_architecture_a_credit_network_was_evolved_for(tmp_path):
    zoo = evolved_meta("tdca:zoo/mnist")
    assert evolved_setting(zoo, "arch") == "mlp-100"
    assert evolved_setting(zoo, "precision") is None  # evolved before it
    assert evolved_meta("dfa") is None and evolved_setting(None, "arch") is None
    assert evolved_meta(f"tdca:{tmp_path / 'missing'}") is None  # loading it says why


def test_a_task_that_is_not_a_pytree_is_refused_with_the_fix(tmp_path):
    from dataclasses import dataclass

    import jax

    from tdca.credit import TDCA
    from tdca.evolution import ESConfig, Evolution
    from tdca.inner import InnerLoop
    from tdca.tasks import GaussianTask

    task = GaussianTask()

    @dataclass(frozen=True)
    class Plain:  # what a user writes first: a plain dataclass wrapping a task
        inner: GaussianTask

    tdca = TDCA.for_task(task, hidden=(4,))
    beta0 = tdca.init(jax.random.PRNGKey(1))
    evo = Evolution(InnerLoop(tdca, 2, 1.0), beta0, ESConfig(population=4))
    state = evo.init(jax.random.PRNGKey(0), beta0)
    with pytest.raises(TypeError, match=r"JAX pytree of arrays.*leaf of type Plain"):
        evo.step(state, Plain(task), jax.random.PRNGKey(2))
    state, _ = evo.step(state, task, jax.random.PRNGKey(2))  # the pytree task runs


def test_two_commands_cannot_write_one_run_directory_at_once(tmp_path):
    """A run directory is locked by the process writing it; the lock of a process that is
    gone is stale and taken over; the lock is removed when the process exits."""
    import subprocess
    import sys

    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"experiment": "gaussian"}))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from tdca.rundir import RunDir; RunDir({str(d)!r}, resume=True)"
            "; import time; print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=f"in use by process {holder.pid}"):
            RunDir(d, resume=True, kind="gaussian")
    finally:
        holder.kill()
        holder.wait()
    assert (d / ".lock").is_file()  # killed: its lock stays behind, stale
    RunDir(d, resume=True, kind="gaussian")  # taken over
    done = subprocess.run(
        [sys.executable, "-c", f"from tdca.rundir import RunDir; RunDir({str(tmp_path / 'b')!r})"],
        check=True,
    )
    assert done.returncode == 0 and not (tmp_path / "b" / ".lock").exists()  # released at exit


def test_invalid_api_settings_are_refused_not_run(tmp_path, capsys):
    """Settings that used to run silently wrong (NaN search widths, gradient ascent at a
    negative lr, a fractional step count) or fail deep inside JAX."""
    from tdca.credit import BP, register_learner
    from tdca.evolution import ESConfig
    from tdca.experiments.classification import EvolveConfig
    from tdca.inner import InnerLoop

    for bad in (
        {"sigma_init": float("nan")},
        {"learning_rate": float("inf")},
        {"std_max_change": -1.0},
        {"std_lr": -1.0},
        {"population": 8.0},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ESConfig(**bad)
    for bad in ({"lr": -10.0}, {"lr": 0.0}, {"lr": float("nan")}, {"steps": 2.5}):
        with pytest.raises(ValueError, match="inner-loop"):
            InnerLoop(BP(), **({"steps": 3} | bad))
    for name, build in (("five", 5), ("tdca", BP), ("zoo/x", BP), (" ", BP)):
        with pytest.raises(ValueError):
            register_learner(name, build)
    with pytest.raises(ValueError, match="given twice"):
        EvolveConfig(datasets=("mnist", "MNIST"))
    assert main(["reproduce", "table1", "--datasets", "cifar10", "--out", str(tmp_path / "a")]) == 2
    assert "table1 is MNIST with transfer" in capsys.readouterr().err
    s4 = tmp_path / "s4"
    assert main(["reproduce", "tableS4", "--out", str(s4)]) == 0
    capsys.readouterr()
    assert main(["reproduce", "table2", "--archs", "cnn", "--out", str(s4)]) == 2
    assert "holds the results of tableS4" in capsys.readouterr().err


def test_a_credit_network_for_other_classes_says_so(tmp_path):
    from tdca.credit.artifact import check_fits, load_credit_net
    from tdca.io import ArtifactError
    from tdca.networks import MLP
    from tdca.tasks import ClassificationTask

    strategy, _, _ = load_credit_net("zoo/mnist")
    x, y = np.zeros((6, 784), np.float32), np.arange(6) % 3
    task = ClassificationTask.create(x, y, MLP((784, 100, 3)), num_classes=3)
    with pytest.raises(ArtifactError, match=r"evolved for 10 classes .* this data set has 3"):
        check_fits(strategy, task, "zoo/mnist")


def test_train_inherits_the_precision_a_credit_network_was_evolved_at(
    tmp_path, capsys, monkeypatch
):
    import tdca.experiments.classification as cl

    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (60, 6, 6), dtype=np.uint8)
    y = np.arange(60) % 3
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    evo, run = tmp_path / "evo", tmp_path / "train"
    common = ["--dataset", f"npz:{data}", "--train-size", "40", "--steps", "3", "--lr", "0.1"]
    argv = ["evolve", *common, "--population", "4", "--generations", "1", "--no-progress"]
    assert main([*argv, "--precision", "bfloat16-activations", "--out", str(evo)]) == 0
    seen = []

    def spy(*args, **kwargs):  # what the training actually runs under, not what it records
        from tdca.precision import activation_dtype

        seen.append(str(activation_dtype()))
        return real(*args, **kwargs)

    real = cl.train_learner
    monkeypatch.setattr(cl, "train_learner", spy)
    assert main(["train", *common, "--learner", f"tdca:{evo}", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["precision"] == "bfloat16-activations"
    assert seen == ["bfloat16"]


def test_flat_feature_data_trains_an_mlp_and_the_cnn_is_refused(tmp_path, capsys):
    """A user's own tabular data (npz with x of shape (N, D)) trains the MLPs end to end;
    the CNN, which needs a spatial layout, is refused before a run folder is made."""
    rng = np.random.default_rng(0)
    centres = rng.random((3, 12))

    def draw(n):
        y = rng.integers(0, 3, n)
        return np.clip(centres[y] + 0.1 * rng.standard_normal((n, 12)), 0, 1), y

    (xtr, ytr), (xte, yte) = draw(300), draw(100)
    data = tmp_path / "tab.npz"
    np.savez(data, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    argv = ["train", "--dataset", f"npz:{data}", "--train-size", "200", "--steps", "40"]
    assert main([*argv, "--learner", "dfa", "--out", str(tmp_path / "dfa")]) == 0
    m = json.loads((tmp_path / "dfa" / "metrics.json").read_text())
    assert m["train_size"] == 200 and m["test_accuracy"] > 0.9  # well-separated classes
    capsys.readouterr()
    cnn = tmp_path / "cnn"
    assert main([*argv, "--learner", "bp", "--arch", "cnn", "--out", str(cnn)]) == 2
    assert "--arch cnn needs images" in capsys.readouterr().err
    assert not (cnn / "metrics.json").exists()


def test_a_stop_during_the_final_evaluation_says_how_to_finish(tmp_path, monkeypatch, capsys):
    """Ctrl-C/SIGTERM after the last generation (while the evolved network is evaluated)
    prints the resume command, and that command finishes the run without evolving again."""
    import tdca.experiments.classification as cl

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (60, 5, 5), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    out = tmp_path / "evo"
    argv = ["evolve", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--train-size", "30"]
    argv += ["--steps", "2", "--population", "4", "--generations", "2", "--lr", "0.1"]
    real = cl.train_learner

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cl, "train_learner", stopped)
    assert main([*argv, "--no-progress", "--out", str(out)]) == 130
    assert f"continue with: tdca evolve --resume {out}" in capsys.readouterr().err
    assert not (out / "metrics.json").exists()
    monkeypatch.setattr(cl, "train_learner", real)
    assert main(["evolve", "--resume", str(out), "--no-progress"]) == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # no generation rerun
    assert json.loads((out / "metrics.json").read_text())["evolution"]["generations"] == 2


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_temporary(tmp_path):
    """Results, checkpoints and caches all go through tdca.files.atomic_file."""
    from tdca.files import atomic_file
    from tdca.rundir import write_json_file

    target = write_json_file(tmp_path / "metrics.json", {"test_accuracy": 0.9})
    with pytest.raises(RuntimeError, match="killed"), atomic_file(target, "w") as f:
        f.write('{"test_accuracy": 0.')
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"test_accuracy": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert target.stat().st_mode & 0o777 == 0o644  # readable by the other users of a folder


def test_resuming_an_empty_folder_or_a_file_says_so_and_names_resume(tmp_path, capsys):
    empty = tmp_path / "e"
    empty.mkdir()
    assert main(["rl", "--resume", str(empty), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"--resume {empty}: the folder is empty: no run to resume" in err
    assert "stopped before its first generation" not in err
    assert list(empty.iterdir()) == []  # no log.txt left in it
    file = tmp_path / "f"
    file.write_text("")
    assert main(["rl", "--resume", str(file), "--no-progress"]) == 2
    assert f"--resume {file}: is a file, not a folder" in capsys.readouterr().err


def test_the_report_leaves_out_an_evolve_run_extended_and_stopped_before_its_end(tmp_path):
    from tdca.experiments.report import results_document, unused_run_dirs

    def evolve_run(name, configured, ran_for):
        d = tmp_path / name
        d.mkdir()
        cfg = {"experiment": "evolve-classification", "datasets": ["mnist"], "seed": 0}
        (d / "config.json").write_text(json.dumps({**cfg, "es": {"generations": configured}}))
        row = {"dataset": "mnist", "train_size": 30, "steps": 2, "lr": 0.1}
        row |= {"train_accuracy": 0.5, "test_accuracy": 0.4}
        evolution = {"generations": 40, "generations_configured": ran_for}
        (d / "metrics.json").write_text(json.dumps({"results": [row], "evolution": evolution}))
        return d

    stopped_early = evolve_run("timed", 60, 60)  # --time-limit: finished at 40 of its 60
    extended = evolve_run("ext", 2000, 60)
    unused = unused_run_dirs([stopped_early, extended])
    assert unused == [
        (
            extended,
            "unfinished: its metrics.json is from generation 40 of 2000 (config.json); "
            f"finish it with tdca evolve --resume {extended}",
        )
    ]
    doc = results_document([stopped_early, extended])
    assert f"`{stopped_early}`" in doc and f"`{extended}`" not in doc


def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path, monkeypatch, capsys):
    """bench, zoo verify and report find an unwritable --out before their minutes of work,
    not after (a read-only folder is simulated: root, as CI may run, ignores permission
    bits); a read-only run directory is said as such, not as a raw Errno 13."""
    import tempfile

    import tdca.bench
    import tdca.zoo.verify as zv
    from tdca import rundir

    worked = []
    monkeypatch.setattr(zv, "verify", lambda *a, **k: worked.append("verify") or [])
    monkeypatch.setattr(tdca.bench, "effective_matmul_inputs", lambda: worked.append("bench"))
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real = tempfile.NamedTemporaryFile

    def probe(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == read_only:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(rundir.tempfile, "NamedTemporaryFile", probe)
    assert main(["zoo", "verify", "mnist", "--out", str(read_only / "z.json")]) == 2
    assert f"cannot write in {read_only} (Permission denied)" in capsys.readouterr().err
    assert main(["bench", "--small", "--out", str(read_only)]) == 2
    assert f"--out {read_only}: cannot write in" in capsys.readouterr().err
    report = ["report", str(ROOT / "results" / "small" / "table1")]
    assert main([*report, "--out", str(read_only / "r.md")]) == 2
    assert not worked and not list(read_only.iterdir())

    def no_lock(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr("builtins.open", no_lock)
        with pytest.raises(RunDirError, match=r"ro: cannot write in it \(Permission denied\)"):
            rundir.claim(read_only)


def test_report_replaces_an_existing_page_only_when_named(tmp_path, monkeypatch, capsys):
    """`tdca report RUN` run where docs/results.md exists (this repository) does not
    replace that page, made of other runs, with one of RUN alone; naming it does."""
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "docs" / "results.md"
    report = ["report", str(ROOT / "results" / "small" / "table1")]
    assert main(report) == 0  # none yet: the default is written
    page.write_text(page.read_text() + "\nmade of other runs\n")
    before = page.read_text()
    assert main(report) == 2
    assert "give --out docs/results.md to replace it" in capsys.readouterr().err
    assert page.read_text() == before
    assert main([*report, "--out", "docs/results.md"]) == 0
    assert "made of other runs" not in page.read_text()


def test_a_stopped_evolution_given_as_a_credit_network_says_how_to_finish_it(tmp_path, capsys):
    """A run stopped before its end has a checkpoint but no credit_net.npz: `tdca train
    --learner tdca:RUN` and `tdca report RUN` say so and give the resume command, rather
    than 'no such file' or 'not a run directory'; a checkpoint given as the credit network
    and an empty tdca: are named as such."""
    from test_classification import _npz

    run = tmp_path / "stopped"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"experiment": "evolve-classification"}))
    (run / "checkpoint.npz").write_bytes(b"not read")
    (run / "metrics.jsonl").write_text('{"generation": 0}\n{"generation": 1}\n')
    spec = _npz(tmp_path / "d.npz", (6, 6))
    train = ["train", "--dataset", spec, "--train-size", "100", "--steps", "2", "--lr", "0.1"]
    for learner, said in [
        (
            f"tdca:{run}",
            f"stopped after 2 generation(s), before its end; finish it with `tdca "
            f"evolve --resume {run}`",
        ),
        (f"tdca:{run / 'checkpoint.npz'}", "an evolution's checkpoint, not a credit network"),
        ("tdca:", "no credit network given"),
    ]:
        assert main([*train, "--learner", learner, "--out", str(tmp_path / "t")]) == 2
        assert said in capsys.readouterr().err, learner
    assert not (tmp_path / "t").exists()
    assert main(["report", str(run), "--out", str(tmp_path / "r.md")]) == 2
    assert (
        f"stopped before its end (no metrics.json yet); finish it with tdca evolve --resume {run}"
        in capsys.readouterr().err
    )


def test_the_command_prints_the_librarys_warnings_in_one_line(tmp_path):
    """A warning of the library's under the tdca command reads as its notes do, one line
    ('tdca train: warning: ...'), not 'FILE:LINE: UserWarning: ...' and a source line;
    in a new process, as a user sees it (pytest records warnings instead of printing)."""
    import subprocess
    import sys

    plugin = tmp_path / "bp_clip.py"
    plugin.write_text(
        "from tdca.credit import BP, register_learner\n"
        "class ClippedBP(BP):\n    pass\n"
        "register_learner('bp-clip', lambda task: ClippedBP())\n"
    )
    from test_classification import _npz

    spec = _npz(tmp_path / "d.npz", (6, 6))
    argv = ["--plugin", str(plugin), "train", "--dataset", spec, "--learner", "bp-clip"]
    argv += ["--lr", "0.1", "--train-size", "90", "--steps", "2", "--out", str(tmp_path / "t")]
    done = subprocess.run(
        [sys.executable, "-m", "tdca", *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "bp-clip" in line]
    assert lines and lines[0].startswith("tdca train: warning: learner 'bp-clip' is backprop")
    assert "UserWarning" not in done.stderr and "learner_parts(" not in done.stderr


def test_once_the_command_is_done_a_ctrl_c_ends_it_without_a_traceback():
    """A second Ctrl-C while JAX's exit handlers ran printed their KeyboardInterrupt
    traceback after "interrupted; continue with ...". After the `tdca` command's work, Ctrl-C
    is the system's default (the process ends as 130); main() called from Python leaves a
    caller's handler alone."""
    import subprocess
    import sys

    code = (
        "import signal, sys\n"
        "from tdca.cli import main\n"
        "assert main(['zoo', 'list']) == 0\n"
        "print('kept', signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
        "sys.argv = ['tdca', 'zoo', 'list']\n"
        "assert main() == 0\n"
        "print('default', signal.getsignal(signal.SIGINT) is signal.SIG_DFL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith(("kept", "default"))]
    assert said == ["kept True", "default True"]


def test_a_dangling_link_and_a_config_folder_are_named_as_such(tmp_path):
    """--out a link to a folder that does not exist said "cannot create it (File exists)";
    a run directory whose config.json is a folder said there was no config.json."""
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(RunDirError, match=r"out: is a link to .*gone, which does not exist"):
        RunDir(link, kind="evolve-classification")
    run = tmp_path / "run"
    (run / "config.json").mkdir(parents=True)
    with pytest.raises(RunDirError, match=r"its config\.json is a folder, not the run's config"):
        RunDir(run, resume=True, kind="evolve-classification")


def test_a_ctrl_c_while_the_command_imports_stops_it_once_the_imports_are_done(capsys):
    """`tdca` imports JAX for about a second before its own Ctrl-C handling starts; a Ctrl-C
    then used to print a traceback from JAX's imports, or be lost in them (the command ran
    in full). Now it is noted, and the command stops after the imports, saying so."""
    from tdca.command import run

    ran = []

    def load_interrupted():  # a Ctrl-C arrives while the command is being imported
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs at the next bytecode
        return lambda: ran.append(True) or 0

    before = signal.getsignal(signal.SIGINT)
    assert run(load_interrupted) == 130 and not ran
    assert "interrupted while starting; nothing ran" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is the command's again
    assert run(lambda: lambda: ran.append(True) or 0) == 0 and ran  # else it just runs
    # An ignored SIGINT (a background job) stays ignored through the imports.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert run(load_interrupted) == 0
    finally:
        signal.signal(signal.SIGINT, before)
