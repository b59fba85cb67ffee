"""The files in examples/ are what README points a researcher to for extending tdca: each
runs here as its docstring says, so they cannot drift from the library."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

from test_classification import _npz

from tdca.credit import LEARNERS
from tdca.credit.artifact import load_credit_net
from tdca.experiments.classification import make_split, train_learner

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """A new process, as a user's shell would start it (its registrations are its own)."""
    done = subprocess.run(
        [sys.executable, *argv], cwd=cwd, capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_network_and_learner_plugins_train_evolve_and_resume_from_the_shell(tmp_path):
    spec = _npz(tmp_path / "d.npz", (8, 8))
    net, learner = str(EXAMPLES / "arctan_network.py"), str(EXAMPLES / "sign_dfa.py")
    tdca = ["-m", "tdca.cli", "--plugin", net, "--plugin", learner]
    data = ["--dataset", spec, "--train-size", "200", "--lr", "0.3"]
    train = [*data, "--steps", "30", "--arch", "atan-64-32", "--learner", "sign-dfa"]
    _run(*tdca, "train", *train, "--out", "sd", cwd=tmp_path)
    metrics = json.loads((tmp_path / "sd" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5  # ten learnable prototypes; chance is 0.1
    config = json.loads((tmp_path / "sd" / "config.json").read_text())
    assert config["learner"] == "sign-dfa" and config["arch"] == "atan-64-32"

    evolve = [*data, "--steps", "5", "--population", "4", "--generations", "2", "--no-progress"]
    _run(*tdca, "evolve", "--arch", "atan-64-32", *evolve, "--out", "evo", cwd=tmp_path)
    resume = ["evolve", "--resume", "evo", "--generations", "3", "--no-progress"]
    _run("-m", "tdca.cli", *resume, cwd=tmp_path)  # no --plugin: the run recorded it
    strategy, _, meta = load_credit_net(tmp_path / "evo")
    assert meta["generations"] == 3 and tuple(strategy.layout.units) == (64, 32, 10)


def test_the_learner_plugin_from_python_as_its_docstring_says(tmp_path):
    spec = _npz(tmp_path / "d.npz", (8, 8))
    try:
        runpy.run_path(str(EXAMPLES / "sign_dfa.py"))
        result = train_learner("sign-dfa", make_split(spec, None, 200), steps=20, lr=0.3)
        assert result["test_accuracy"] > 0.5  # chance is 0.1
    finally:
        LEARNERS.pop("sign-dfa", None)  # as in a new process


def test_the_custom_task_evolves_saves_its_credit_network_and_resumes(tmp_path):
    script = str(EXAMPLES / "blobs_task.py")
    first = _run(script, "--out", "blobs", "--generations", "2", "--population", "4", cwd=tmp_path)
    more = ["--resume", "--generations", "3", "--population", "4"]
    done = _run(script, "--out", "blobs", *more, cwd=tmp_path)
    _, _, meta = load_credit_net(tmp_path / "blobs" / "credit_net.npz")
    assert meta["generations"] == 3
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    dfa = float(lines["DFA"].split("accuracy ")[1].rstrip("%"))
    start = float(lines["TDCA at its start"].split("accuracy ")[1].rstrip("%"))
    assert dfa > 60 and start > 60  # both learn the blobs (chance: 33%)
    assert "TDCA after 2 generations" in first.stdout
