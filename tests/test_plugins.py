"""`tdca --plugin FILE`: a network or learner of the user's, in one file, used from the shell
command with no wrapper script, and an evolution for it resumed from its run directory alone."""

import json
import os
import runpy
import sys
import warnings

import pytest
from test_classification import _npz

from tdca import plugins
from tdca.cli import main
from tdca.credit import LEARNERS
from tdca.credit.artifact import load_credit_net
from tdca.experiments.classification import EvolveConfig, run_evolve
from tdca.networks import ARCHITECTURES
from tdca.plugins import PluginError, digest, load_plugin

PLUGIN = '''
"""A user's file: a softsign network and a learner, registered under names of its own."""
import jax
import jax.numpy as jnp

from tdca.credit import DFA, register_learner
from tdca.networks import MLP, register_arch


class SoftsignMLP(MLP):
    def activation(self, z):
        return jax.nn.soft_sign(z)

    def hidden_prime(self, z):
        return 1.0 / (1.0 + jnp.abs(z)) ** 2


register_arch("{arch}", lambda ds: SoftsignMLP((ds.input_dim, 40, ds.num_classes)))
register_learner("{learner}", DFA.for_task)
'''


@pytest.fixture
def plugin(tmp_path, request):
    """A plugin file with names unique to the test; forgotten afterwards, as in a new process."""
    arch, learner = f"soft-{request.node.name[-12:]}", f"dfa-{request.node.name[-12:]}"
    path = tmp_path / "my_nets.py"
    path.write_text(PLUGIN.format(arch=arch, learner=learner))
    yield path, arch, learner
    _forget(path, arch, learner)


def _forget(path, arch, learner):
    """What a new process would not know: the registrations and the imported module."""
    ARCHITECTURES.pop(arch, None)
    LEARNERS.pop(learner, None)
    for name, module in list(sys.modules.items()):
        if name.startswith("tdca_plugin_") and getattr(module, "__file__", None) == str(path):
            del sys.modules[name]
    if str(path.resolve()) in plugins._LOADED:
        plugins._LOADED.remove(str(path.resolve()))
    plugins._BY_SOURCE.pop(str(path.resolve()), None)


def _evolved_with_plugin(tmp_path, path, arch):
    """(data spec, run directory) of a 2-generation `tdca --plugin PATH evolve --arch ARCH`."""
    spec = _npz(tmp_path / "d.npz", (8, 8))
    run = tmp_path / "e"
    argv = ["--plugin", str(path), "evolve", "--dataset", spec, "--arch", arch, "--lr", "1"]
    argv += ["--train-size", "200", "--steps", "5", "--generations", "2", "--population", "4"]
    assert main([*argv, "--no-progress", "--out", str(run)]) == 0
    return spec, run


def test_a_plugin_network_evolves_resumes_and_trains_from_the_shell(tmp_path, plugin, capsys):
    path, arch, learner = plugin
    spec, run = _evolved_with_plugin(tmp_path, path, arch)
    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == arch and config["plugins"] == [str(path.resolve())]
    strategy, _, _ = load_credit_net(run)
    assert tuple(strategy.layout.units) == (40, 10)  # the plugin's network, not mlp-100

    # A new process: nothing registered. The resume imports the recorded plugin itself.
    _forget(path, arch, learner)
    argv = ["evolve", "--resume", str(run), "--generations", "3", "--no-progress"]
    assert main(argv) == 0
    assert json.loads((run / "metrics.json").read_text())["evolution"]["generations"] == 3
    assert arch in ARCHITECTURES

    # `--plugin` after the command word works too; the learner it registers is accepted,
    # and a credit network evolved for its network trains that network by default.
    _forget(path, arch, learner)
    train = ["train", "--plugin", str(path), "--dataset", spec, "--train-size", "200"]
    train += ["--steps", "5", "--lr", "1.0"]
    assert main([*train, "--learner", learner, "--arch", arch, "--out", str(tmp_path / "t")]) == 0
    saved = json.loads((tmp_path / "t" / "config.json").read_text())
    assert saved["plugins"] == [str(path.resolve())] and saved["arch"] == arch
    assert saved["plugin_digests"] == {str(path.resolve()): digest(str(path))}  # as evolve's
    capsys.readouterr()
    assert main([*train, "--learner", f"tdca:{run}", "--out", str(tmp_path / "u")]) == 0
    assert json.loads((tmp_path / "u" / "config.json").read_text())["arch"] == arch
    assert "other code" not in capsys.readouterr().err  # the code it was evolved with
    meta = load_credit_net(run)[2]
    assert meta["plugin_digests"] == {str(path.resolve()): digest(str(path))}
    assert meta["code_version"]["tdca"]

    # Other code registering the same name (an edited file, a colleague's): said, since
    # the network it builds may not be the one the credit network was evolved for.
    _forget(path, arch, learner)
    other = tmp_path / "other" / "my_nets.py"
    other.parent.mkdir()
    other.write_text(path.read_text() + "# v2: the same names, other code\n")
    try:
        swapped = [*train[:2], str(other), *train[3:], "--learner", f"tdca:{run}"]
        assert main([*swapped, "--out", str(tmp_path / "w")]) == 0
        err = capsys.readouterr().err
        assert f"evolved with the plugins {path.resolve()} (sha256 {digest(str(path))[:12]})" in err
        assert f"registered here by {other.resolve()}" in err and "other code" in err
    finally:
        _forget(other, arch, learner)

    # Without the plugin, training with that credit network names the plugin to give.
    _forget(path, arch, learner)
    capsys.readouterr()
    argv = ["train", "--dataset", spec, "--learner", f"tdca:{run}", "--out", str(tmp_path / "v")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"evolved with the plugins ['{path.resolve()}']" in err and "--plugin" in err
    assert not (tmp_path / "v").exists()


def test_a_moved_plugin_is_named_on_resume_and_its_new_place_can_be_given(tmp_path, plugin, capsys):
    path, arch, learner = plugin
    _, run = _evolved_with_plugin(tmp_path, path, arch)
    _forget(path, arch, learner)
    moved = tmp_path / "elsewhere" / "my_nets.py"
    moved.parent.mkdir()
    path.rename(moved)
    capsys.readouterr()
    resume = ["evolve", "--resume", str(run), "--generations", "3", "--no-progress"]
    assert main(resume) == 2
    err = capsys.readouterr().err
    assert "started with the plugins" in err and "no such file" in err
    assert f"tdca --plugin FILE evolve --resume {run}" in err
    try:
        assert main(["--plugin", str(moved), *resume]) == 0
        assert json.loads((run / "metrics.json").read_text())["evolution"]["generations"] == 3
        # the new place is recorded: the next resume, in a new process, needs no --plugin
        assert json.loads((run / "config.json").read_text())["plugins"] == [str(moved)]
        _forget(moved, arch, learner)
        assert main([*resume[:4], "4", "--no-progress"]) == 0
        assert json.loads((run / "metrics.json").read_text())["evolution"]["generations"] == 4
        assert "not the code this run was started with" not in (run / "log.txt").read_text()
    finally:
        _forget(moved, arch, learner)


def test_a_resume_under_edited_plugin_code_says_so(tmp_path, plugin, monkeypatch):
    """The network's code is the user's: a resume that runs other code than the run was
    started with goes on (as under a newer tdca) but says so, in the log and on stderr."""
    path, arch, learner = plugin
    _, run = _evolved_with_plugin(tmp_path, path, arch)
    digests = json.loads((run / "config.json").read_text())["plugin_digests"]
    assert list(digests) == [str(path.resolve())] and len(digests[str(path.resolve())]) == 64
    _forget(path, arch, learner)
    path.write_text(path.read_text().replace("1.0 / (1.0 + jnp.abs(z)) ** 2", "0.5 + 0 * z"))
    resume = ["evolve", "--resume", str(run), "--generations", "3", "--no-progress"]
    with pytest.warns(RuntimeWarning, match="not the code this run was started with"):
        assert main(resume) == 0
    assert "not the code this run was started with" in (run / "log.txt").read_text()
    assert json.loads((run / "config.json").read_text())["plugin_digests"] != digests

    # Resumed by a script that registers the network itself (no plugin imported): the
    # saved plugins and their digests are kept, and nothing is said about their code.
    _forget(path, arch, learner)
    runpy.run_path(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        assert run_evolve(None, run, resume=True, extend_to=4, progress=False) is not None
    saved = json.loads((run / "config.json").read_text())
    assert saved["plugins"] == [str(path.resolve())]
    assert saved["plugin_digests"] == {str(path.resolve()): digest(str(path))}
    _forget(path, arch, learner)
    assert main([*resume[:4], "5", "--no-progress"]) == 0  # and the next one imports it

    # A plugin the run did not start with, given to a resume, is recorded from then on,
    # and said so (the generations before ran without it).
    other = tmp_path / "other.py"
    other.write_text("X = 1\n")
    with pytest.warns(RuntimeWarning, match=r"\['.*other.py'\] were not given when this run"):
        assert main(["--plugin", str(other), "--plugin", str(path), *resume[:4], "6"]) == 0
    assert "were not given when this run started" in (run / "log.txt").read_text()
    saved = json.loads((run / "config.json").read_text())
    assert saved["plugins"] == [str(other.resolve()), str(path.resolve())]

    # A resume refused (other images under the data's name) says nothing of plugins: it
    # did not go on, and records nothing.
    third = tmp_path / "third.py"
    third.write_text("Z = 3\n")
    _npz(tmp_path / "d.npz", (8, 8), seed=1)
    log = (run / "log.txt").read_text()
    assert main(["--plugin", str(third), *resume[:4], "7", "--no-progress"]) == 2
    assert "third.py" not in (run / "log.txt").read_text()[len(log) :]
    assert json.loads((run / "config.json").read_text())["plugins"] == saved["plugins"]

    # a relative path in a config made from Python is recorded as the absolute one
    monkeypatch.chdir(tmp_path)
    assert EvolveConfig(arch=arch, plugins=("my_nets.py",)).plugins == (str(path.resolve()),)


def test_a_refused_resume_leaves_the_saved_config_as_it_was(tmp_path, plugin, capsys):
    """A resume refused on its checkpoint (here: the plugin's network was edited to another
    width) must not rewrite config.json with the refused attempt's plugin record or
    generation count, or the correct resume afterwards would warn of changed code and run
    to the refused attempt's length."""
    path, arch, learner = plugin
    _, run = _evolved_with_plugin(tmp_path, path, arch)
    before = (run / "config.json").read_bytes()
    original = path.read_text()
    _forget(path, arch, learner)
    path.write_text(original.replace("40, ds.num_classes", "30, ds.num_classes"))
    capsys.readouterr()
    resume = ["evolve", "--resume", str(run), "--generations", "4", "--no-progress"]
    with pytest.warns(RuntimeWarning, match="not the code this run was started with"):
        assert main(resume) == 2
    assert "checkpoint.npz" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == before

    _forget(path, arch, learner)
    path.write_text(original)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the code is the run's own again: nothing to say
        assert main([*resume[:4], "3", "--no-progress"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["es"]["generations"] == 3
    assert saved["plugin_digests"] == json.loads(before)["plugin_digests"]


def test_plugins_that_cannot_be_imported_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):  # abbreviated, it would be parsed but not imported first
        main(["--plug", str(tmp_path / "x.py"), "zoo", "list"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--plugin", str(tmp_path / "absent.py"), "zoo", "list"]) == 2
    assert "absent.py: no such file" in capsys.readouterr().err
    assert main(["--plugin", str(tmp_path), "zoo", "list"]) == 2
    assert f"--plugin {tmp_path}: is a folder; give the .py file" in capsys.readouterr().err
    assert main(["--plugin", "no_such_module_here", "zoo", "list"]) == 2
    assert "no file or importable module of that name" in capsys.readouterr().err

    broken = tmp_path / "broken.py"
    broken.write_text("import json\n\nx = json.loads('{')\n")
    assert main(["zoo", "list", "--plugin", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "importing it raised JSONDecodeError" in err and f"(at {broken}:3)" in err
    assert err.count("\n") == 1

    typo = tmp_path / "typo.py"  # a SyntaxError has no frame in the file: its own place
    typo.write_text("import json\n\ndef f(:\n    pass\n")
    with pytest.raises(PluginError, match=rf"raised SyntaxError.*\(at {typo}:3\)$"):
        load_plugin(str(typo))

    missing_dep = tmp_path / "needs.py"
    missing_dep.write_text("import surely_not_installed_pkg\n")
    with pytest.raises(PluginError, match=r"raised ModuleNotFoundError.*needs\.py:1"):
        load_plugin(str(missing_dep))

    empty = tmp_path / "empty.py"
    empty.write_text("# registers nothing\n")
    with pytest.raises(ValueError, match=r"unknown architecture 'ghost'.*do not register it"):
        EvolveConfig(arch="ghost", plugins=(str(empty),))
    with pytest.raises(ValueError, match="plugins must be a tuple"):
        EvolveConfig(plugins=["a list"])


def test_a_plugin_is_imported_once_however_often_it_is_given(tmp_path):
    counter = tmp_path / "count.py"
    counter.write_text("import builtins\nbuiltins.TDCA_TEST_IMPORTS += 1\n")
    import builtins

    builtins.TDCA_TEST_IMPORTS = 0
    try:
        first = load_plugin(str(counter))
        again = load_plugin(str(tmp_path / "." / "count.py"))
        assert first == again == str(counter.resolve())
        assert builtins.TDCA_TEST_IMPORTS == 1
    finally:
        del builtins.TDCA_TEST_IMPORTS


def test_a_plugin_given_by_path_and_by_module_name_is_imported_once(tmp_path, monkeypatch):
    # The same file as ./my_nets.py and as my_nets (on Python's path): its registrations run
    # once, in either order, rather than failing with "exists already" the second time.
    for order, folder in (("path first", "a"), ("module first", "b")):
        where = tmp_path / folder
        where.mkdir()
        arch = f"soft-once-{folder}"
        path = where / f"nets_{folder}.py"
        path.write_text(PLUGIN.format(arch=arch, learner=f"dfa-once-{folder}"))
        monkeypatch.syspath_prepend(str(where))
        try:
            by_path, by_name = str(path), f"nets_{folder}"
            first, second = (by_path, by_name) if order == "path first" else (by_name, by_path)
            recorded = load_plugin(first)
            assert load_plugin(second) == recorded, order
            assert arch in ARCHITECTURES
        finally:
            _forget(path, arch, f"dfa-once-{folder}")
            sys.modules.pop(f"nets_{folder}", None)
            plugins._BY_SOURCE.pop(str(path.resolve()), None)
            if f"nets_{folder}" in plugins._LOADED:
                plugins._LOADED.remove(f"nets_{folder}")


def test_what_a_resume_says_of_its_plugins():
    """Found by content: a moved file is neither new nor changed; a run recorded before
    plugin digests cannot tell moved from new and says nothing; a new run says nothing."""
    from tdca.experiments.classification import _plugin_notes

    nothing = (None, None)
    assert _plugin_notes(None, None, {"/a.py": "h"}, {"/a.py"}) == nothing
    assert _plugin_notes(("/a.py",), {"/a.py": "h"}, {"/b.py": "h"}, {"/b.py"}) == nothing
    assert _plugin_notes(("/a.py",), None, {"/b.py": "h"}, {"/b.py"}) == nothing
    changed, added = _plugin_notes((), None, {"/b.py": "h2"}, {"/b.py"})
    assert changed is None
    assert added.startswith("plugins ['/b.py'] were not given when this run started ([])")
    changed, added = _plugin_notes(("/a.py",), {"/a.py": "h"}, {"/a.py": "h2"}, {"/a.py"})
    assert "not the code this run was started with" in changed and added is None
    # not imported here (a script registered the network): its code was not run
    assert _plugin_notes(("/a.py",), {"/a.py": "h"}, {"/a.py": "h2"}, set()) == nothing


@pytest.mark.skipif(
    os.environ.get("TDCA_DATA_DIR") is None, reason="needs the real data sets ($TDCA_DATA_DIR)"
)
def test_table2_runs_a_plugin_network_beside_the_tables_own_and_keys_its_work_by_its_code(
    tmp_path, plugin, monkeypatch, capsys
):
    """`tdca --plugin F reproduce table2 --archs NAME`: the table's protocol and baselines for
    a network of one's own (no paper numbers beside it); a rerun reuses its work, and edited
    code under the same name gets work of its own instead of the old network's."""
    from dataclasses import replace

    from tdca.evolution import ESConfig
    from tdca.experiments import classification, reproduce

    path, arch, learner = plugin
    es = ESConfig(population=4, generations=2, sigma_init=0.003, learning_rate=0.001)
    tiny = replace(reproduce.SMALL, es=es, seeds=2, full=(100, 3))
    monkeypatch.setitem(reproduce.SCALES, "small", tiny)
    monkeypatch.setattr(classification, "LR_GRID", (0.1, 0.3))
    monkeypatch.setitem(classification.LR_GRIDS, "sgd", (0.1, 0.3))
    cache = tmp_path / "cache"
    argv = ["--plugin", str(path), "reproduce", "table2", "--datasets", "mnist", "--archs"]
    common = ["--cache", str(cache), "--no-progress", "--data-dir", os.environ["TDCA_DATA_DIR"]]

    assert main([*argv, f"{arch},deep-fc", *common, "--out", str(tmp_path / "t")]) == 0
    m = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert [(r["arch"], r["method"]) for r in m["rows"]] == [
        (a, k) for a in ("deep-fc", arch) for k in ("kaiming-bp", "zero-bp", "tdca")
    ]
    ours = [r for r in m["rows"] if r["arch"] == arch]
    assert all(r["paper_test_accuracy"] is None for r in ours)
    assert all(r["paper_test_accuracy"] is not None for r in m["rows"] if r["arch"] == "deep-fc")
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["plugins"] == [str(path.resolve())]
    # the report's command for the table remakes it: the plugin comes first
    from tdca.experiments.report import results_document

    made_by = f"tdca --plugin {path.resolve()} reproduce table2 --scale small --datasets mnist"
    made_by += f" --archs {arch},deep-fc"
    assert made_by in results_document([tmp_path / "t"])
    evolved = sorted(p.name for p in (cache / "evolutions").iterdir())
    code = digest(str(path))[:12]
    assert evolved == sorted(["mnist_deep-fc_dense_100x3", f"mnist_{arch}@{code}_dense_100x3"])
    saved = json.loads((cache / "evolutions" / evolved[-1] / "config.json").read_text())
    assert saved["arch"] == arch and saved["plugins"] == [str(path.resolve())]
    assert config["network_code"] == m["network_code"] == {arch: f"{arch}@{code}"}
    baselines = json.loads((cache / "baselines.json").read_text())
    assert baselines[f"bp|mnist|{arch}@{code}|100|3|2"]["arch_source"] == str(path.resolve())

    # the same command again: every cell from the cache, the same rows
    assert main([*argv, f"{arch},deep-fc", *common, "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["rows"] == m["rows"]
    assert "evolving" not in capsys.readouterr().out.split("reproduce table2")[-1]

    # other code under the same name (the hidden layer cut to 30): its own work, nothing reused
    _forget(path, arch, learner)
    path.write_text(path.read_text().replace(", 40, ", ", 30, "))
    assert main([*argv, f"{arch},deep-fc", *common, "--out", str(tmp_path / "t")]) == 2
    assert "network_code" in capsys.readouterr().err  # its table is not replaced unsaid
    _forget(path, arch, learner)  # (that refusal imported the edited file)
    assert main([*argv, arch, *common, "--out", str(tmp_path / "u")]) == 0
    edited = digest(str(path))[:12]
    assert edited != code
    assert (cache / "evolutions" / f"mnist_{arch}@{edited}_dense_100x3").is_dir()
    assert (cache / "evolutions" / f"mnist_{arch}@{code}_dense_100x3").is_dir()  # kept
    assert f"bp|mnist|{arch}@{edited}|100|3|2" in json.loads((cache / "baselines.json").read_text())

    # a name nothing registers is refused, naming the registered ones and --plugin
    assert (
        main(["reproduce", "table2", "--archs", "nonet", *common, "--out", str(tmp_path / "v")])
        == 2
    )
    err = capsys.readouterr().err
    assert "registered networks" in err and "--plugin" in err and not (tmp_path / "v").exists()


def test_a_networks_code_is_the_code_registered_not_the_file_as_edited_later(tmp_path, request):
    """The code a cache key or a credit network's check names for a network of one's own is
    the file that registered it, read when it did so: editing the file while a command runs
    does not file old code's work under the new code's name, and a builder that is a
    functools.partial is the plugin's code, not functools.py."""
    import hashlib

    from tdca.networks.registry import arch_code, code_files

    arch = f"partial-{request.node.name[-8:]}"
    path = tmp_path / "partial_net.py"
    path.write_text(
        "import functools\n"
        "from tdca.networks import MLP, register_arch\n"
        "def build(ds, hidden):\n"
        "    return MLP((ds.input_dim, hidden, ds.num_classes))\n"
        f"register_arch({arch!r}, functools.partial(build, hidden=40))\n"
    )
    registered = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        load_plugin(str(path))
        assert code_files(arch) == ((str(path.resolve()), registered),)
        assert arch_code(arch) == (str(path.resolve()), registered)
        path.write_text(path.read_text().replace("hidden=40", "hidden=30"))  # edited meanwhile
        assert arch_code(arch) == (str(path.resolve()), registered)  # still the code it runs
        assert code_files("mlp-100") == () and arch_code("cnn") is None  # tdca's own
    finally:
        _forget(path, arch, "")
