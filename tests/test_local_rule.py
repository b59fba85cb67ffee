"""The local rule is the formula in the papers, and BP's credits through it give jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np

from tdca.credit import local_update
from tdca.networks import MLP
from tdca.tasks import ClassificationTask


def _tiny(seed=0, sizes=(5, 4, 3, 2), n=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=n)
    mlp = MLP(sizes)
    params = mlp.init(jax.random.PRNGKey(seed), "kaiming")
    params = [{"w": p["w"], "b": p["b"] + 0.1} for p in params]
    return mlp, params, x, y


def test_local_rule_equals_explicit_formula():
    mlp, params, x, _y = _tiny()
    _, taps = mlp.forward(params, jnp.asarray(x))
    rng = np.random.default_rng(1)
    credits = [rng.normal(size=(x.shape[0], u)).astype(np.float32) for u in mlp.units]
    got = local_update(taps, [jnp.asarray(c) for c in credits])

    # Explicit loops: dW[i, j] = mean_b credit[b, j] * g'(z[b, j]) * input[b, i]
    a = x.astype(np.float64)
    for layer, (p, c) in enumerate(zip(params, credits, strict=True)):
        w, b = np.asarray(p["w"], np.float64), np.asarray(p["b"], np.float64)
        z = a @ w + b
        last = layer == len(params) - 1
        gp = np.ones_like(z) if last else 1 - np.tanh(z) ** 2
        dw = np.zeros_like(w)
        db = np.zeros_like(b)
        for n in range(x.shape[0]):
            for i in range(w.shape[0]):
                for j in range(w.shape[1]):
                    dw[i, j] += c[n, j] * gp[n, j] * a[n, i] / x.shape[0]
            db += c[n] * gp[n] / x.shape[0]
        np.testing.assert_allclose(got[layer]["w"], dw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[layer]["b"], db, rtol=1e-5, atol=1e-6)
        a = z if last else np.tanh(z)


def test_backprop_credits_through_local_rule_equal_jax_grad():
    """Credit = delta_{l+1} W_{l+1}^T through the local rule is exactly -grad(CE)."""
    mlp, params, x, y = _tiny(3)
    task = ClassificationTask.create(x, y, mlp, num_classes=2)
    batch = (task.x, task.y)
    taps, err = task.taps_and_error(params, batch)
    credits, delta = [err], err
    for i in range(len(taps) - 2, -1, -1):
        c = delta @ params[i + 1]["w"].T
        credits.insert(0, c)
        delta = c * (1 - jnp.tanh(taps[i].pre) ** 2)
    got = local_update(taps, credits)
    want = jax.grad(task.loss)(params, batch)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], -w["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["b"], -w["b"], rtol=1e-5, atol=1e-6)


def test_init_schemes():
    mlp = MLP((784, 100, 10))
    key = jax.random.PRNGKey(0)
    zero = mlp.init(key, "zero")
    near = mlp.init(key, "near_zero")
    kaim = mlp.init(key, "kaiming")
    assert all(float(jnp.abs(p["w"]).max()) == 0 for p in zero)
    assert all(0 < float(jnp.abs(p["w"]).max()) <= 1e-16 for p in near)
    std = float(jnp.std(kaim[0]["w"]))
    assert abs(std - np.sqrt(2 / 784)) < 0.1 * np.sqrt(2 / 784)
    assert mlp.num_params() == 784 * 100 + 100 + 100 * 10 + 10
