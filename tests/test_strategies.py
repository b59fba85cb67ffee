"""BP, FA, DFA and TDCA behind one interface, checked against their definitions."""

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tdca.credit import BP, DFA, FA, TDCA, make_strategy
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.tasks import ClassificationTask, GaussianTask


@pytest.fixture
def task():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    return ClassificationTask.create(x, y, MLP((8, 6, 5, 3)), num_classes=3, init_scheme="kaiming")


def _three_classes(path, n):
    """An npz of ``n`` 6x6 images of three learnable classes (a prototype each, plus noise)."""
    rng = np.random.default_rng(0)
    protos = rng.integers(0, 256, (3, 6, 6))
    y = np.arange(n) % 3
    x = np.clip(protos[y] * 0.6 + rng.integers(0, 100, (n, 6, 6)), 0, 255).astype(np.uint8)
    np.savez(path, x_train=x, y_train=y, x_test=x[:30], y_test=y[:30])
    return path


def test_dfa_equals_tdca_with_linear_credit_net_on_y_minus_p(task):
    dfa = DFA.for_task(task)
    B = dfa.init(jax.random.PRNGKey(1))
    n_cls = task.num_classes
    # A linear credit net on u = [p, onehot(y)] with weights [-B_all; B_all] emits B_all(y - p).
    b_all = jnp.concatenate([*B, jnp.eye(n_cls)], axis=1)
    tdca = TDCA.for_task(task, hidden=())
    beta = [{"w": jnp.concatenate([-b_all, b_all], 0), "b": jnp.zeros(b_all.shape[1])}]
    theta = task.init_params(jax.random.PRNGKey(2))
    batch = (task.x, task.y)
    got = tdca.direction(beta, task, theta, batch)
    want = dfa.direction(B, task, theta, batch)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(g["b"], w["b"], rtol=1e-5, atol=1e-7)
    # ...and whole inner loops agree too.
    a, _ = InnerLoop(tdca, 5, 0.3).run(beta, task, jax.random.PRNGKey(3))
    b, _ = InnerLoop(dfa, 5, 0.3).run(B, task, jax.random.PRNGKey(3))
    for g, w in zip(a, b, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-4, atol=1e-6)


def test_bp_inner_loop_equals_plain_sgd_with_jax_grad(task):
    lr, steps = 0.5, 7
    key = jax.random.PRNGKey(4)
    got, _ = InnerLoop(BP(), steps, lr).run((), task, key)
    theta = task.init_params(jax.random.split(key)[0])
    for _ in range(steps):
        g = jax.grad(task.loss)(theta, (task.x, task.y))
        theta = jax.tree.map(lambda p, d: p - lr * d, theta, g)
    for a, b in zip(got, theta, strict=True):
        np.testing.assert_allclose(a["w"], b["w"], rtol=1e-5, atol=1e-6)


def test_fa_with_transposed_weights_equals_bp(task):
    theta = task.init_params(jax.random.PRNGKey(5))
    feedback = [layer["w"].T for layer in theta[1:]]
    fa = FA.for_task(task)
    assert [f.shape for f in fa.init(jax.random.PRNGKey(0))] == [f.shape for f in feedback]
    got = fa.direction(feedback, task, theta, (task.x, task.y))
    want = BP().direction((), task, theta, (task.x, task.y))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-5, atol=1e-6)


class SoftplusMLP(MLP):
    """Another nonlinearity by overriding g and g' only (the documented extension point)."""

    def activation(self, z):
        return jax.nn.softplus(z)

    def hidden_prime(self, z):
        return jax.nn.sigmoid(z)


def test_fa_and_the_local_rule_take_g_prime_from_the_bottom_up_network(task):
    """With B = W^T, FA is backprop through the network's own g: on a softplus MLP it must
    still equal jax.grad (it once hard-coded tanh' and silently trained with the wrong
    slope); DFA's local rule uses the network's g' too."""
    soft = task.replace(model=SoftplusMLP(task.model.sizes))
    theta = soft.init_params(jax.random.PRNGKey(5))
    feedback = [layer["w"].T for layer in theta[1:]]
    batch = (soft.x, soft.y)
    got = FA.for_task(soft).direction(feedback, soft, theta, batch)
    want = BP().direction((), soft, theta, batch)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-5, atol=1e-6)
    dfa = DFA.for_task(soft)
    B = dfa.init(jax.random.PRNGKey(1))
    taps, err = soft.taps_and_error(theta, batch)
    first = dfa.direction(B, soft, theta, batch)[0]["w"]
    delta = (err @ B[0]) * jax.nn.sigmoid(taps[0].pre)
    np.testing.assert_allclose(first, taps[0].inputs.T @ delta / len(soft.x), rtol=1e-5, atol=1e-7)


def test_random_feedback_strategies_reduce_the_loss(task):
    for name in ("fa", "dfa", "bp"):
        strategy = make_strategy(name, task)
        sp = strategy.init(jax.random.PRNGKey(0))
        _theta, trace = InnerLoop(strategy, 60, 0.3).run(
            sp, task, jax.random.PRNGKey(1), record=lambda t, th: t.loss(th, (t.x, t.y))
        )
        assert float(trace[-1]) < 0.8 * float(trace[0]), name


def test_strategies_that_need_layers_refuse_the_gaussian_task():
    for name in ("fa", "dfa"):
        with pytest.raises(TypeError, match="layered bottom-up network"):
            make_strategy(name, GaussianTask())
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("hebb", GaussianTask())


def test_make_strategy_builds_registered_learners_and_refuses_stray_options(task, monkeypatch):
    """A learner a user registered is a strategy by name too (for their own task), and
    TDCA's options given to another strategy are refused rather than dropped."""
    from tdca.credit.strategies import LEARNERS, Learner

    monkeypatch.setitem(LEARNERS, "dfa-again", Learner(DFA.for_task))
    assert isinstance(make_strategy("dfa-again", task), DFA)
    with pytest.raises(ValueError, match="are TDCA's"):
        make_strategy("dfa", task, hidden=(8,))


def test_a_strategy_built_for_another_network_is_refused_by_name(task):
    """A strategy used with a task whose network differs says so, instead of failing with
    a broadcasting error inside the local rule."""
    other = task.replace(model=MLP((8, 7, 5, 3)))
    for name in ("tdca", "fa", "dfa"):
        strategy = make_strategy(name, task)
        with pytest.raises(ValueError, match=r"built for credited units \(6, 5, 3\).*\(7, 5, 3\)"):
            InnerLoop(strategy, 2, 0.1).run(
                strategy.init(jax.random.key(0)), other, jax.random.key(1)
            )
    four = ClassificationTask.create(task.x, task.y, MLP((8, 6, 5, 4)), num_classes=4)
    strategy = TDCA.for_task(four)
    three = four.replace(num_classes=3)  # same credited units, a credit input of 4 + 3
    with pytest.raises(ValueError, match=r"reads 8 numbers, but task .* gives 7"):
        strategy.direction(
            strategy.init(jax.random.key(0)),
            three,
            three.init_params(jax.random.key(0)),
            (three.x, three.y),
        )


def test_inner_loop_accepts_any_optax_optimizer(task):
    loop = InnerLoop(BP(), 20, optimizer=optax.adam(0.05))
    record = lambda t, th: t.loss(th, (t.x, t.y))  # noqa: E731
    _, trace = loop.run((), task, jax.random.PRNGKey(0), record=record)
    assert float(trace[-1]) < float(trace[0])


def test_population_is_vmapped_not_looped(task):
    tdca = TDCA.for_task(task)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    pop = jax.vmap(tdca.init)(keys)
    loop = InnerLoop(tdca, 3, 0.1)
    fits = jax.jit(jax.vmap(loop.fitness, in_axes=(0, None, None)))(pop, task, keys[0])
    members = [jax.tree.map(lambda a, i=i: a[i], pop) for i in range(4)]
    single = jax.jit(loop.fitness)
    singles = [single(m, task, keys[0]) for m in members]
    np.testing.assert_allclose(fits, np.array(singles), rtol=1e-5)


def test_a_registered_learner_trains_through_the_same_entry_points(capsys, tmp_path):
    """A new feedback rule is a strategy class plus register_learner: train_learner and
    `tdca train` (in the process that registered it) accept its name."""
    import jax.numpy as jnp

    from tdca.cli import main
    from tdca.credit import LEARNERS, register_learner
    from tdca.experiments.classification import make_split, train_learner

    class SignDFA(DFA):
        """Credits B sign(y - p) instead of B (y - p)."""

        def direction(self, sparams, task, theta, batch):
            taps, err = task.taps_and_error(theta, batch)
            s = jnp.sign(err)
            return task.model.local_update(taps, [s @ b for b in sparams] + [s])

    data = _three_classes(tmp_path / "d.npz", 120)
    try:
        register_learner("sign-dfa", SignDFA.for_task)
        with pytest.raises(ValueError, match=r"registered already .*LEARNERS\.pop\('sign-dfa'\)"):
            register_learner("sign-dfa", SignDFA.for_task)
        with pytest.raises(ValueError, match="the library's own names"):
            register_learner("bp-adam", SignDFA.for_task)
        with pytest.raises(ValueError, match="init_scheme"):
            register_learner("other", SignDFA.for_task, init_scheme="ones")
        with pytest.raises(ValueError, match=r"give SignDFA\.for_task, not the class SignDFA"):
            register_learner("other", SignDFA)  # it would take the task for its units
        register_learner("forgetful", lambda task: None)  # a builder that forgets 'return'
        with pytest.raises(TypeError, match=r"learner 'forgetful': .*returned NoneType"):
            train_learner("forgetful", make_split(f"npz:{data}", None, 90), steps=1, lr=0.1)

        class Plain:
            """init and direction only (no name): what README calls a strategy."""

            def __init__(self, task):
                self.inner = SignDFA.for_task(task)

            def init(self, key):
                return self.inner.init(key)

            def direction(self, *args):
                return self.inner.direction(*args)

        register_learner("plain", Plain)  # a class that takes the task is a builder too
        r = train_learner("plain", make_split(f"npz:{data}", None, 90), steps=15, lr=0.1)
        assert r["train_accuracy"] > 0.6
        r = train_learner("sign-dfa", make_split(f"npz:{data}", None, 90), steps=15, lr=0.1)
        assert r["train_accuracy"] > 0.6  # it learns (chance: 1/3)
        argv = ["train", "--dataset", f"npz:{data}", "--learner", "sign-dfa", "--lr", "0.1"]
        argv += ["--train-size", "90", "--steps", "5", "--out", str(tmp_path / "run")]
        assert main(argv) == 0
        assert "sign-dfa on d" in capsys.readouterr().out
    finally:
        LEARNERS.pop("sign-dfa", None)
        LEARNERS.pop("forgetful", None)
        LEARNERS.pop("plain", None)


def test_bp_on_a_zero_initialised_task_warns_that_only_output_biases_would_move(task):
    """make_strategy returns the strategy alone; the inner loop starts from the task's init,
    and backprop from exact zeros cannot train hidden weights: said, not left to be found."""
    zero = task.replace(init_scheme="zero")
    with pytest.warns(UserWarning, match="moves only the output biases.*'kaiming'"):
        make_strategy("bp", zero)
    strategy = BP()
    theta, _ = InnerLoop(strategy, 20, 0.3).run((), zero, jax.random.key(0))
    assert float(jnp.abs(theta[0]["w"]).max()) == 0.0  # what the warning says
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_strategy("bp", task)  # kaiming: no warning
        make_strategy("dfa", zero)  # local rules start from zero by design


def test_backprop_from_zeros_is_said_for_a_task_without_init_scheme_and_a_registered_bp(
    task, tmp_path, capsys
):
    """Two routes to a BP baseline that silently stays at chance: a task of one's own that
    hard-codes the zero start (no init_scheme to read), and a BP variant registered with
    register_learner's default init_scheme="zero". Both are said; the CLI also says when no
    rate of its grid trained above chance."""
    from tdca.cli import main
    from tdca.credit import LEARNERS, register_learner
    from tdca.credit.strategies import _WARNED_ZERO_BP, starts_from_zeros

    class OwnTask:  # what README's Task protocol lists: no init_scheme field
        def __init__(self, scheme):
            self.scheme = scheme

        def init_params(self, key):
            return task.model.init(key, self.scheme)

    assert starts_from_zeros(OwnTask("zero")) and not starts_from_zeros(OwnTask("kaiming"))
    with pytest.warns(UserWarning, match="moves only the output biases"):
        make_strategy("bp", OwnTask("zero"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_strategy("bp", OwnTask("kaiming"))

    class ClippedBP(BP):
        def direction(self, sparams, task, theta, batch):
            d = super().direction(sparams, task, theta, batch)
            return jax.tree.map(lambda g: jnp.clip(g, -0.05, 0.05), d)

    data = _three_classes(tmp_path / "d.npz", 240)
    argv = ["train", "--dataset", f"npz:{data}", "--learner", "bp-clip", "--train-size", "90"]
    argv += ["--steps", "3", "--out", str(tmp_path / "run")]
    try:
        register_learner("bp-clip", lambda t: ClippedBP())  # init_scheme left at "zero"
        with pytest.warns(UserWarning, match=r"'bp-clip' is backprop \(ClippedBP\) started"):
            assert main(argv) == 0
        err = capsys.readouterr().err
        assert "no learning rate in" in err and "trained bp-clip above chance" in err
        metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
        assert metrics["lr_tuning"]["above_chance"] is False
    finally:
        LEARNERS.pop("bp-clip", None)
        _WARNED_ZERO_BP.discard("bp-clip")


def test_parameters_shaped_for_another_network_are_named(task):
    """A strategy's parameters built for another architecture are refused with both
    shapes, not met as a broadcasting error in the local rule."""
    other = task.replace(model=MLP((8, 7, 5, 3)))
    dfa = DFA.for_task(task)
    foreign = DFA.for_task(other).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"parameters are not shaped .*\(3, 7\).*\[\(3, 6\)"):
        InnerLoop(dfa, 2, 0.1).run(foreign, task, jax.random.key(1))


def test_a_strategy_whose_init_cannot_be_traced_still_runs(task):
    """The parameter-shape check traces ``init``; a user's init that seeds numpy from the
    key cannot be traced, and the loop then runs unchecked, as before the check."""

    class NumpyDFA(DFA):
        def init(self, key):
            rng = np.random.default_rng(int(jax.random.key_data(key).sum()))
            return [jnp.asarray(rng.normal(size=(3, u)), jnp.float32) for u in (6, 5)]

    dfa = NumpyDFA(units=DFA.for_task(task).units)
    theta, _ = InnerLoop(dfa, 3, 0.1).run(dfa.init(jax.random.key(0)), task, jax.random.key(1))
    assert all(bool(jnp.isfinite(a).all()) for a in jax.tree.leaves(theta))
