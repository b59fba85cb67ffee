"""A new bottom-up architecture is one file of the user's: its class and a `register_arch`
call. These tests are that file: the registered network then trains, evolves and is loaded
by name through the library and its command line, with nothing else changed."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_classification import _npz

from tdca.cli import main
from tdca.credit.artifact import load_credit_net
from tdca.experiments.classification import EvolveConfig, make_split, train_learner
from tdca.networks import ARCHITECTURES, MLP, build_model, register_arch


class SoftsignMLP(MLP):
    """A user's network: softsign hidden units (g'(0) = 1, so a zero start learns)."""

    def activation(self, z: jax.Array) -> jax.Array:
        return jax.nn.soft_sign(z)

    def hidden_prime(self, z: jax.Array) -> jax.Array:
        return 1.0 / (1.0 + jnp.abs(z)) ** 2


def test_a_network_that_changes_g_but_not_its_slope_is_refused_where_it_is_defined():
    """Overriding the activation alone would leave the local rule on tanh's slope."""
    with pytest.raises(TypeError, match="override both"):

        class OnlyG(MLP):
            def activation(self, z: jax.Array) -> jax.Array:
                return jax.nn.soft_sign(z)

    with pytest.raises(TypeError, match="override both"):

        class OnlySlope(MLP):
            def hidden_prime(self, z: jax.Array) -> jax.Array:
                return jnp.ones_like(z)

    with pytest.raises(TypeError, match="override both"):  # g changed again, g' inherited

        class SoftsignAgain(SoftsignMLP):
            def activation(self, z: jax.Array) -> jax.Array:
                return jnp.tanh(z)


class ReluMLP(MLP):
    """g'(0) = 0: from exact zeros no hidden pre-activation ever leaves 0."""

    def activation(self, z: jax.Array) -> jax.Array:
        return jax.nn.relu(z)

    def hidden_prime(self, z: jax.Array) -> jax.Array:
        return (z > 0).astype(z.dtype)


def test_a_zero_start_of_a_network_with_a_flat_slope_at_zero_is_refused(tmp_path, capsys):
    """Without the check a zero-initialised ReLU network trained to chance, silently
    (every hidden update is multiplied by g'(0) = 0). Other starts and other g are fine."""
    relu = ReluMLP((4, 3, 2))
    key = jax.random.PRNGKey(0)
    pair = jax.random.split(key, 2)
    for init, k in ((relu.init, key), (jax.jit(relu.init), key), (jax.vmap(relu.init), pair)):
        with pytest.raises(ValueError, match=r"ReluMLP: a zero start .* hidden_prime\(0\) is 0"):
            init(k)  # eagerly, and while traced (as inside the inner loop)
    assert [p["w"].shape for p in relu.init(key, "near_zero")] == [(4, 3), (3, 2)]
    assert float(jnp.abs(relu.init(key, "kaiming")[0]["w"]).sum()) > 0
    assert ReluMLP((4, 2)).init(key)[0]["w"].shape == (4, 2)  # no hidden layer: no slope used
    assert float(jnp.abs(SoftsignMLP((4, 3, 2)).init(key)[0]["w"]).sum()) == 0.0
    # an unjitted shard_map cannot evaluate the slope (Evolution.evaluate on several
    # devices): the check steps aside there instead of failing every network's init
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("pop",))
    spec = jax.sharding.PartitionSpec("pop")
    sharded = jax.shard_map(
        lambda k: MLP((4, 3, 2)).init(k[0])[0]["w"][None], mesh=mesh, in_specs=spec, out_specs=spec
    )
    assert sharded(pair[:1]).shape == (1, 4, 3)

    register_arch("relu-test", lambda ds: ReluMLP((ds.input_dim, 8, ds.num_classes)))
    try:
        spec = _npz(tmp_path / "d.npz", (8, 8))
        argv = ["train", "--dataset", spec, "--arch", "relu-test", "--train-size", "100"]
        argv += ["--steps", "3", "--lr", "0.1"]
        assert main([*argv, "--learner", "dfa", "--out", str(tmp_path / "dfa")]) == 2
        assert "needs g'(0) != 0" in capsys.readouterr().err
        assert main([*argv, "--learner", "bp", "--out", str(tmp_path / "bp")]) == 0  # Kaiming
        with pytest.raises(ValueError, match="tdca evolve --init"):
            relu.init(key)
        # such a network is evolved from another start, which its credit network keeps
        evolve = ["evolve", "--dataset", spec, "--arch", "relu-test", "--train-size", "100"]
        evolve += ["--steps", "3", "--lr", "0.1", "--generations", "1", "--population", "2"]
        out = tmp_path / "evo"
        # from zero: refused before the folder holds a run, so the same --out is reused below
        assert main([*evolve, "--no-progress", "--out", str(out)]) == 2
        assert "needs g'(0) != 0" in capsys.readouterr().err
        assert main([*evolve, "--init", "kaiming", "--no-progress", "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["results"][0]["init"] == "kaiming"
        assert metrics["dfa_at_same_lr"][0]["init"] == "kaiming"  # DFA from the same start
        train = [*argv, "--learner", f"tdca:{out}", "--out", str(tmp_path / "t")]
        assert main(train) == 0
        assert json.loads((tmp_path / "t" / "metrics.json").read_text())["init"] == "kaiming"
        split = make_split(spec, None, 100)
        zero_start = train_learner(f"tdca:{out}", split, steps=3, lr=0.1, init="near_zero")
        assert zero_start["init"] == "near_zero"
    finally:
        ARCHITECTURES.pop("relu-test", None)


@pytest.fixture
def softsign():
    built = []

    def build(ds):
        built.append(ds.name)
        return SoftsignMLP((ds.input_dim, 50, ds.num_classes))

    register_arch("softsign-50", build)
    yield built
    ARCHITECTURES.pop("softsign-50", None)


def test_a_registered_architecture_trains_evolves_and_loads_by_name(tmp_path, softsign, capsys):
    spec = _npz(tmp_path / "d.npz", (8, 8))
    split = make_split(spec, None, 200)
    model = build_model("softsign-50", split.dataset)
    assert isinstance(model, SoftsignMLP) and model.sizes == (64, 50, 10)
    m = train_learner("dfa", split, arch="softsign-50", steps=30, lr=1.0, keep_theta=True)
    assert [layer["w"].shape for layer in m["theta"]] == [(64, 50), (50, 10)]
    assert m["test_accuracy"] > 0.9  # ten learnable prototypes; chance is 0.1

    evolved = tmp_path / "e"
    argv = ["evolve", "--dataset", spec, "--arch", "softsign-50", "--train-size", "200"]
    argv += ["--steps", "5", "--generations", "2", "--population", "4", "--no-progress"]
    assert main([*argv, "--out", str(evolved)]) == 0
    strategy, _, meta = load_credit_net(evolved)
    assert meta["config"]["arch"] == "softsign-50"
    assert tuple(strategy.layout.units) == (50, 10)  # one credit per neuron of the new network
    # `tdca train` with that credit network defaults to the architecture it was evolved for
    argv = ["train", "--dataset", spec, "--learner", f"tdca:{evolved}", "--train-size", "200"]
    assert main([*argv, "--steps", "5", "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "config.json").read_text())["arch"] == "softsign-50"
    assert softsign  # the user's builder made those networks
    # a process that never registered it refuses, rather than train the default network
    # (mlp-100 has the same credit layout, so nothing else would notice)
    ARCHITECTURES.pop("softsign-50")
    capsys.readouterr()
    assert main([*argv, "--steps", "5", "--out", str(tmp_path / "u")]) == 2
    assert "evolved for the architecture 'softsign-50'" in capsys.readouterr().err
    assert not (tmp_path / "u").exists()


def test_architecture_names_are_checked(softsign, tmp_path, capsys):
    with pytest.raises(ValueError, match="'mlp-100' is one of the library's own"):
        register_arch("mlp-100", lambda ds: None)
    # a second registration (a notebook cell run again) says how to replace it
    with pytest.raises(ValueError, match=r"registered already .*ARCHITECTURES\.pop"):
        register_arch("softsign-50", lambda ds: None)
    with pytest.raises(ValueError, match="without ':'"):
        register_arch("a:b", lambda ds: None)
    with pytest.raises(ValueError, match="callable"):
        register_arch("fine", "not a builder")
    with pytest.raises(ValueError, match=r"unknown architecture 'nope'.*softsign-50"):
        EvolveConfig(datasets=("mnist",), arch="nope")
    ARCHITECTURES.pop("softsign-50")  # as in a process that never registered it
    spec = _npz(tmp_path / "d.npz", (8, 8))
    argv = ["train", "--dataset", spec, "--learner", "dfa", "--arch", "softsign-50"]
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert "invalid choice: 'softsign-50'" in err and "--plugin FILE.py" in err


def test_a_builder_that_returns_no_network_is_named_in_the_error():
    """A plugin builder that forgets ``return`` fails at the build, naming the architecture,
    not later inside a task with an AttributeError on None."""
    from types import SimpleNamespace

    def forgetful(ds):
        MLP((ds.input_dim, 7, ds.num_classes))

    register_arch("forgetful-test", forgetful)
    ds = SimpleNamespace(input_dim=3, num_classes=2)
    try:
        with pytest.raises(ValueError, match=r"'forgetful-test'.*returned NoneType.*forget to"):
            build_model("forgetful-test", ds)
        for arch in ("mlp-100", "deep-fc"):
            sizes = build_model(arch, ds).sizes
            assert (sizes[0], sizes[-1]) == (3, 2)
    finally:
        del ARCHITECTURES["forgetful-test"]


class SkipNet:
    """A network of one's own that is no MLP: h2 = h1 + tanh(h1 W2), with its own forward
    and the library's local rule (what README's architecture interface lists)."""

    def __init__(self, n_in: int, width: int, n_out: int) -> None:
        self.sizes = (n_in, width, width, n_out)
        self.units = (width, width, n_out)

    def init(self, key, scheme="zero"):
        return MLP(self.sizes).init(key, scheme)

    def forward(self, params, x):
        from tdca.networks import LayerTap

        z1 = x @ params[0]["w"] + params[0]["b"]
        h1 = jnp.tanh(z1)
        z2 = h1 @ params[1]["w"] + params[1]["b"]
        h2 = h1 + jnp.tanh(z2)
        z3 = h2 @ params[2]["w"] + params[2]["b"]
        return z3, [LayerTap(x, z1), LayerTap(h1, z2), LayerTap(h2, z3)]

    def apply(self, params, x):
        return self.forward(params, x)[0]

    def local_update(self, taps, credits):
        from tdca.credit import local_update

        return local_update(taps, credits, lambda z: 1.0 - jnp.tanh(z) ** 2)


def test_an_evolution_for_a_network_that_is_no_mlp_is_compared_with_dfa(tmp_path):
    """The DFA run at the evolution's lr (metrics.json dfa_at_same_lr, the report's
    'DFA at that lr') is made for any network DFA trains, not only MLPs."""
    register_arch("skip-test", lambda ds: SkipNet(ds.input_dim, 12, ds.num_classes))
    try:
        spec, out = _npz(tmp_path / "d.npz", (6, 6)), tmp_path / "e"
        argv = ["evolve", "--dataset", spec, "--arch", "skip-test", "--train-size", "100"]
        argv += ["--steps", "3", "--lr", "0.3", "--generations", "1", "--population", "2"]
        assert main([*argv, "--no-progress", "--out", str(out)]) == 0
        (dfa,) = json.loads((out / "metrics.json").read_text())["dfa_at_same_lr"]
        want = train_learner("dfa", make_split(spec, None, 100), arch="skip-test", steps=3, lr=0.3)
        assert dfa["test_accuracy"] == pytest.approx(want["test_accuracy"])
    finally:
        ARCHITECTURES.pop("skip-test", None)
