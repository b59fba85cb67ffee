"""`tdca task NAME`: a task of the user's own, registered by the file `--plugin` imports,
evolved for from the shell into a run directory, compared with BP, FA and DFA, and resumed
from that directory alone (examples/blobs_task.py is the file)."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from tdca.cli import main
from tdca.credit.artifact import load_credit_net
from tdca.evolution import stream_key
from tdca.evolution.runner import read_history
from tdca.experiments.lr_grid import fitness_curves
from tdca.experiments.registered_task import (
    TEST_STREAM,
    TaskConfig,
    default_es,
    rate_grid,
    run_task,
)
from tdca.io import ArtifactError
from tdca.networks import MLP
from tdca.rundir import RunDirError
from tdca.tasks import TASKS, build_task, register_task
from tdca.tasks.registry import parse_option

BLOBS = str(Path(__file__).resolve().parents[1] / "examples" / "blobs_task.py")
SETTINGS = ["--lr", "0.5", "--steps", "5", "--credit-init", "dfa", "--credit-hidden", "16,16"]
SETTINGS += ["--generations", "3", "--population", "4", "--seeds", "2", "--option", "n=120"]


@pytest.fixture(scope="module")
def blobs_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("task") / "blobs"
    argv = ["--plugin", BLOBS, "task", "blobs", *SETTINGS, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return out


def _rows(run: Path) -> list[dict]:
    keep = ("generation", "centre_fitness", "best_fitness", "mean_fitness", "diverged")
    return [{k: r[k] for k in keep} for r in read_history(run)]


def test_a_registered_task_is_evolved_for_and_compared_with_bp_fa_and_dfa(blobs_run, capsys):
    config = json.loads((blobs_run / "config.json").read_text())
    assert config["experiment"] == "task" and config["task"] == "blobs"
    assert config["options"] == {"n": 120} and config["plugins"] == [BLOBS]
    assert config["es"]["sigma_init"] == 0.003  # the DFA-like start's narrow search
    m = json.loads((blobs_run / "metrics.json").read_text())
    assert m["evolution"]["generations"] == 3 and len(read_history(blobs_run)) == 3
    assert set(m["learners"]) == {"bp", "fa", "dfa", "tdca", "tdca_start"}
    assert m["baselines_not_run"] == {}
    assert m["learners"]["bp"]["init"] == "kaiming"  # backprop's own start, not the zeros
    assert m["learners"]["dfa"]["init"] == "zero"
    for name, r in m["learners"].items():
        assert len(r["fitness_per_seed"]) == 2 and len(r["curve_mean"]) == 6
        assert r["fitness_mean"] > r["start_fitness_mean"] + 0.3, name  # each one trains
    for name in ("bp", "fa", "dfa"):  # picked on validation seeds from the grid around --lr
        assert set(rate_grid(0.5)) <= set(map(float, m["learners"][name]["lr_grid_validation"]))
        assert m["learners"][name]["lr"] in map(float, m["learners"][name]["lr_grid_validation"])
    assert m["learners"]["tdca"]["lr"] == 0.5
    # The full-batch task with a zero start gives TDCA the same number on every test seed;
    # DFA draws its feedback matrices per seed, so its spread includes theirs.
    assert m["learners"]["tdca"]["fitness_std"] == 0.0
    assert m["learners"]["dfa"]["fitness_std"] > 0.0
    for figure in ("fitness.png", "learners.png"):
        assert (blobs_run / figure).stat().st_size > 1000


def test_the_credit_network_loads_for_its_task_and_not_for_a_classifier(blobs_run):
    strategy, beta, meta = load_credit_net(blobs_run, task="blobs")
    assert meta["task_name"] == "blobs" and meta["options"] == {"n": 120}
    assert strategy.net.sizes == (6, 16, 16, 19)  # reads [p, onehot(y)], credits 16 + 3
    # From Python, it trains the task as the run measured it on its test seeds.
    task = build_task("blobs", meta["options"])
    keys = jax.random.split(stream_key(0, TEST_STREAM), 2)
    curves = fitness_curves(strategy, beta, task, meta["steps"], (meta["lr"],), keys, "sgd")
    tdca = json.loads((blobs_run / "metrics.json").read_text())["learners"]["tdca"]
    assert curves[0, :, -1].tolist() == pytest.approx(tdca["fitness_per_seed"], rel=1e-6)
    with pytest.raises(ArtifactError, match="cannot train a classifier"):
        load_credit_net(blobs_run)
    with pytest.raises(ArtifactError, match="evolved for the task 'blobs', not 'other'"):
        load_credit_net(blobs_run, task="other")
    # the command that trains classifiers says so too, instead of a shape error
    argv = ["train", "--dataset", "mnist", "--learner", f"tdca:{blobs_run}", "--out", "x"]
    assert main(argv) == 2


def test_an_interrupted_run_resumes_in_a_new_process_from_its_directory_alone(blobs_run, tmp_path):
    cfg = TaskConfig(
        task="blobs",
        lr=0.5,
        options={"n": 120},
        steps=5,
        credit_init="dfa",
        credit_hidden=(16, 16),
        seeds=2,
        plugins=(BLOBS,),
        es=replace(default_es("dfa"), population=4, generations=3),
    )
    out = tmp_path / "stopped"
    assert run_task(cfg, out, stop_after=2, progress=False) is None
    assert len(read_history(out)) == 2 and not (out / "metrics.json").exists()
    (out / ".lock").unlink()  # held by this process until it exits, as the command's would be
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(  # no --plugin: the run recorded it
        [sys.executable, "-m", "tdca", "task", "--resume", str(out), "--no-progress"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "tdca " in done.stdout and "dfa" in done.stdout
    assert _rows(out) == _rows(blobs_run)  # bit for bit the uninterrupted run
    _, resumed, _ = load_credit_net(out, task="blobs")
    _, whole, _ = load_credit_net(blobs_run, task="blobs")
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(whole), strict=True):
        np.testing.assert_array_equal(a, b)
    m_resumed = json.loads((out / "metrics.json").read_text())["learners"]
    m_whole = json.loads((blobs_run / "metrics.json").read_text())["learners"]
    assert m_resumed == m_whole
    # From Python, a resume given the config with more generations extends the run to them.
    more = run_task(
        replace(cfg, es=replace(cfg.es, generations=4)),
        out,
        resume=True,
        progress=False,
        make_figures=False,
    )
    assert more["evolution"]["generations"] == 4 and len(read_history(out)) == 4


def _tdca(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command in a new process, as a shell starts it (its registrations are its own)."""
    return subprocess.run(
        [sys.executable, "-m", "tdca", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )


def test_a_run_whose_plugin_moved_resumes_with_the_new_place_and_records_it(tmp_path):
    first, second = tmp_path / "a" / "blobs.py", tmp_path / "b" / "blobs.py"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text(Path(BLOBS).read_text())
    small = ["--lr", "1", "--steps", "2", "--generations", "1", "--population", "2"]
    small += ["--seeds", "1", "--baselines", "sign-dfa,dfa", "--no-progress"]
    learner = str(Path(BLOBS).parent / "sign_dfa.py")  # a learner of one's own, as a baseline
    plugins = ["--plugin", str(first), "--plugin", learner]
    done = _tdca(*plugins, "task", "blobs", *small, "--out", "r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first.rename(second)
    done = _tdca(
        "--plugin",
        str(second),
        "task",
        "--resume",
        "r",
        "--generations",
        "2",
        "--no-progress",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "not the code" not in done.stderr  # the same file, by content, elsewhere
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    # the learner's plugin, recorded, was imported again; the task's is at its new place
    assert config["plugins"] == [str(second), learner] and config["es"]["generations"] == 2
    assert "sign-dfa" in json.loads((tmp_path / "r" / "metrics.json").read_text())["learners"]
    assert len(read_history(tmp_path / "r")) == 2


def test_a_resume_whose_plugin_has_moved_says_where_to_give_it(blobs_run, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("config.json", "checkpoint.npz", "metrics.jsonl", "log.txt"):
        (moved / name).write_bytes((blobs_run / name).read_bytes())
    config = json.loads((moved / "config.json").read_text())
    config |= {"task": "blobs-elsewhere", "plugins": [str(tmp_path / "gone.py")]}
    (moved / "config.json").write_text(json.dumps(config))
    said = r"gone.py: no such file\)\. Give the file that registers it where it is now: tdca"
    with pytest.raises(RunDirError, match=said):
        run_task(None, moved, resume=True, progress=False)


@struct.dataclass
class _NoTaps:
    """A task with only what TDCA needs: no loss (BP) and no taps_and_error (FA, DFA)."""

    x: jax.Array
    model: MLP = struct.field(pytree_node=False)
    name: str = struct.field(pytree_node=False, default="no-taps")

    @property
    def credit_input_dim(self) -> int:
        return 2

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units

    def init_params(self, key):
        return self.model.init(key, "zero")

    def batch(self, key, step):
        return self.x

    def credit_state(self, theta, x):
        out, taps = self.model.forward(theta, x)
        return jnp.concatenate([out, jnp.ones_like(out)], -1), taps

    def apply_credits(self, theta, aux, credits):
        return self.model.local_update(aux, credits)

    def fitness(self, theta, key):  # how close the output gets to 1
        return -jnp.mean((self.model.apply(theta, self.x) - 1.0) ** 2)


@struct.dataclass
class _NoLoss:
    """A layered task without ``loss`` (FA and DFA need none), whose start is a class
    attribute rather than a field (so no learner can be given another)."""

    x: jax.Array
    y: jax.Array
    model: MLP = struct.field(pytree_node=False)
    name: str = struct.field(pytree_node=False, default="no-loss")
    init_scheme = "zero"

    @property
    def credit_input_dim(self) -> int:
        return 2

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units

    def init_params(self, key):
        return self.model.init(key, self.init_scheme)

    def batch(self, key, step):
        return self.x, self.y

    def taps_and_error(self, theta, batch):
        out, taps = self.model.forward(theta, batch[0])
        return taps, batch[1] - out

    def credit_state(self, theta, batch):
        out, taps = self.model.forward(theta, batch[0])
        return jnp.concatenate([out, batch[1]], -1), taps

    def apply_credits(self, theta, aux, credits):
        return self.model.local_update(aux, credits)

    def fitness(self, theta, key):
        return -jnp.mean((self.model.apply(theta, self.x) - self.y) ** 2)


def _no_loss(width: int = 2) -> _NoLoss:
    x = jax.random.normal(jax.random.PRNGKey(3), (16, 3))
    task = _NoLoss(x, jnp.tanh(x[:, :1] - x[:, 1:2]), MLP((3, 4, 1)))
    if width != 2:  # a credit_input_dim its credit_state does not give
        return _Wider(task.x, task.y, task.model, width=width)
    return task


@struct.dataclass
class _Kaiming(_NoLoss):
    init_scheme: str = struct.field(pytree_node=False, default="kaiming")


@struct.dataclass
class _BadTaps(_NoLoss):
    def taps_and_error(self, theta, batch):  # an error two outputs wide for one output
        taps, err = super().taps_and_error(theta, batch)
        return taps, jnp.concatenate([err, err], -1)


@struct.dataclass
class _PerExample(_NoLoss):
    def fitness(self, theta, key):  # one number per example: not a fitness
        return -((self.model.apply(theta, self.x) - self.y) ** 2)[:, 0]


@struct.dataclass
class _Wider(_NoLoss):
    width: int = struct.field(pytree_node=False, default=2)

    @property
    def credit_input_dim(self) -> int:
        return self.width


def test_fa_and_dfa_train_a_task_without_loss_from_the_start_it_has(tmp_path):
    TASKS.pop("no-loss-test", None)
    register_task("no-loss-test", _no_loss)
    try:
        argv = ["task", "no-loss-test", "--lr", "0.3", "--steps", "3", "--generations", "1"]
        argv += ["--population", "2", "--seeds", "2", "--credit-init", "dfa"]
        argv += ["--out", str(tmp_path / "r"), "--no-progress"]
        assert main(argv) == 0
        m = json.loads((tmp_path / "r" / "metrics.json").read_text())
        assert set(m["learners"]) == {"fa", "dfa", "tdca", "tdca_start"}
        assert m["baselines_not_run"] == {"bp": "the task has no loss"}
        for name in ("fa", "dfa"):  # trained, from the zero start the class attribute says
            r = m["learners"][name]
            assert r["init"] == "zero" and r["fitness_mean"] > r["start_fitness_mean"]
    finally:
        TASKS.pop("no-loss-test", None)


def test_every_learner_but_backprop_trains_from_the_tasks_own_start():
    """A ReLU network, say, cannot start from zeros: the task says kaiming, and FA and DFA
    train from there as the credit network does; BP is given its own start only where the
    task's is all zeros."""
    from tdca.experiments.registered_task import _baseline

    task = _Kaiming(*_no_loss().__dict__.values())
    for name in ("fa", "dfa"):
        _, trained, start = _baseline(name, task)
        assert trained.init_scheme == start == "kaiming"
    assert _baseline("bp", task) == "the task has no loss"


def test_a_baseline_that_fails_on_the_task_is_left_out_saying_why(tmp_path):
    TASKS.pop("bad-taps-test", None)
    register_task("bad-taps-test", lambda: _BadTaps(*_no_loss().__dict__.values()))
    try:
        argv = ["task", "bad-taps-test", "--lr", "0.3", "--steps", "2", "--generations", "1"]
        argv += ["--population", "2", "--seeds", "1", "--baselines", "dfa"]
        assert main([*argv, "--out", str(tmp_path / "r"), "--no-progress"]) == 0
        m = json.loads((tmp_path / "r" / "metrics.json").read_text())
        assert m["baselines_not_run"]["dfa"].startswith("failed: TypeError")
        assert set(m["learners"]) == {"tdca", "tdca_start"}
    finally:
        TASKS.pop("bad-taps-test", None)


def test_a_task_whose_parts_do_not_fit_is_refused_before_its_folder_is_made(tmp_path, capsys):
    TASKS.pop("wider-test", None)
    TASKS.pop("per-example-test", None)
    register_task("wider-test", _no_loss)
    register_task("per-example-test", lambda: _PerExample(*_no_loss().__dict__.values()))
    out = ["--no-progress", "--out", str(tmp_path / "r")]
    try:
        argv = ["task", "wider-test", "--lr", "0.3", "--option", "width=5"]
        assert main([*argv, *out]) == 2
        said = capsys.readouterr().err
        assert "one inner loop of it fails" in said and "credit_input_dim" in said
        assert main([*argv, "--credit-init", "dfa", *out]) == 2
        said = capsys.readouterr().err
        assert "twice the output's 1 units; task 'wider-test' gives it 5" in said
        assert main(["task", "per-example-test", "--lr", "0.3", *out]) == 2
        assert "gives shape (16,); average it over examples" in capsys.readouterr().err
        assert not (tmp_path / "r").exists()
        small = ["--generations", "1", "--population", "2", "--seeds", "1"]
        assert main(["task", "wider-test", "--lr", "0.3", *small, *out]) == 0  # width 2 fits
    finally:
        TASKS.pop("wider-test", None)
        TASKS.pop("per-example-test", None)


PLUGIN = """
import numpy as np
import jax.numpy as jnp
from tdca.tasks import register_task
import sys
sys.path.insert(0, {tests!r})
from test_task_command import _NoLoss
from tdca.networks import MLP


def build(path: str):
    with np.load(path) as d:
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
    return _NoLoss(x, y, MLP((3, 4, 1)))


register_task("file-data-test", build)
"""


def test_a_resume_on_data_that_changed_is_refused(tmp_path):
    data = tmp_path / "data.npz"
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    np.savez(data, x=x, y=np.tanh(x[:, :1]))
    plugin = tmp_path / "file_task.py"
    plugin.write_text(PLUGIN.format(tests=str(Path(__file__).parent)))
    argv = ["--plugin", str(plugin), "task", "file-data-test", "--lr", "0.3", "--steps", "2"]
    argv += ["--option", f"path={data}", "--generations", "1", "--population", "2"]
    argv += ["--seeds", "1", "--baselines", "dfa", "--no-progress"]
    try:
        assert main([*argv, "--out", str(tmp_path / "r")]) == 0
        (tmp_path / "r" / ".lock").unlink()  # this process's, until it exits
        np.savez(data, x=x, y=np.tanh(x[:, 1:2]))  # other targets under the same name
        with pytest.raises(RunDirError, match="not the one this run started on"):
            run_task(None, tmp_path / "r", resume=True, extend_to=2, progress=False)
        np.savez(data, x=x, y=np.tanh(x[:, :1]))  # the data it started on
        assert run_task(None, tmp_path / "r", resume=True, extend_to=2, progress=False)
        assert len(read_history(tmp_path / "r")) == 2
    finally:
        TASKS.pop("file-data-test", None)


def test_a_baseline_the_task_cannot_run_is_left_out_saying_why(tmp_path, capsys):
    name = "no-taps-test"
    TASKS.pop(name, None)
    register_task(name, lambda: _NoTaps(jnp.ones((8, 3)), MLP((3, 4, 1))))
    try:
        argv = ["task", name, "--lr", "0.1", "--steps", "3", "--generations", "1"]
        argv += ["--population", "2", "--seeds", "1", "--out", str(tmp_path / "r"), "--no-progress"]
        assert main(argv) == 0
        m = json.loads((tmp_path / "r" / "metrics.json").read_text())
        assert set(m["learners"]) == {"tdca", "tdca_start"}
        assert m["learners"]["tdca"]["init"] == "the task's own"  # no init_scheme to read
        assert m["baselines_not_run"]["bp"] == "the task has no loss"
        assert "taps_and_error" in m["baselines_not_run"]["dfa"]
        assert "dfa        not run:" in capsys.readouterr().out
    finally:
        TASKS.pop(name, None)


def test_the_registry_refuses_names_tasks_and_options_that_cannot_work():
    with pytest.raises(ValueError, match="library's own tasks"):
        register_task("classification", lambda: None)
    with pytest.raises(ValueError, match="one non-empty word"):
        register_task("two words", lambda: None)
    TASKS.pop("reg-test", None)
    register_task("reg-test", lambda size=3: object() if size == 0 else [size])
    try:
        with pytest.raises(ValueError, match="registered already"):
            register_task("reg-test", lambda: None)
        with pytest.raises(ValueError, match=r"takes no option width \(its options: size\)"):
            build_task("reg-test", {"width": 2})
        with pytest.raises(ValueError, match="lacks name, credit_input_dim"):
            build_task("reg-test", {"size": 0})
    finally:
        TASKS.pop("reg-test", None)
    with pytest.raises(ValueError, match=r"unknown task 'rl' .*tdca rl"):
        build_task("rl")
    TASKS.pop("needs-test", None)
    register_task("needs-test", lambda n, scale=1.0: 1 / (n - n))
    try:
        with pytest.raises(ValueError, match=r"needs the options n \(--option n=VALUE\)"):
            build_task("needs-test")
        with pytest.raises(ValueError, match=r"takes no option m \(its options: n, scale\)"):
            build_task("needs-test", {"n": 1, "m": 2})
        raised = r"building it raised ZeroDivisionError.*\(at .*test_task_command.py:"
        with pytest.raises(ValueError, match=raised):
            build_task("needs-test", {"n": 1})
    finally:
        TASKS.pop("needs-test", None)


def test_a_task_with_a_text_leaf_is_refused_before_any_compilation():
    @struct.dataclass
    class TextLeaf(_NoLoss):
        scheme: str = "zero"  # not static: a leaf JAX cannot trace

    TASKS.pop("text-test", None)
    register_task("text-test", lambda: TextLeaf(*_no_loss().__dict__.values()))
    try:
        with pytest.raises(ValueError, match="has a leaf of type str"):
            build_task("text-test")
    finally:
        TASKS.pop("text-test", None)


def test_a_task_that_is_not_a_pytree_is_refused_before_any_compilation():
    class Plain:
        credit_input_dim, credit_units = 2, (1,)

        def __getattr__(self, name):  # every method the inner loop would call
            return lambda *a: None

    TASKS.pop("plain-test", None)
    register_task("plain-test", Plain)
    try:
        with pytest.raises(ValueError, match=r"not a JAX pytree.*flax\.struct\.dataclass"):
            build_task("plain-test")
    finally:
        TASKS.pop("plain-test", None)


def test_options_are_read_as_json_where_they_are_json():
    assert parse_option("n=300") == ("n", 300)
    assert parse_option("rate=0.5") == ("rate", 0.5)
    assert parse_option("sizes=[8, 16]") == ("sizes", [8, 16])
    assert parse_option("flag=true") == ("flag", True)
    assert parse_option("kind=spiral") == ("kind", "spiral")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_option("no-equals")
    with pytest.raises(ValueError, match="NaN is not a number a run can record"):
        parse_option("noise=NaN")
    with pytest.raises(ValueError, match="not a number a run can record"):
        parse_option("scale=[1, 1e400]")  # read as inf, which config.json cannot keep
    assert rate_grid(0.5) == (0.05, 0.15, 0.5, 1.5, 5.0)


@pytest.mark.parametrize(
    "argv, said",
    [
        (["evolve", "--task", "blobs", "--out", "x"], "evolved by tdca --plugin FILE task blobs"),
        (["task", "blobs", "--out", "x"], "give --lr"),
        (["task", "--out", "x", "--lr", "1"], "name the task"),
        (["task", "blobs", "--resume", "x"], "give no NAME"),
        (["task", "nope", "--lr", "1", "--out", "x"], "unknown task 'nope'"),
        (["task", "--lr", "1", "--option", "n=2"], "give --out DIR"),
        (["task", "--steps", "5"], "give --out DIR"),
        (
            ["task", "blobs", "--lr", "1", "--option", "n=2", "--option", "n=3", "--out", "x"],
            "--option n is given twice",
        ),
        (["task", "blobs", "--baselines", "dfa,nope", "--lr", "1", "--out", "x"], "unknown: nope"),
    ],
)
def test_the_task_command_refuses_what_cannot_work(argv, said, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    assert code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_the_report_tabulates_a_task_run_and_its_command_remakes_the_config(blobs_run):
    """`tdca report DIR` on a `tdca task` run: a table of its learners, and the command
    line shown parses back into the config the run saved."""
    import shlex

    from tdca.cli import build_parser, task_config
    from tdca.experiments.report import results_document

    doc = results_document([blobs_run])
    assert "## Tasks of one's own (`tdca task`)" in doc and "Not run yet" not in doc
    assert "scale small" not in doc  # the notes on the papers' tables are for tables only
    m = json.loads((blobs_run / "metrics.json").read_text())
    for name, r in m["learners"].items():
        assert f"| {name} | {r['fitness_mean']:.4g} ± {r['fitness_std']:.2g} " in doc
    (line,) = [x for x in doc.splitlines() if x.startswith("` tdca --plugin")]
    command = line[2 : line.index(" --out ")]
    args = build_parser().parse_args([*shlex.split(command)[1:], "--out", "elsewhere"])
    saved = TaskConfig.from_dict(json.loads((blobs_run / "config.json").read_text()))
    assert task_config(args) == saved


def test_the_reported_command_line_parses_back_into_the_config_exactly():
    """Every number as Python's shortest exact form, every word quoted for the shell."""
    import shlex

    from tdca.cli import build_parser, task_config
    from tdca.experiments.registered_task import command_line

    cfg = TaskConfig(
        task="blobs",
        lr=0.123456789,
        options={"label": "two words, 'quoted' $x", "sizes": [8, 16], "rate": 1e-07},
        baselines=(),
        credit_hidden=(7, 5),
        layout="line:4",
        plugins=(BLOBS,),
        es=replace(default_es(), sigma_init=0.0123456789, learning_rate=0.00123456789),
    )
    command = command_line(cfg.to_dict())
    args = build_parser().parse_args([*shlex.split(command)[1:], "--out", "x"])
    assert task_config(args) == cfg


def test_a_task_digest_without_modules_is_the_same_class_from_another_module():
    from tdca.evolution import processes

    def task_class(module: str):
        @struct.dataclass
        class Points:
            x: jax.Array

        Points.__module__ = module  # the same file, imported as a module or by its path
        return Points

    x = jnp.arange(3.0)
    a, b = task_class("my_tasks")(x), task_class("tdca_plugin_0123456789ab")(x)
    assert processes.tree_digest(a, modules=False) == processes.tree_digest(b, modules=False)
    assert processes.tree_digest(a) != processes.tree_digest(b)
    other = task_class("my_tasks")(x + 1)  # other data: another task
    assert processes.tree_digest(other, modules=False) != processes.tree_digest(a, modules=False)


def test_a_task_config_made_in_python_is_what_the_command_would_make_and_keeps():
    from tdca.experiments.registered_task import summary_lines

    dfa = TaskConfig(task="blobs", lr=1.5, credit_init="dfa")
    assert dfa.es == default_es("dfa")  # the narrow search around the DFA-like start
    assert TaskConfig(task="blobs", lr=np.float32(0.5)).lr == 0.5  # kept as JSON keeps it
    for bad in (
        {"lr": True},
        {"options": {"sizes": (8, 16)}},
        {"options": {"x": float("nan")}},
        {"es": {"population": 4}},
    ):
        with pytest.raises(ValueError):
            TaskConfig(**{"task": "blobs", "lr": 1.0, **bad})
    metrics = {
        "task": "t",
        "steps": 1,
        "optimizer": "sgd",
        "seeds": 1,
        "baselines_not_run": {},
        "learners": {
            "dfa": {
                "fitness_mean": None,
                "fitness_std": None,
                "start_fitness_mean": -1.0,
                "lr": 0.1,
            }
        },
    }
    assert "nan" in summary_lines(metrics)[1]  # a diverged learner, as metrics.json keeps it


def test_a_new_run_without_a_config_leaves_no_folder(tmp_path):
    with pytest.raises(ValueError, match="a new run needs a config"):
        run_task(None, tmp_path / "r")
    assert not (tmp_path / "r").exists()
