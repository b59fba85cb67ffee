"""Complexity analysis: parameter counts, analytic FLOPs, the XLA cross-check, Table S4."""

import jax
import numpy as np
import pytest

from tdca import complexity as cx
from tdca.credit import TDCA
from tdca.inner import InnerLoop
from tdca.networks import MLP
from tdca.tasks import ClassificationTask

MNIST_100 = (784, 100, 10)


def test_bottom_up_and_bp_feedback_params():
    # (784+1)*100 + (100+1)*10
    assert cx.bottom_up_params(MNIST_100) == 79_510
    # BP's "Param" in Table S4: the 10x100 (10x900) weights the error goes back through.
    assert cx.bp_feedback_params(MNIST_100) == 1_000
    assert cx.bp_feedback_params((784, 900, 10)) == 9_000


def test_credit_net_params_match_hand_counts():
    # 20->30->30->110 (100 hidden + 10 output credits): 630 + 930 + 31*110
    assert cx.credit_net_params("neurons", MNIST_100) == 4_970
    # 10 diffused credits for 100 hidden + 10 output credits = 20 outputs.
    assert cx.credit_net_params("groups", MNIST_100, cx.group_layout(MNIST_100, 10)) == 2_180
    big = (784, 900, 10)  # 36-to-900 + 10 = 46 outputs
    assert cx.credit_net_params("groups", big, cx.group_layout(big, 36)) == 2_986
    assert cx.credit_net_params("groups", big, cx.group_layout(big, 36, kind="grid")) == 2_986
    # One credit per parameter: 630 + 930 + 31*79,510.
    assert cx.credit_net_params("parameters", MNIST_100) == 1_560 + 31 * 79_510 == 2_466_370


def test_credit_net_matches_the_library_tdca():
    task = cx.spec_task(MNIST_100, 4)
    layout = cx.group_layout(MNIST_100, 10)
    assert TDCA.for_task(task).net.num_params() == cx.credit_net_params("neurons", MNIST_100)
    assert TDCA.for_task(task, layout=layout).net.num_params() == cx.credit_net_params(
        "groups", MNIST_100, layout
    )


def test_paper_credit_parameters_decomposition():
    """Documents the inference in the module docstring: both paper counts are 61*P' + 960."""
    paper_mnist, paper_cifar = 4_892_794, 18_807_870
    assert (paper_cifar - paper_mnist) % 61 == 0
    assert paper_mnist == 61 * (784 * 101 + 101 * 10) + 960
    assert paper_cifar == 61 * cx.bottom_up_params((3072, 100, 10)) + 960


def test_bp_step_flops_hand_count():
    # sizes (3, 2, 2), one example; matmuls count 2 FLOPs per multiply-add.
    f = cx.bp_step_flops((3, 2, 2), 1)
    assert f.terms["forward_matmul"] == 2 * (3 * 2 + 2 * 2) == 20
    assert f.terms["forward_bias"] == 4
    assert f.terms["backward_dw"] == 20
    assert f.terms["backward_db"] == 4
    assert f.terms["backward_delta"] == 2 * 2 * 2 + 3 * 2 == 14  # delta W2^T, * (1 - t^2)
    assert f.terms["loss_and_grad"] == 8 * 2
    assert f.terms["sgd"] == 2 * 14
    assert f.flops == 20 + 4 + 20 + 4 + 14 + 16 + 28 == 106
    assert f.transcendentals == 2 + 2  # tanh on 2 hidden units, exp on 2 logits


def test_tdca_step_flops_hand_count():
    # sizes (3, 2, 2), credit net 4 -> 4 -> 4 (inputs [p, onehot], 2 + 2 credits), B = 1.
    f = cx.tdca_step_flops((3, 2, 2), 1, hidden=(4,))
    assert f.terms["credit_net_matmul"] == 2 * (4 * 4 + 4 * 4) == 64
    assert f.terms["credit_net_bias"] == 8
    assert f.terms["credit_state"] == 5 * 2
    assert f.terms["local_dw"] == 2 * (6 + 4) + (6 + 4) == 30  # x^T delta, then / B
    assert f.terms["local_db"] == 8
    assert f.terms["local_slope"] == 6
    assert f.flops == 20 + 4 + 10 + 64 + 8 + 30 + 8 + 6 + 28 == 178
    # Groups: one credit diffused over the 2 hidden units adds 2*1*2 and shrinks the net.
    g = cx.tdca_step_flops((3, 2, 2), 1, cx.group_layout((3, 2, 2), 1), hidden=(4,))
    assert g.terms["diffusion"] == 4
    assert g.terms["credit_net_matmul"] == 2 * (4 * 4 + 4 * 3)


def test_paper_accounting_reproduces_table_s4():
    rows = cx.complexity_table(with_xla=False)
    assert len(rows) == 12
    for r in rows:
        if r["setting"] != "Credit parameters":
            assert r["params"] == r["paper_params"], r
            assert r["credit_mflops"] == pytest.approx(r["paper_mflops"]), r
        assert r["step_mflops"] > r["credit_mflops"]
    mnist = {r["setting"]: r for r in rows if r["dataset"] == "mnist"}
    assert mnist["BP(100 hidden)"]["batch"] == 60_000
    assert mnist["Credit groups (900 hidden)"]["diffusion_mflops"] == pytest.approx(3_888.0)


def test_cost_dict_handles_both_jax_return_types():
    assert cx.cost_dict({"flops": 3.0})["flops"] == 3.0
    assert cx.cost_dict([{"flops": 5.0, "transcendentals": 1.0}]) == {
        "flops": 5.0,
        "transcendentals": 1.0,
    }
    assert cx.cost_dict(None)["flops"] == 0.0


@pytest.mark.parametrize(("method", "credits"), [("bp", None), ("neurons", None), ("groups", 4)])
def test_analytic_matches_xla(method, credits):
    sizes = (32, 16, 10)
    layout = cx.group_layout(sizes, credits) if credits else None
    check = cx.cross_check(method, sizes, 16, layout)
    lo, hi = cx.XLA_TOLERANCE
    assert lo <= check["ratio"] <= hi, check
    assert check["ok"]


def test_inner_step_is_one_inner_loop_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=12)
    task = ClassificationTask.create(x, y, MLP((6, 5, 3)), 3, init_scheme="kaiming")
    strategy = TDCA.for_task(task, layout=cx.group_layout((6, 5, 3), 2))
    sparams = strategy.init(jax.random.PRNGKey(1))
    theta0 = task.init_params(jax.random.PRNGKey(2))
    loop = InnerLoop(strategy, 1, 0.3)
    want, _ = loop.run(sparams, task, jax.random.PRNGKey(3), theta0=theta0)
    got, _ = jax.jit(cx.inner_step(strategy, 0.3))(theta0, loop.tx.init(theta0), sparams, task)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g["b"], w["b"], rtol=1e-6, atol=1e-7)


def test_table_with_xla_and_markdown():
    rows = cx.complexity_table(batch=8, datasets=("mnist",))
    checked = [r for r in rows if r["xla_ratio"] is not None]
    assert len(checked) == 5  # all but "Credit parameters"
    lo, hi = cx.XLA_TOLERANCE
    assert all(lo <= r["xla_ratio"] <= hi for r in checked)
    md = cx.to_markdown(rows).splitlines()
    assert len(md) == 2 + len(rows)
    assert md[2].startswith("| mnist | BP(100 hidden) | 8 | 1,000 | 1,000 |")


def test_bad_arguments():
    with pytest.raises(ValueError, match="credit layout"):
        cx.credit_outputs("groups", MNIST_100)
    with pytest.raises(ValueError, match="unknown method"):
        cx.step_flops("fa", MNIST_100, 1)
    with pytest.raises(ValueError, match="square"):
        cx.group_layout((784, 100, 10), 10, kind="grid")
    with pytest.raises(ValueError, match="hidden layers"):
        cx.group_layout((784, 100, 10), (10, 10))
