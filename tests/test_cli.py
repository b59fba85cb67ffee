"""Bad command lines fail with one clear line; good ones write a run directory."""

import pytest

from tdca.cli import main


def _fails(capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert match in err, err


def test_argument_validation(capsys, tmp_path):
    out = str(tmp_path / "run")
    _fails(capsys, ["gaussian", "--out", out, "--population", "7"], "even number")
    _fails(capsys, ["gaussian", "--out", out, "--generations", "0"], "positive integer")
    _fails(capsys, ["gaussian", "--out", out, "--generations", "ten"], "positive integer")
    _fails(capsys, ["gaussian", "--out", out, "--seed", "-3"], "seed must be")
    _fails(capsys, ["gaussian"], "one of the arguments --out --resume is required")
    _fails(capsys, ["gaussian", "--out", out, "--resume", out], "not allowed with")
    _fails(capsys, ["frobnicate"], "invalid choice")
    for bad in ("0", "-2", "half", "2.5"):
        _fails(capsys, ["evolve", "--out", out, "--chunk-size", bad], "auto, none or a positive")


def test_unusable_directories_are_refused(capsys, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.txt").write_text("keep me")
    assert main(["gaussian", "--out", str(full), "--generations", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (full / "x.txt").read_text() == "keep me"

    assert main(["gaussian", "--resume", str(tmp_path / "nope")]) == 2
    assert "no config.json" in capsys.readouterr().err

    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["gaussian", "--out", str(afile)]) == 2
    assert f"{afile}: is a file, not a folder" in capsys.readouterr().err


def test_gaussian_command_writes_a_run_directory_and_resumes(capsys, tmp_path):
    out = tmp_path / "g"
    argv = [
        "gaussian",
        "--out",
        str(out),
        "--generations",
        "4",
        "--population",
        "8",
        "--steps",
        "10",
        "--no-progress",
    ]
    assert main(argv) == 0
    for name in (
        "config.json",
        "metrics.json",
        "metrics.jsonl",
        "log.txt",
        "checkpoint.npz",
        "credit_net.npz",
        "trajectory.png",
        "fields.png",
        "fitness.png",
    ):
        assert (out / name).is_file(), name
    assert "wrote" in capsys.readouterr().out
    # Resuming a finished run extends it when asked for more generations.
    assert main(["gaussian", "--resume", str(out), "--generations", "6", "--no-progress"]) == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6
    capsys.readouterr()
    # A flag that a resumed run would not apply is refused, not dropped.
    assert main(["gaussian", "--resume", str(out), "--steps", "20", "--no-progress"]) == 2
    assert "--steps would be ignored" in capsys.readouterr().err
    # --generations extends a run, never shortens it.
    assert main(["gaussian", "--resume", str(out), "--generations", "3", "--no-progress"]) == 2
    assert "would shorten it" in capsys.readouterr().err
    # A caller's own config must be the saved one (up to the generation count).
    from tdca.experiments.gaussian import GaussianConfig, run_gaussian
    from tdca.rundir import RunDirError

    with pytest.raises(RunDirError, match=r"started with another config.*steps"):
        run_gaussian(GaussianConfig(steps=20), out, resume=True, progress=False)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 6  # nothing was run
