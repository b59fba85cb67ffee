"""Credit diffusion kernels and layouts (2024 paper eq. 2, Table S3 configurations)."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdca.credit import CreditLayout, Diffusion, LayerCredits, grid_diffusion, line_diffusion


@pytest.mark.parametrize("k,n", [(10, 100), (100, 1000), (36, 900), (7, 20)])
def test_line_kernel_shape_centre_weight_and_symmetry(k, n):
    d = line_diffusion(k, n, sigma=5.0)
    assert d.shape == (k, n)
    centres = np.argmax(d, axis=1)
    np.testing.assert_allclose(d[np.arange(k), centres], 1.0)
    assert np.all(np.diff(centres) > 0)  # evenly spread, in order
    for i, c in enumerate(centres):  # symmetric about each centre
        r = min(c, n - 1 - c)
        np.testing.assert_allclose(d[i, c - r : c], d[i, c + 1 : c + r + 1][::-1], rtol=1e-6)
    # exactly the formula
    np.testing.assert_allclose(d[0, centres[0] + 3], np.exp(-9 / 25), rtol=1e-6)


def test_dense_kernel_is_symmetric():
    d = line_diffusion(30, 30, sigma=5.0)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(np.diag(d), 1.0)


def test_grid_kernel_6x6_over_30x30():
    d = grid_diffusion((6, 6), (30, 30), sigma=5.0)
    assert d.shape == (36, 900)
    np.testing.assert_allclose(d.max(axis=1), 1.0)
    c = int(np.argmax(d[0]))
    r0, c0 = divmod(c, 30)
    assert (r0, c0) == (2, 2)  # middle of the first 5x5 block
    img = d[0].reshape(30, 30)
    np.testing.assert_allclose(img[r0 + 1, c0 + 2], np.exp(-5 / 25), rtol=1e-6)
    np.testing.assert_allclose(img[r0 + 1, c0 + 2], img[r0 + 2, c0 + 1], rtol=1e-6)
    np.testing.assert_allclose(img[r0 - 1, c0], img[r0 + 1, c0], rtol=1e-6)


@given(k=st.integers(1, 40), extra=st.integers(0, 200), sigma=st.floats(0.5, 20))
def test_line_kernel_properties(k, extra, sigma):
    n = k + extra
    d = line_diffusion(k, n, sigma)
    assert d.shape == (k, n)
    assert np.all((d > 0) | (d == 0)) and np.all(d <= 1.0 + 1e-6)
    np.testing.assert_allclose(d.max(axis=1), 1.0, rtol=1e-6)


def test_layout_expands_and_diffuses():
    layout = CreditLayout((LayerCredits(100, Diffusion("line", (10,), (100,))), LayerCredits(10)))
    assert layout.num_credits == 20 and layout.units == (100, 10)
    credits = jnp.arange(2 * 20, dtype=jnp.float32).reshape(2, 20)
    hidden, out = layout.expand(credits)
    assert hidden.shape == (2, 100) and out.shape == (2, 10)
    np.testing.assert_allclose(out, credits[:, 10:])
    np.testing.assert_allclose(hidden, credits[:, :10] @ line_diffusion(10, 100), rtol=1e-5)


def test_bad_diffusion_configs_are_refused():
    with pytest.raises(ValueError, match="credits <= neurons"):
        line_diffusion(200, 100)
    with pytest.raises(ValueError, match="2-D"):
        Diffusion("grid", (36,), (900,))
    with pytest.raises(ValueError, match="covers 900 neurons"):
        LayerCredits(100, Diffusion("grid", (6, 6), (30, 30)))
    with pytest.raises(ValueError, match="sigma"):
        line_diffusion(10, 100, sigma=0)
    # From a layout string: refused when parsed, naming the layer, not when first used.
    from tdca.credit.layout import CreditLayout

    with pytest.raises(ValueError, match=r"'grid:0x5' does not fit hidden layer 1 \(900 units\)"):
        CreditLayout.parse("grid:0x5", (900, 10))
    with pytest.raises(ValueError, match=r"'line:1000' does not fit hidden layer 1"):
        CreditLayout.parse("line:1000", (900, 10))
    with pytest.raises(ValueError, match="must be 'dense', 'line:K' or 'grid:RxC'"):
        CreditLayout.parse("grid:6x", (900, 10))
    # NaN passes "sigma <= 0" and made every credit NaN
    for sigma in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
            Diffusion("line", (4,), (16,), sigma)
        with pytest.raises(ValueError, match=r"hidden layer 1 .* sigma must be a finite"):
            CreditLayout.parse("line:4", (16, 3), sigma=sigma)
    # a network without hidden layers has nothing to diffuse over: not silently dense
    with pytest.raises(ValueError, match=r"credited layers \(3,\) have none; use 'dense'"):
        CreditLayout.parse("line:4", (3,))


@pytest.mark.parametrize("k,n", [(10, 100), (36, 900), (7, 20)])
def test_group_scope_line_keeps_each_credit_in_its_own_group(k, n):
    """``scope="group"`` is the paper's "within the same group": each neuron gets exactly
    one credit (its group's, attenuated by the distance to that group's centre), which the
    summed layer-wide kernel is not (there, a group's edge hears its neighbours)."""
    layer, group = line_diffusion(k, n), line_diffusion(k, n, scope="group")
    assert ((group > 0).sum(axis=0) == 1).all()  # one source per neuron
    assert ((layer > 0).sum(axis=0) > 1).any()
    own = np.argmax(group, axis=0)
    assert (np.diff(own) >= 0).all() and set(own) == set(range(k))  # contiguous groups
    np.testing.assert_array_equal(group[own, np.arange(n)], layer[own, np.arange(n)])
    sizes = np.bincount(own, minlength=k)
    assert sizes.max() - sizes.min() <= 1  # equal groups
    centres = np.argmax(layer, axis=1)
    assert (own[centres] == np.arange(k)).all()  # each centre lies in its own group


def test_group_scope_grid_and_layout_suffix():
    group = grid_diffusion((6, 6), (30, 30), scope="group")
    assert ((group > 0).sum(axis=0) == 1).all()
    blocks = np.argmax(group, axis=0).reshape(30, 30)
    np.testing.assert_array_equal(blocks, (np.arange(30)[:, None] // 5) * 6 + np.arange(30) // 5)
    layout = CreditLayout.parse("grid:6x6/group", (900, 10))
    np.testing.assert_array_equal(layout._kernels[0], group)
    again = CreditLayout.from_description(layout.describe())
    np.testing.assert_array_equal(again._kernels[0], group)
    assert layout.describe()[0]["scope"] == "group"
    assert "scope" not in CreditLayout.parse("line:10", (100, 10)).describe()[0]
    line = CreditLayout.parse("line:10/group", (100, 10))  # the suffix on a line too
    np.testing.assert_array_equal(line._kernels[0], line_diffusion(10, 100, scope="group"))
    assert line.describe()[0]["scope"] == "group"
    for bad in ("line:10/groups", "line:10/"):
        with pytest.raises(ValueError, match="only suffix is '/group'"):
            CreditLayout.parse(bad, (100, 10))
    with pytest.raises(ValueError, match="scope"):
        Diffusion("line", (10,), (100,), scope="neighbours")
