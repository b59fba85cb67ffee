"""The CNN bottom-up network: per-channel conv credits follow the local-rule definition,
backprop credits reproduce jax.grad where they can, and the CNN trains inside the tasks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tdca.credit import TDCA, make_strategy
from tdca.inner import InnerLoop
from tdca.networks import CNN
from tdca.networks.cnn import conv2d
from tdca.tasks import ClassificationTask


def _tiny(stride=1, seed=0, n=5, input_shape=(6, 6, 2), kernel=3, channels=3):
    model = CNN(input_shape, channels, kernel, stride, hidden=(4, 3), num_classes=2)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, int(np.prod(input_shape)))).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    params = model.init(jax.random.PRNGKey(seed), "kaiming")
    params = [{"w": p["w"], "b": p["b"] + 0.1} for p in params]  # nonzero biases too
    return model, params, x, y


def _taps_and_update(model, params, x, credits):
    """Forward then local rule, as one compiled program (eager ops each compile: slow)."""

    @jax.jit
    def run(params, x, credits):
        _, taps = model.forward(params, x)
        return taps, model.local_update(taps, credits)

    return run(params, jnp.asarray(x), [jnp.asarray(c) for c in credits])


def _bp_credits(params, taps, err):
    """Backprop's dense credits: credit_l = delta_{l+1} @ W_{l+1}^T, bottom to top."""
    credits, delta = [err], err
    for i in range(len(taps) - 2, -1, -1):
        c = delta @ params[i + 1]["w"].T
        credits.insert(0, c)
        delta = c * (1 - jnp.tanh(taps[i].pre) ** 2)
    return credits


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_rule_equals_explicit_formula(stride):
    model, params, x, _y = _tiny(stride)
    rng = np.random.default_rng(1)
    credits = [rng.normal(size=(x.shape[0], u)).astype(np.float32) for u in model.units]
    taps, update = _taps_and_update(model, params, x, credits)
    got = update[0]

    # Explicit float64 loops over batch, output positions, kernel offsets and channels.
    img = x.astype(np.float64).reshape(x.shape[0], *model.input_shape)
    k = np.asarray(params[0]["w"], np.float64)
    bias = np.asarray(params[0]["b"], np.float64)
    kh_n, kw_n, cin_n, cout_n = k.shape
    ho, wo, _ = model.conv_shape
    z = np.zeros((x.shape[0], ho, wo, cout_n))
    for b in range(x.shape[0]):
        for i in range(ho):
            for j in range(wo):
                patch = img[b, i * stride : i * stride + kh_n, j * stride : j * stride + kw_n]
                z[b, i, j] = np.einsum("hwc,hwco->o", patch, k) + bias
    np.testing.assert_allclose(taps[0].pre, z, rtol=1e-5, atol=1e-5)
    gp = 1 - np.tanh(z) ** 2
    c = credits[0].astype(np.float64)
    dk, db = np.zeros_like(k), np.zeros_like(bias)
    n = x.shape[0]
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for co in range(cout_n):
                    d = c[b, co] * gp[b, i, j, co] / n
                    db[co] += d
                    for kh in range(kh_n):
                        for kw in range(kw_n):
                            for ci in range(cin_n):
                                pix = img[b, i * stride + kh, j * stride + kw, ci]
                                dk[kh, kw, ci, co] += d * pix
    assert got["w"].shape == k.shape and got["b"].shape == bias.shape
    np.testing.assert_allclose(got["w"], dk, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["b"], db, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_rule_is_grad_of_credit_weighted_activity(stride):
    """With credit c fixed, the conv update is grad of mean_b sum_pos,ch c * tanh(z)."""
    model, params, x, _y = _tiny(stride, seed=2)
    c = jax.random.normal(jax.random.PRNGKey(3), (x.shape[0], model.channels))
    credits = [c] + [jnp.zeros((x.shape[0], u)) for u in model.units[1:]]
    _, update = _taps_and_update(model, params, x, credits)
    got = update[0]

    def activity(layer):
        img = jnp.asarray(x).reshape(x.shape[0], *model.input_shape)
        z = conv2d(img, layer["w"], stride) + layer["b"]
        return jnp.mean(jnp.sum(c[:, None, None, :] * jnp.tanh(z), axis=(1, 2, 3)))

    want = jax.jit(jax.grad(activity))(params[0])
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["b"], want["b"], rtol=1e-5, atol=1e-6)


def test_backprop_credits_reproduce_grad_for_dense_layers():
    model, params, x, y = _tiny(2, seed=4)
    task = ClassificationTask.create(x, y, model, num_classes=2)

    @jax.jit
    def both(params, batch):
        taps, err = task.taps_and_error(params, batch)
        credits = _bp_credits(params[1:], taps[1:], err)
        got = model.local_update(taps, [jnp.ones((x.shape[0], model.channels)), *credits])
        return got, jax.grad(task.loss)(params, batch)

    got, want = both(params, (task.x, task.y))
    for g, w in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(g["w"], -w["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["b"], -w["b"], rtol=1e-5, atol=1e-6)


def test_single_position_conv_is_a_dense_layer_so_bp_credits_are_exact():
    """When the kernel covers the image there is one position, so per-channel credit is
    per-neuron credit and backprop's credits through every layer give exactly -grad."""
    model, params, x, y = _tiny(1, seed=5, input_shape=(3, 3, 2), kernel=3)
    assert model.conv_shape == (1, 1, model.channels)
    task = ClassificationTask.create(x, y, model, num_classes=2)

    @jax.jit
    def both(params, batch):
        taps, err = task.taps_and_error(params, batch)
        flat_taps = [taps[0]._replace(pre=taps[0].pre.reshape(x.shape[0], -1)), *taps[1:]]
        got = model.local_update(taps, _bp_credits(params, flat_taps, err))
        return got, jax.grad(task.loss)(params, batch)

    got, want = both(params, (task.x, task.y))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], -w["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["b"], -w["b"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "conv", "n_params"),
    [((28, 28, 1), (12, 12, 16), 242_026), ((32, 32, 3), (14, 14, 16), 326_026)],
)
def test_forward_shapes_units_and_param_count(shape, conv, n_params):
    model = CNN(input_shape=shape)
    params = model.init(jax.random.PRNGKey(0), "near_zero")
    x = jnp.ones((4, int(np.prod(shape))))
    logits, taps = jax.jit(model.forward)(params, x)
    assert logits.shape == (4, 10)
    assert model.units == (16, 100, 100, 10)
    assert model.conv_shape == conv
    k, c_in = model.kernel, shape[2]
    assert [t.inputs.shape for t in taps] == [
        (4, *conv[:2], c_in * k * k),  # the conv layer's input is its patches
        (4, int(np.prod(conv))),
        (4, 100),
        (4, 100),
    ]
    assert [t.pre.shape[1:] for t in taps] == [conv, (100,), (100,), (10,)]
    assert model.num_params() == n_params == sum(p.size for p in jax.tree.leaves(params))
    update = jax.jit(model.local_update)(taps, [jnp.ones((4, u)) for u in model.units])
    assert jax.tree.map(jnp.shape, update) == jax.tree.map(jnp.shape, params)


def test_flat_inputs_are_read_in_hwc_order():
    """A kernel that picks channel 2 at offset (0, 0) must see image[:, ::2, ::2, 2]."""
    model = CNN(input_shape=(32, 32, 3), channels=1)
    params = model.init(jax.random.PRNGKey(0), "zero")
    params[0]["w"] = params[0]["w"].at[0, 0, 2, 0].set(1.0)
    img = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
    _, taps = jax.jit(model.forward)(params, img.reshape(2, -1))
    np.testing.assert_allclose(taps[0].pre[..., 0], img[:, 0:28:2, 0:28:2, 2], atol=1e-6)


def test_init_schemes():
    model = CNN()
    key = jax.random.PRNGKey(0)
    zero = model.init(key, "zero")
    near = model.init(key, "near_zero")
    kaim = model.init(key, "kaiming")
    assert all(float(jnp.abs(a).max()) == 0 for a in jax.tree.leaves(zero))
    assert all(0 < float(jnp.abs(a).max()) <= 1e-16 for a in jax.tree.leaves(near))
    for layer, fan_in in zip(kaim, (5 * 5 * 1, 2304, 100, 100), strict=True):
        want = np.sqrt(2 / fan_in)
        assert abs(float(jnp.std(layer["w"])) - want) < 0.15 * want
        assert float(jnp.abs(layer["b"]).max()) == 0
    with pytest.raises(ValueError, match="init scheme"):
        model.init(key, "xavier")
    with pytest.raises(ValueError, match="kernel"):
        CNN(input_shape=(4, 4, 1), kernel=5)


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    model = CNN(
        input_shape=(8, 8, 2), channels=4, kernel=3, stride=2, hidden=(16, 12), num_classes=3
    )
    x = rng.normal(size=(32, 128)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    return ClassificationTask.create(x, y, model, num_classes=3, init_scheme="kaiming")


def _train(strategy, task, steps, key=3, record=None):
    """(theta0, theta_M, trace) of an inner loop from kaiming init, compiled as one program."""

    @jax.jit
    def run(task, key):
        k_s, k_theta, k_run = jax.random.split(key, 3)
        theta0 = task.init_params(k_theta)
        loop = InnerLoop(strategy, steps, 0.1)
        return theta0, *loop.run(strategy.init(k_s), task, k_run, theta0, record)

    return run(task, jax.random.PRNGKey(key))


def test_bp_trains_the_cnn(task):
    theta0, _theta, losses = _train(
        make_strategy("bp", task), task, 30, record=lambda t, th: t.loss(th, (t.x, t.y))
    )
    start = float(task.loss(theta0, (task.x, task.y)))
    assert np.all(np.isfinite(losses))
    assert float(losses[-1]) < 0.7 * start


@pytest.mark.parametrize("name", ["tdca", "dfa"])
def test_local_strategies_run_on_the_cnn(task, name):
    theta0, theta, _ = _train(make_strategy(name, task), task, 5)
    assert jax.tree.map(jnp.shape, theta) == jax.tree.map(jnp.shape, theta0)
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(theta))
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), theta, theta0)
    assert all(m > 0 for m in jax.tree.leaves(moved))


def test_tdca_population_vmaps_over_the_cnn(task):
    """Evolution scores a population with vmap; it must agree with one-by-one runs."""
    strategy = make_strategy("tdca", task)
    loop = InnerLoop(strategy, 3, 0.1)
    pop = jax.vmap(strategy.init)(jax.random.split(jax.random.PRNGKey(7), 3))
    key = jax.random.PRNGKey(8)
    fitness = jax.jit(loop.fitness)
    together = jax.jit(jax.vmap(loop.fitness, in_axes=(0, None, None)))(pop, task, key)
    one_by_one = [fitness(jax.tree.map(lambda a, i=i: a[i], pop), task, key) for i in range(3)]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-5)
    assert len(set(np.round(np.asarray(together), 6))) == 3


def test_tdca_credits_reach_the_cnn_through_its_own_local_rule(task):
    """A linear credit net emitting B (y - p), i.e. DFA, lands in model.local_update."""
    units = task.credit_units
    assert units == (4, 16, 12, 3)
    b_dfa = jax.random.normal(jax.random.PRNGKey(5), (3, sum(units[:-1])))
    b_all = jnp.concatenate([b_dfa, jnp.eye(3)], axis=1)
    tdca = TDCA.for_task(task, hidden=())
    beta = [{"w": jnp.concatenate([-b_all, b_all], 0), "b": jnp.zeros(b_all.shape[1])}]

    @jax.jit
    def both(theta, batch):
        taps, err = task.taps_and_error(theta, batch)
        credits = jnp.split(err @ b_all, np.cumsum(units)[:-1], axis=1)
        return tdca.direction(beta, task, theta, batch), task.model.local_update(taps, credits)

    got, want = both(task.init_params(jax.random.PRNGKey(6)), (task.x, task.y))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["b"], w["b"], rtol=1e-5, atol=1e-6)


def test_fa_is_not_silently_run_on_the_cnn(task):
    """FA's W^T-shaped feedback has no per-channel meaning for a conv layer."""
    with pytest.raises(TypeError, match="needs an MLP bottom-up network, not CNN"):
        _train(make_strategy("fa", task), task, 2)


def test_conv_as_patches_matmul_equals_xla_convolution():
    """conv2d (patches @ kernel matrix, fast under vmap) is the standard convolution."""
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 11, 9, 2))
    kernel = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 4))
    for stride in (1, 2):
        want = jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        np.testing.assert_allclose(conv2d(x, kernel, stride), want, rtol=1e-5, atol=1e-5)
