"""Classification experiments on small synthetic data sets (npz), end to end."""

import json
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tdca.cli import main
from tdca.credit import CreditLayout, make_strategy
from tdca.credit.artifact import load_credit_net, save_credit_net
from tdca.credit.strategies.tdca import dfa_like_init
from tdca.data import canonical_name
from tdca.evolution import ESConfig
from tdca.experiments.classification import (
    EvolveConfig,
    MeanOverTasks,
    above_chance,
    build_model,
    choose_rate,
    make_split,
    make_task,
    pick_inner_lr,
    run_evolve,
    seeds_summary,
    starting_point,
    train_learner,
    tune_lr,
    within_count,
)
from tdca.experiments.lr_grid import next_rate
from tdca.experiments.report import results_document, table_markdown
from tdca.inner import InnerLoop, make_optimizer
from tdca.io import ArtifactError
from tdca.networks import MLP
from tdca.tasks.classification import ClassificationTask, accuracy, cross_entropy


def _npz(path, shape, n_train=300, n_test=200, seed=0):
    """Ten classes, each a fixed random prototype image plus noise (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, size=(10, *shape))

    def draw(n):
        y = rng.integers(0, 10, size=n)
        x = protos[y] * 0.5 + rng.integers(0, 128, size=(n, *shape))
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int32)

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    np.savez(path, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return f"npz:{path}"


def _first_centre_fitness(out, fitness_data=None):
    """Generation 0's centre fitness as the run logged it, and as recomputed here from its
    config.json and starting credit network: an option that never reached the evolution's
    inner loop or fitness (optimizer, fitness data, fitness over the last steps, metric)
    makes the two differ, where checking config.json alone would not notice."""
    cfg = json.loads((out / "config.json").read_text())
    cfg["fitness_data"] = fitness_data or cfg["fitness_data"]
    strategy, beta0, _ = load_credit_net(out / "credit_net_start.npz")
    (spec,) = cfg["datasets"]
    held = cfg["fitness_data"] == "validation"
    split = make_split(spec, None, cfg["train_size"], validation=held, whole_cell=held)
    holdout = within_count(cfg["train_size"]) if cfg["fitness_data"] == "within" else 0
    model = build_model(cfg["arch"], split.dataset)
    task = make_task(
        split,
        model,
        "zero",
        fitness_metric=cfg["fitness"],
        fitness_on_eval=held,
        fit_holdout=holdout,
    )
    tx = make_optimizer(cfg["optimizer"], cfg["lr"])
    loop = InnerLoop(strategy, cfg["steps"], cfg["lr"], tx, fitness_last=cfg["fitness_last"])
    k_eval = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), 0), 3)[1]
    logged = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["centre_fitness"]
    return logged, float(loop.fitness(beta0, task, k_eval))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return {"small": _npz(d / "a.npz", (28, 28)), "rgb": _npz(d / "b.npz", (32, 32, 3), seed=1)}


@pytest.fixture(scope="module")
def evolved(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("evo") / "run"
    cfg = EvolveConfig(
        datasets=(data["small"],),
        train_size=200,
        steps=10,
        lr=0.1,
        es=ESConfig(population=8, generations=3, sigma_init=0.003, learning_rate=0.001),
    )
    metrics = run_evolve(cfg, out, progress=False)
    return out, metrics


def test_evolve_writes_a_self_describing_credit_network(evolved):
    out, metrics = evolved
    strategy, _beta, meta = load_credit_net(out)
    assert meta["kind"] == "tdca-credit-net" and meta["generations"] == 3
    assert meta["arch"] == "mlp-100" and meta["steps"] == 10 and meta["layout_spec"] == "dense"
    assert strategy.net.sizes == (20, 30, 30, 110)
    assert metrics["results"][0]["train_accuracy"] > 0.35  # chance is 0.1
    assert (out / "metrics.json").exists() and (out / "fitness.png").exists()


def test_each_generation_logs_the_centres_cross_entropy_and_accuracy(evolved, data):
    """Figure S1 needs both curves: every history line carries the search centre's
    cross-entropy and accuracy on the fitness images, and generation 0's are those of the
    starting credit network's inner loop, recomputed here."""
    out, _ = evolved
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 3
    assert all(h["centre_loss"] == pytest.approx(-h["centre_fitness"]) for h in history)
    strategy, beta0, _ = load_credit_net(out / "credit_net_start.npz")
    split = make_split(data["small"], None, 200)
    model = build_model("mlp-100", split.dataset)
    loop = InnerLoop(strategy, 10, 0.1)
    k_eval = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(0), 0), 3)[1]
    theta, _ = loop.run(beta0, make_task(split, model, "zero"), jax.random.split(k_eval)[0])
    expected = float(accuracy(model.apply(theta, split.x_train), split.y_train))
    assert history[0]["centre_accuracy"] == pytest.approx(expected, abs=1e-6)
    assert 0.1 < expected < 1.0  # it trained, so the value is not a trivial one


def test_evolve_evaluates_the_credit_network_it_started_from(evolved, data):
    """metrics.json's at_start is the generation-0 credit network trained the same way,
    and credit_net_start.npz holds exactly the parameters the evolution began from."""
    out, metrics = evolved
    _, beta0, meta0 = load_credit_net(out / "credit_net_start.npz")
    _, beta, _ = load_credit_net(out)
    assert meta0["generations"] == 0 and meta0["arch"] == "mlp-100"
    cfg = EvolveConfig.from_dict(json.loads((out / "config.json").read_text()))
    split = make_split(data["small"], None, 200)
    _, expected = starting_point(
        cfg, make_task(split, build_model("mlp-100", split.dataset), "zero")
    )
    assert all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(beta0), jax.tree.leaves(expected), strict=True)
    )
    assert not all(  # evolution moved the centre, so the two files differ
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(beta0), jax.tree.leaves(beta), strict=True)
    )
    start = metrics["at_start"][0]
    again = train_learner(f"tdca:{out / 'credit_net_start.npz'}", split, steps=10, lr=0.1)
    assert start["test_accuracy"] == again["test_accuracy"]


def test_credit_network_from_784_inputs_trains_a_3072_input_network(evolved, data):
    out, _ = evolved
    split = make_split(data["rgb"], None, 300)
    r = train_learner(f"tdca:{out}", split, steps=10, lr=0.03)  # 4x the inputs: smaller lr
    assert split.x_train.shape[1] == 3072
    assert r["train_accuracy"] > 0.3 and r["test_accuracy"] > 0.25  # chance is 0.1


def test_credit_network_for_another_architecture_is_refused(evolved, data):
    out, _ = evolved
    split = make_split(data["small"], None, 100)
    with pytest.raises(ArtifactError, match=r"credits layers of \(100, 10\) units.*\(1000, 10\)"):
        train_learner(f"tdca:{out}", split, arch="mlp-1000", steps=2, lr=1.0)
    with pytest.raises(ArtifactError, match="no such file"):
        train_learner(f"tdca:{out}/missing.npz", split, steps=2, lr=1.0)


def test_train_learner_compiles_once_per_rate_for_all_seeds_and_matches_the_loop(data):
    """The seed and the data are arguments of the compiled inner loop (the seeds of a
    baseline do not recompile), and the result is bit for bit that of InnerLoop."""
    from tdca.experiments import classification

    split = make_split(data["small"], None, 60)
    before = classification._run_learner._cache_size()
    runs = {
        (lr, seed): train_learner("dfa", split, steps=4, lr=lr, seed=seed)
        for lr in (0.03, 0.1, 0.3)
        for seed in (0, 1)
    }
    assert classification._run_learner._cache_size() == before + 3  # one per rate
    task = make_task(split, build_model("mlp-100", split.dataset), "zero")
    for (lr, seed), r in runs.items():
        key = jax.random.PRNGKey(seed)
        strategy, sparams, _ = classification.learner_parts("dfa", task, jax.random.fold_in(key, 7))
        theta, _ = InnerLoop(strategy, 4, lr).run(sparams, task, key)
        logits = task.model.apply(theta, task.x)
        assert r["train_loss"] == float(cross_entropy(logits, task.y))
    assert len({r["train_loss"] for r in runs.values()}) == 6  # every rate and seed differs


def test_dfa_like_init_starts_as_dfa(data):
    split = make_split(data["small"], None, 64)
    task = make_task(split, MLP((784, 100, 10)), "kaiming")
    tdca = make_strategy("tdca", task)
    beta = dfa_like_init(tdca, jax.random.PRNGKey(0), 10, eps=1e-3)
    u, _ = task.credit_state(task.init_params(jax.random.PRNGKey(1)), (task.x, task.y))
    credits = tdca.net.apply(beta, u)
    err = u[:, 10:] - u[:, :10]
    # Output-layer credits are exactly (y - p) up to the tanh's cubic error.
    np.testing.assert_allclose(credits[:, 100:], err, atol=1e-4)
    # Hidden credits are a fixed linear map of (y - p): rank <= 10.
    assert np.linalg.matrix_rank(np.asarray(credits[:, :100]), tol=1e-3) <= 10


def test_dfa_like_init_places_its_blocks_bit_for_bit():
    """The blocks, against the formula written with jnp (the values the init had before
    it was assembled in numpy, to save its compilations), with a learned gain left at 1."""
    from tdca.credit.strategies.feedback import _feedback_init

    rng = np.random.default_rng(0)
    task = ClassificationTask.create(
        rng.random((8, 12), dtype=np.float32), np.arange(8) % 4, MLP((12, 6, 4)), 4
    )
    tdca = make_strategy("tdca", task, hidden=(5, 7), gain_speed=2.0)
    c, eps, key = 4, 0.3, jax.random.PRNGKey(5)
    beta = dfa_like_init(tdca, key, c, eps=eps)
    k_fb, k_net = jax.random.split(key)
    b_all = jnp.concatenate([*_feedback_init(k_fb, [(c, 6)]), jnp.eye(c)], axis=1)
    start, eye = tdca.net.init(k_net), jnp.eye(c)
    w1 = start[0]["w"].at[:, :c].set(0.0).at[:c, :c].set(-eps * eye).at[c:, :c].set(eps * eye)
    w2 = start[1]["w"].at[:c, :].set(0.0).at[:, :c].set(0.0).at[:c, :c].set(eye)
    w3 = jnp.zeros_like(start[2]["w"]).at[:c].set(b_all / eps)
    assert len(beta) == 4 and float(beta[3]["log_gain"]) == 0.0
    for layer, w in zip(beta[:3], (w1, w2, w3), strict=True):
        assert layer["w"].dtype == w.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(layer["w"]), np.asarray(w))
        np.testing.assert_array_equal(np.asarray(layer["b"]), 0.0)


def test_validation_split_never_touches_train_subset_or_test_set(data):
    ds_train = make_split(data["small"], None, 100)
    val = make_split(data["small"], None, 100, validation=True)
    np.testing.assert_array_equal(val.x_train, ds_train.x_train)
    assert not any((val.x_eval == row).all(axis=1).any() for row in ds_train.x_train[:20])
    tuned = tune_lr(
        "bp", data["small"], None, arch="mlp-100", train_size=100, steps=5, grid=(1e-5, 3e-5)
    )
    # Too small to train in 5 steps: at chance, so the grid is not extended.
    assert tuned["grid"] == [1e-5, 3e-5] and len(tuned["validation_accuracy"]) == 2


def test_lr_tuning_extends_the_grid_past_an_end_the_best_rate_sits_at(data):
    assert [next_rate(x, up=False) for x in (0.01, 0.003, 1e-4)] == [0.003, 0.001, 3e-5]
    assert [next_rate(x, up=True) for x in (1.0, 3.0, 0.003, 0.5)] == [3.0, 10.0, 0.01, 1.5]
    tuned = tune_lr(
        "bp",
        data["small"],
        None,
        arch="mlp-100",
        train_size=100,
        steps=20,
        grid=(0.003, 0.01),
        extend=2,
    )
    grid, acc = tuned["grid"], tuned["validation_accuracy"]
    # 0.01 trains better than 0.003 but is not the best rate: larger ones were tried.
    assert grid[:2] == [0.003, 0.01] and grid[2:] == [0.03, 0.1][: len(grid) - 2]
    assert len(grid) > 2 and tuned["lr"] == grid[int(np.argmax(acc))] != 0.003
    if len(grid) == 3:  # stopped early only because the best rate was inside the grid
        assert tuned["lr"] == 0.01


def test_lr_tuning_grows_no_grid_past_a_rate_that_only_ties_its_neighbour(data, monkeypatch):
    """Every rate alike (here: each scores the same validation accuracy, above chance):
    the first, at the grid's lower end, is picked, but nothing says a better rate lies
    below it, so the grid stays as given. A strict winner at that end still grows it."""
    import tdca.experiments.classification as classification

    scores = {0.01: 0.5, 0.03: 0.5, 0.1: 0.5, 0.003: 0.6, 0.001: 0.4}
    monkeypatch.setattr(
        classification,
        "train_learner",
        lambda learner, split, *, lr, **kw: {"test_accuracy": scores[lr], "train_loss": 1.0},
    )
    kw = {"arch": "mlp-100", "train_size": 100, "steps": 1}
    tied = tune_lr("bp", data["small"], None, grid=(0.01, 0.03, 0.1), **kw)
    assert tied["grid"] == [0.01, 0.03, 0.1] and tied["lr"] == 0.01
    scores[0.01] = 0.55  # now a strict winner at the lower end: 0.003 beats it, 0.001 not
    grown = tune_lr("bp", data["small"], None, grid=(0.01, 0.03, 0.1), **kw)
    assert grown["grid"] == [0.001, 0.003, 0.01, 0.03, 0.1] and grown["lr"] == 0.003


def test_rate_choice_falls_back_to_cross_entropy_only_at_chance():
    grid = (0.01, 0.1, 1.0)
    # 10 classes, 5,000 validation images: chance plus 3 standard deviations is 0.1127.
    bar = above_chance(10, 5000)
    assert bar == pytest.approx(0.1 + 3 * np.sqrt(0.09 / 5000))
    # Accuracy decides as soon as one rate really trains, whatever the losses say.
    assert choose_rate(grid, [0.10, 0.40, 0.11], [2.30, 2.50, 1.00], bar) == (
        0.1,
        "validation_accuracy",
    )
    # All at chance (the old rule picked 1.0 on noise): lowest finite cross-entropy decides.
    lr, rule = choose_rate(grid, [0.101, 0.099, 0.103], [2.3026, 2.3014, 23.7], bar)
    assert lr == 0.1 and rule.startswith("validation_cross_entropy")
    assert choose_rate(grid, [0.1, 0.1, 0.1], [float("nan"), 2.4, float("inf")], bar)[0] == 0.1


def test_pick_inner_lr_reports_both_criteria_and_uses_the_right_one(data):
    cfg = EvolveConfig(datasets=(data["small"],), train_size=100, steps=20)
    task = make_task(make_split(data["small"], None, 100), MLP((784, 100, 10)), "zero")
    tdca = make_strategy("tdca", task)
    beta = dfa_like_init(tdca, jax.random.PRNGKey(1), 10)
    trains = pick_inner_lr(tdca, beta, cfg, grid=(1e-6, 0.1))
    assert trains["picked_by"] == "validation_accuracy" and trains["lr"] == 0.1
    assert max(trains["validation_accuracy"]) > trains["chance_bar"]
    # Rates too small to move a zero-initialised network off chance: the loss picks.
    stuck = pick_inner_lr(tdca, beta, cfg, grid=(1e-7, 1e-5))
    assert stuck["picked_by"].startswith("validation_cross_entropy")
    assert max(stuck["validation_accuracy"]) <= stuck["chance_bar"]
    ces = stuck["validation_cross_entropy"]
    assert stuck["lr"] == (1e-7, 1e-5)[int(np.argmin(ces))]


def test_seeds_summary_is_the_mean_and_sample_std_over_seeds():
    runs = [{"train_accuracy": a, "test_accuracy": b} for a, b in ((0.9, 0.5), (1.0, 0.7))]
    s = seeds_summary(runs)
    assert s["seeds"] == 2 and s["test_accuracy"] == pytest.approx(0.6)
    assert s["test_accuracy_std"] == pytest.approx(0.2 / np.sqrt(2))  # ddof=1
    assert s["train_accuracy"] == pytest.approx(0.95)
    assert seeds_summary(runs[:1])["test_accuracy_std"] == 0.0


def test_bp_adam_reference_always_trains_with_adam_on_mini_batches(data):
    split = make_split(data["small"], None, 200)
    r = train_learner("bp-adam", split, steps=30, lr=3e-3, curves=False)
    assert r["optimizer"] == "adam" and r["batch_size"] == 128
    sgd = train_learner("bp", split, steps=30, lr=3e-3, curves=False)
    assert r["train_accuracy"] > sgd["train_accuracy"] + 0.2  # Adam, not SGD, at this lr


def test_train_command_tunes_bp_adam_on_its_own_grid_and_records_what_ran(data, tmp_path, capsys):
    from tdca.cli import main
    from tdca.experiments.classification import BP_ADAM_LR_GRID

    out = tmp_path / "ref"
    base = ["train", "--dataset", data["small"], "--learner", "bp-adam", "--train-size", "200"]
    assert main([*base, "--steps", "5", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["optimizer"] == metrics["optimizer"] == "adam"
    assert config["batch_size"] == metrics["batch_size"] == 128
    assert tuple(config["lr_tuning"]["grid"][: len(BP_ADAM_LR_GRID)]) == BP_ADAM_LR_GRID
    assert main([*base, "--optimizer", "sgd", "--out", str(tmp_path / "no")]) == 2
    assert "bp-adam always trains with Adam" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_mean_over_tasks_is_the_mean_fitness(data):
    a = make_task(make_split(data["small"], None, 50), MLP((784, 100, 10)), "zero")
    b = make_task(make_split(data["rgb"], None, 50), MLP((3072, 100, 10)), "zero")
    tdca = make_strategy("tdca", a)
    beta = tdca.init(jax.random.PRNGKey(0))
    loop = InnerLoop(tdca, 3, 1.0)
    key = jax.random.PRNGKey(2)
    both = MeanOverTasks(loop).fitness(beta, (a, b), key)
    singles = [loop.fitness(beta, t, jax.random.fold_in(key, i)) for i, t in enumerate((a, b))]
    np.testing.assert_allclose(both, np.mean(singles), rtol=1e-6)


def test_layout_specs_round_trip():
    layout = CreditLayout.parse("grid:6x6", (900, 10))
    assert layout.num_credits == 46
    again = CreditLayout.from_description(layout.describe())
    assert again.describe() == layout.describe()
    assert CreditLayout.parse("line:10", (100, 10)).num_credits == 20
    with pytest.raises(ValueError, match="square"):
        CreditLayout.parse("grid:6x6", (100 + 1, 10))
    with pytest.raises(ValueError, match="dense"):
        CreditLayout.parse("ring:5", (100, 10))


def test_train_and_evolve_commands(tmp_path, data, capsys):
    assert (
        main(
            [
                "train",
                "--dataset",
                data["small"],
                "--learner",
                "dfa",
                "--train-size",
                "100",
                "--steps",
                "5",
                "--lr",
                "0.3",
                "--out",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert {"train_accuracy", "test_accuracy", "train_size", "steps"} <= set(m)
    assert len(m["curve_test_accuracy"]) == 5
    assert (
        main(
            [
                "train",
                "--dataset",
                data["small"],
                "--learner",
                "hebb",
                "--train-size",
                "100",
                "--out",
                str(tmp_path / "u"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown learner 'hebb'" in err and "--plugin FILE.py" in err
    assert not (tmp_path / "u").exists()  # nothing half-written for a bad command
    assert (
        main(
            [
                "evolve",
                "--dataset",
                data["small"],
                "--train-size",
                "100",
                "--steps",
                "5",
                "--generations",
                "2",
                "--population",
                "4",
                "--out",
                str(tmp_path / "e"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "e" / "credit_net.npz").exists()
    # the evolved network trains; a protocol other than its own is pointed out
    train_with = ["train", "--dataset", data["small"], "--learner", f"tdca:{tmp_path / 'e'}"]
    capsys.readouterr()
    assert (
        main([*train_with, "--train-size", "100", "--steps", "5", "--out", str(tmp_path / "a")])
        == 0
    )
    assert "was evolved on" not in capsys.readouterr().err
    assert (
        main([*train_with, "--train-size", "60", "--steps", "5", "--out", str(tmp_path / "b")]) == 0
    )
    assert "was evolved on 100 images x 5 steps; this run trains 60 x 5" in capsys.readouterr().err
    # and so is data it never saw (a transfer, as in the papers' Table 2)
    other = ["--dataset", data["rgb"], "--train-size", "100", "--steps", "5"]
    assert main([*train_with, *other, "--out", str(tmp_path / "c")]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert f"was evolved on {data['small']}; training {data['rgb']} with it is a transfer" in said
    # another spelling of the data set it was evolved on is the same data set
    assert canonical_name("Fashion_MNIST") == "fashion-mnist" == canonical_name("fashion-mnist")
    with pytest.raises(ValueError, match="a data set is given twice"):
        EvolveConfig(datasets=("fashion-mnist", "fashion_mnist"))
    # one npz by two paths (or a copy) is found by its content, before any work
    small = data["small"].split(":", 1)[1]
    again = f"npz:{Path(small).parent}/../{Path(small).parent.name}/{Path(small).name}"
    argv = ["evolve", "--dataset", data["small"], "--dataset", again, "--train-size", "100"]
    argv += ["--steps", "2", "--generations", "1", "--population", "2", "--lr", "0.1"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "twice")]) == 2
    assert "hold the same images and labels; give each data set once" in capsys.readouterr().err


def test_a_learner_that_cannot_train_the_architecture_is_refused_in_one_line(
    data, tmp_path, capsys
):
    """FA sends errors back through dense layers: on the CNN the CLI says so in one line
    (exit 2), as for any other bad choice, not with a traceback; nothing is written."""
    out = tmp_path / "fa-cnn"
    argv = ["train", "--dataset", data["small"], "--learner", "fa", "--arch", "cnn"]
    assert (
        main([*argv, "--train-size", "100", "--steps", "2", "--lr", "0.1", "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "tdca train: error: strategy 'fa' sends errors back through dense layers; "
        "it needs an MLP bottom-up network, not CNN"
    ]
    assert not out.exists()


def test_train_learner_trains_the_architecture_a_credit_network_was_evolved_for(
    data, tmp_path, monkeypatch
):
    """A credit network evolved for a registered architecture with the same credited layers
    as the default MLP: ``train_learner`` trains that architecture unless told otherwise,
    and refuses where this process does not know it (instead of training mlp-100)."""
    from tdca.networks.registry import ARCHITECTURES

    strategy, beta, meta = load_credit_net("zoo/mnist-1000-20")
    save_credit_net(tmp_path / "elu", strategy, beta, {**meta, "arch": "mlp-100-elu"})
    learner = f"tdca:{tmp_path / 'elu'}"
    split = make_split(data["small"], None, 100)
    with pytest.raises(ArtifactError, match="'mlp-100-elu', which this process does not know"):
        train_learner(learner, split, steps=2, lr=0.1, curves=False)
    built = []

    class EluMLP(MLP):
        def activation(self, z):
            return jax.nn.elu(z)

        def hidden_prime(self, z):
            return jnp.where(z > 0, 1.0, jnp.exp(jnp.minimum(z, 0.0)))

    def build(ds):
        built.append(ds.name)
        return EluMLP((ds.input_dim, 100, ds.num_classes))

    monkeypatch.setitem(ARCHITECTURES, "mlp-100-elu", build)
    r = train_learner(learner, split, steps=2, lr=0.1, curves=False)
    assert r["arch"] == "mlp-100-elu" and built
    built.clear()
    r = train_learner(learner, split, arch="mlp-100", steps=2, lr=0.1, curves=False)
    assert r["arch"] == "mlp-100" and not built  # an explicit choice is kept


def test_evolve_options_adam_held_out_fitness_and_time_limit(tmp_path, data, capsys):
    out = tmp_path / "e"
    argv = ["evolve", "--dataset", data["small"], "--train-size", "100", "--steps", "5"]
    argv += ["--optimizer", "adam", "--fitness-data", "validation", "--time-limit", "0.001"]
    argv += ["--fitness", "accuracy"]
    argv += ["--precision", "float32"]
    argv += ["--generations", "50", "--population", "4", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "stopped by --time-limit at generation 1 of 50 (the accuracies above" in printed
    assert f"continue with: tdca evolve --resume {out}" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["evolution"]["generations"] == 1 and m["evolution"]["generations_configured"] == 50
    _, _, meta = load_credit_net(out)
    assert meta["optimizer"] == "adam" and meta["config"]["fitness_data"] == "validation"
    assert meta["config"]["precision"] == "float32" and meta["config"]["fitness"] == "accuracy"
    # the fitness the evolution logged is an accuracy (a fraction), not minus a cross-entropy
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["centre_fitness"] <= 1.0 for r in logged)
    assert meta["lr"] in (0.001, 0.003, 0.01, 0.03, 0.1)  # picked from the Adam grid
    logged, recomputed = _first_centre_fitness(out)  # Adam, validation data, accuracy
    assert logged == pytest.approx(recomputed, abs=1e-6)
    assert m["results"][0]["optimizer"] == "adam"  # the final evaluation trains as evolved
    # `tdca train` with that credit network uses the optimizer and rate it was evolved with
    argv = ["train", "--dataset", data["small"], "--learner", f"tdca:{out}", "--train-size"]
    argv += ["100", "--steps", "5", "--precision", "bfloat16", "--out", str(tmp_path / "t")]
    assert main(argv) == 0
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())
    assert cfg["optimizer"] == "adam" and cfg["lr"] == meta["lr"]
    assert cfg["precision"] == "bfloat16"
    trained = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert trained["optimizer"] == "adam" and trained["lr"] == meta["lr"]
    # the run can still be resumed towards its 50 generations
    assert main(["evolve", "--resume", str(out), "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text())["evolution"]["generations"] == 50


def test_evolve_with_fitness_on_a_held_out_fifth_of_the_cells_images(tmp_path, data, capsys):
    out = tmp_path / "w"
    argv = ["evolve", "--dataset", data["small"], "--train-size", "100", "--steps", "5"]
    argv += ["--fitness-data", "within", "--generations", "2", "--population", "4"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    _, _, meta = load_credit_net(out)
    assert meta["config"]["fitness_data"] == "within"
    logged, recomputed = _first_centre_fitness(out)
    assert logged == pytest.approx(recomputed, abs=1e-6)
    _, on_whole_cell = _first_centre_fitness(out, fitness_data="train")
    assert logged != pytest.approx(on_whole_cell, abs=1e-4)  # so the check above can tell
    # the evolved network is still scored on the cell's whole training set and the test set
    (row,) = json.loads((out / "metrics.json").read_text())["results"]
    assert row["train_size"] == 100 and 0.0 <= row["test_accuracy"] <= 1.0
    # a two-image cell cannot hold a fifth out: refused before anything is written
    bad = [*argv[:4], "2", *argv[5:], "--out", str(tmp_path / "x"), "--no-progress"]
    assert main(bad) == 2
    assert "too few" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_evolve_chunk_size_is_a_memory_choice_a_resume_may_change(tmp_path, data):
    """--chunk-size K evaluates K candidates at a time on each device (log.txt and
    metrics.json say so) and evolves what one vmap does (within float rounding); being a
    matter of memory, not of what is evolved, it may change when the run is resumed."""
    argv = ["evolve", "--dataset", data["small"], "--train-size", "100", "--steps", "5"]
    argv += ["--lr", "0.3", "--population", "4", "--no-progress"]
    chunked, whole = tmp_path / "c", tmp_path / "w"
    assert main([*argv, "--generations", "2", "--chunk-size", "2", "--out", str(chunked)]) == 0
    said = "each device evaluates 2 candidates at a time (chunk_size, as given)"
    assert said in (chunked / "log.txt").read_text()
    assert json.loads((chunked / "metrics.json").read_text())["evolution"]["chunk_size"] == 2
    resume = ["evolve", "--resume", str(chunked), "--generations", "4", "--no-progress"]
    assert main([*resume, "--chunk-size", "none"]) == 0
    assert json.loads((chunked / "metrics.json").read_text())["evolution"]["chunk_size"] is None
    assert main([*argv, "--generations", "4", "--chunk-size", "none", "--out", str(whole)]) == 0
    assert "candidates at a time" not in (whole / "log.txt").read_text()
    big = tmp_path / "b"  # a chunk past the population is one vmap, and not said otherwise
    assert main([*argv, "--generations", "1", "--chunk-size", "64", "--out", str(big)]) == 0
    assert "candidates at a time" not in (big / "log.txt").read_text()
    rows = [
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for run in (chunked, whole)
    ]
    assert [r["generation"] for r in rows[0]] == [r["generation"] for r in rows[1]] == [0, 1, 2, 3]
    for a, b in zip(*rows, strict=True):
        assert a["mean_fitness"] == pytest.approx(b["mean_fitness"], abs=1e-6)
    nets = [jax.tree.leaves(load_credit_net(run)[1]) for run in (chunked, whole)]
    for a, b in zip(*nets, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)


def test_evolve_with_fitness_over_the_last_steps(tmp_path, data, capsys):
    out = tmp_path / "k"
    argv = ["evolve", "--dataset", data["small"], "--train-size", "100", "--steps", "5"]
    argv += ["--generations", "2", "--population", "4", "--no-progress"]
    assert main([*argv, "--fitness-last", "2", "--out", str(out)]) == 0
    _, _, meta = load_credit_net(out)
    assert meta["config"]["fitness_last"] == 2
    logged, recomputed = _first_centre_fitness(out)  # the mean over the last two steps
    assert logged == pytest.approx(recomputed, abs=1e-6)
    # more steps to average than the inner loop has: refused before anything is written
    assert main([*argv, "--fitness-last", "6", "--out", str(tmp_path / "x")]) == 2
    assert "fitness_last" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_evolve_keeps_centres_and_scores_them_on_validation_not_test(tmp_path, data, capsys):
    out = tmp_path / "kept"
    argv = ["evolve", "--dataset", data["small"], "--train-size", "100", "--steps", "5"]
    argv += ["--lr", "0.3", "--population", "4", "--no-progress", "--out", str(out)]
    assert main([*argv, "--generations", "4", "--keep-every", "2"]) == 0
    files = sorted((out / "snapshots").iterdir())
    assert [f.name for f in files] == ["credit_net-g000002.npz", "credit_net-g000004.npz"]
    flat = [jax.tree.leaves(load_credit_net(f)[1]) for f in (*files, out / "credit_net.npz")]
    assert all(np.array_equal(a, b) for a, b in zip(flat[1], flat[2], strict=True))  # final
    assert not all(np.array_equal(a, b) for a, b in zip(flat[0], flat[1], strict=True))
    m = json.loads((out / "metrics.json").read_text())
    assert [k["generation"] for k in m["kept"]] == [2, 4]
    # each score is a fresh network trained on the cell's images by that centre, evaluated
    # on the validation split (training images the cell leaves out), never on the test set
    split = make_split(data["small"], None, 100, validation=True)
    first = train_learner(f"tdca:{files[0]}", split, steps=5, lr=0.3, curves=False)
    assert m["kept"][0]["validation_accuracy"] == pytest.approx(first["test_accuracy"])
    best = max(m["kept"], key=lambda k: k["validation_accuracy"])
    assert m["kept_best_on_validation"] == best
    assert f"generation {best['generation']}" in capsys.readouterr().out
    # extending the run keeps its centres on, the earlier files untouched
    before = [f.read_bytes() for f in files]
    saved = m["evolution"]["saved_centre_fitness"]  # of credit_net.npz, one update after
    assert load_credit_net(out)[2]["centre_fitness"] == saved  # its own score, not a row's
    assert main(["evolve", "--resume", str(out), "--generations", "6", "--no-progress"]) == 0
    assert [f.read_bytes() for f in files] == before
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[4]["centre_fitness"] == pytest.approx(saved, rel=1e-6)  # scored as row 4
    kept2 = load_credit_net(files[0])[2]["centre_fitness"]
    assert kept2 == pytest.approx(rows[2]["centre_fitness"], rel=1e-6)
    m = json.loads((out / "metrics.json").read_text())
    assert [k["generation"] for k in m["kept"]] == [2, 4, 6]
    # it is part of the run's config: not something a resume can change
    assert main(["evolve", "--resume", str(out), "--keep-every", "3", "--no-progress"]) == 2
    assert "--keep-every" in capsys.readouterr().err


def test_kept_centres_of_a_validation_fitness_are_chosen_on_other_images(tmp_path, data, capsys):
    """With --fitness-data validation the fitness already used the validation images, so
    the kept centres are scored on the next held-out ones (disjoint), or the run is refused
    before any work where the data set has too few images for both."""
    out = tmp_path / "kept"
    argv = ["evolve", "--dataset", data["small"], "--steps", "5", "--lr", "0.3"]
    argv += ["--population", "4", "--no-progress", "--fitness-data", "validation"]
    argv += ["--generations", "2", "--keep-every", "2"]
    assert main([*argv, "--train-size", "100", "--out", str(out)]) == 0
    fit = make_split(data["small"], None, 100, validation=True)
    chosen_on = make_split(data["small"], None, 100, validation=True, window=1)
    assert not any((a == b).all() for a in chosen_on.x_eval for b in fit.x_eval)
    m = json.loads((out / "metrics.json").read_text())
    kept = out / "snapshots" / "credit_net-g000002.npz"
    again = train_learner(f"tdca:{kept}", chosen_on, steps=5, lr=0.3, curves=False)
    assert m["kept"][0]["validation_accuracy"] == pytest.approx(again["test_accuracy"])
    capsys.readouterr()
    assert main([*argv, "--train-size", "250", "--out", str(tmp_path / "x")]) == 2
    assert "drop --keep-every" in capsys.readouterr().err
    # a run started before this rule, resumed, is scored as it was then, and says so
    from tdca.experiments.classification import _selection_splits
    from tdca.rundir import RunDir

    cfg = EvolveConfig(datasets=(data["small"],), train_size=250, fitness_data="validation")
    cfg = replace(cfg, keep_every=1)
    with pytest.warns(RuntimeWarning, match="kept_best_on_validation is not held out"):
        old = _selection_splits(cfg, RunDir(tmp_path / "old"))
    window0 = make_split(data["small"], None, 250, validation=True)
    assert (old[0].x_eval == window0.x_eval).all()
    with pytest.raises(ValueError, match="drop --keep-every"):
        _selection_splits(cfg)


def test_evolution_runs_under_its_configured_precision(tmp_path, data, monkeypatch):
    from tdca.experiments import classification

    seen, real = [], classification.evolve

    def spy(*args, **kwargs):
        seen.append(jax.config.jax_default_matmul_precision)
        return real(*args, **kwargs)

    monkeypatch.setattr(classification, "evolve", spy)
    es = ESConfig(population=4, generations=1)
    cfg = EvolveConfig(datasets=(data["small"],), train_size=100, steps=3, lr=0.1, es=es)
    run_evolve(replace(cfg, precision="bfloat16"), tmp_path / "r", progress=False)
    assert seen == ["BF16_BF16_F32"]  # every matmul of the run is traced under it
    assert jax.config.jax_default_matmul_precision is None  # and it is restored after
    with pytest.raises(ValueError, match="precision must be one of"):
        replace(cfg, precision="fp8")


def test_an_evolve_config_that_cannot_work_is_refused_when_built(data):
    """Before any folder is written (an infinite rate ran with every candidate diverged, a
    fractional image count failed deep in the data slicing)."""
    cfg = EvolveConfig(datasets=(data["small"],), train_size=100, steps=3, lr=0.1)
    for setting, message in (
        ({"lr": float("inf")}, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be a finite number > 0"),
        ({"train_size": 2.5}, "train_size must be an integer"),
        ({"hidden": (0,)}, r"widths\) must be >= 1"),
    ):
        with pytest.raises(ValueError, match=message):
            replace(cfg, **setting)
    assert replace(cfg, hidden=()).hidden == ()  # a linear credit network is fine
    with pytest.raises(ValueError, match="no snapshot would be kept"):
        replace(cfg, keep_every=5, es=ESConfig(generations=1))


def test_bfloat16_activations_evolution_stores_its_data_in_bf16(tmp_path, data, monkeypatch):
    """Under --precision bfloat16-activations the evolution's task holds bf16 data (so the
    population's activations are bf16) and the run records its precision; afterwards new
    tasks are float32 again."""
    from tdca.experiments import classification
    from tdca.precision import activation_dtype

    seen, real = [], classification.evolve

    def spy(evolution, task, *args, **kwargs):
        seen.append(task.x.dtype)
        return real(evolution, task, *args, **kwargs)

    monkeypatch.setattr(classification, "evolve", spy)
    es = ESConfig(population=4, generations=2)
    cfg = EvolveConfig(
        datasets=(data["small"],),
        train_size=100,
        steps=3,
        lr=0.1,
        es=es,
        precision="bfloat16-activations",
    )
    metrics = run_evolve(cfg, tmp_path / "r", progress=False)
    assert seen == [jnp.bfloat16] and activation_dtype() == jnp.float32
    assert json.loads((tmp_path / "r" / "config.json").read_text())["precision"] == (
        "bfloat16-activations"
    )
    assert np.isfinite(metrics["results"][0]["train_loss"])  # bf16 did not overflow


def test_zoo_commands(capsys):
    assert main(["zoo", "list"]) == 0
    listed = capsys.readouterr().out
    assert "mnist-1000-20:" in listed and "test accuracy" in listed
    assert main(["zoo", "verify", "no-such-net"]) == 2
    assert "no zoo entry 'no-such-net'" in capsys.readouterr().err


def test_report_puts_paper_numbers_beside_ours(tmp_path):
    metrics = {
        "table": "table1",
        "scale": "small",
        "seconds": 1.0,
        "settings": {"seeds": 3},
        "rows": [
            {
                "dataset": "mnist",
                "method": "tdca",
                "train_size": 1000,
                "steps": 20,
                "train_accuracy": 0.9,
                "test_accuracy": 0.85,
                "seeds": 1,
                "lr": 1.0,
                "paper_train_accuracy": 0.998,
                "paper_test_accuracy": 0.8861,
            }
        ],
    }
    md = table_markdown(metrics)
    assert "| mnist | tdca | 1000 | 20 | 90.00 | 85.00 | 1000/20 | 99.80 | 88.61 |" in md
    run = tmp_path / "t1"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(metrics))
    doc = results_document([run])
    assert "tdca reproduce table1 --scale small" in doc and "Not run yet" in doc


def test_report_says_which_protocol_the_papers_number_is_from():
    """A small-scale row sits beside the paper's number for a bigger cell; the table says
    which (Table 1 by its step count, Tables S1-S3 on the full training set at 150 steps:
    50,000 images for CIFAR-10; Table 2's CNN at 10,000)."""
    from tdca.experiments.paper_numbers import protocol

    row = {"dataset": "mnist", "method": "tdca", "train_size": 1000, "steps": 20}
    cell = {"paper_train_accuracy": 0.99, "paper_test_accuracy": 0.96}
    assert protocol("tableS1", {**row, **cell}) == "60000/150"
    assert protocol("tableS3", {**row, **cell}) == "60000/150"
    assert protocol("tableS1", {**row, **cell, "dataset": "cifar10"}) == "50000/150"
    assert protocol("table1", {**row, **cell, "steps": 50}) == "10000/50"
    assert protocol("table2", {**row, **cell, "arch": "cnn"}) == "10000/–"
    assert protocol("tableS1", row) == ""  # no paper number, nothing to qualify
    md = table_markdown(
        {"table": "tableS2", "scale": "small", "rows": [{**row, **cell, "evolved_on": "mnist"}]}
    )
    assert "| mnist | tdca | mnist | 1000 | 20 | – | – | 60000/150 | 99.00 | 96.00 |" in md


def test_report_lists_single_evolutions_beside_their_dfa_start(tmp_path):
    """A `tdca evolve` run directory given to the report appears with its inner lr, its
    starting credit network's accuracy and DFA's at that lr, so a reader sees whether
    evolution gained or lost accuracy."""
    run = tmp_path / "check"
    run.mkdir()
    row = {"dataset": "cifar10", "train_size": 1000, "steps": 20, "lr": 0.1}
    metrics = {
        "datasets": ["cifar10"],
        "evolution": {"generations": 150},
        "results": [
            row
            | {
                "train_accuracy": 0.2,
                "test_accuracy": 0.1875,
                "curve_test_accuracy": [0.1, 0.12, 0.1875],
            }
        ],
        "at_start": [row | {"train_accuracy": 0.18, "test_accuracy": 0.1384}],
        "dfa_at_same_lr": [row | {"train_accuracy": 0.19, "test_accuracy": 0.1631}],
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.json").write_text(
        json.dumps({"datasets": ["cifar10"], "seed": 0, "fitness": "accuracy"})
    )
    doc = results_document([run])
    assert (
        f"| `{run}` | cifar10 → cifar10 | mlp-100, dense | accuracy on train | 0 | 150 | 1000 "
        "| 20 | 0.1 | 20.00 | 18.75 | 12.00 | 13.84 | 16.31 |" in doc
    )
    (run / "config.json").write_text(
        json.dumps({"datasets": ["cifar10"], "seed": 0, "fitness": "accuracy", "fitness_last": 2})
    )
    assert "| accuracy on train, mean of last 2 steps | 0 |" in results_document([run])
    del metrics["at_start"]  # written before starts were evaluated
    metrics["dfa_at_same_lr"] = []  # a random-init or diffused run has no DFA run
    del metrics["results"][0]["curve_test_accuracy"]  # an evaluation without curves
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert "| 20.00 | 18.75 | – | – | – |" in results_document([run])


def test_labels_and_features_a_task_cannot_train_on_are_refused_by_name():
    """Labels numbered from 1, a -1 marker or fractional labels trained to NaN or to a
    plausible wrong result (the loss read -1 as the last class, the credits as no class);
    a NaN feature made every candidate diverge. All are refused when the task is made."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    y = np.arange(12) % 3
    net = MLP((4, 5, 3))
    for whole in (y.astype(np.float64), jnp.asarray(y, jnp.bfloat16), y.astype(np.uint8)):
        task = ClassificationTask.create(x, whole, net, 3)
        np.testing.assert_array_equal(task.y, y)
        assert task.y.dtype == jnp.int32
    bad = [
        (y + 1, r"labels must be in \[0, 2\] .* from 1 to 3; numbered from 1\? subtract 1"),
        (np.where(y == 0, -1, y), r"labels must be in \[0, 2\] .* from -1 to 2$"),
        (y + 0.5, "labels must be whole numbers"),
    ]
    for labels, message in bad:
        with pytest.raises(ValueError, match=message):
            ClassificationTask.create(x, labels, net, 3)
        with pytest.raises(ValueError, match="y_fit: " + message.split(" .*")[0]):
            ClassificationTask.create(x, y, net, 3, x_fit=x, y_fit=labels)
    nan = x.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="x holds 1 non-finite values"):
        ClassificationTask.create(nan, y, net, 3)
    with pytest.raises(ValueError, match="x_fit holds 1 non-finite"):
        ClassificationTask.create(x, y, net, 3, x_fit=nan, y_fit=y)
    with pytest.raises(ValueError, match="at least one example"):
        ClassificationTask.create(x[:0], y[:0], net, 3)
    with pytest.raises(ValueError, match="batch_size must be in"):
        ClassificationTask.create(x, y, net, 3, batch_size=2.5)
    with pytest.raises(ValueError, match="fit_holdout must be an integer"):
        ClassificationTask.create(x, y, net, 3, fit_holdout=2.7)
    with pytest.raises(ValueError, match=r"datasets must be a tuple of names.*got 'mnist'"):
        EvolveConfig(datasets="mnist")


def test_python_settings_that_cannot_work_are_refused_before_the_data_is_read(data):
    """What the CLI refuses, the Python API refuses too, and early: a seed past 2^31 (which
    would be seed 0's run again), a fractional train_size, a malformed layout; a list of
    widths, as JSON gives it, is taken as the tuple it means."""
    split = make_split(data["small"], None, 50)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\^31\)"):
        train_learner("dfa", split, steps=1, lr=0.1, seed=2**32)
    with pytest.raises(ValueError, match=r"train_size must be an integer, got 2\.5"):
        make_split(data["small"], None, 2.5)
    with pytest.raises(ValueError, match="credit layout must be 'dense', 'line:K' or"):
        EvolveConfig(datasets=("mnist",), layout="grid:3")  # before any data is loaded
    assert EvolveConfig(datasets=("mnist",), hidden=[30, 30]).hidden == (30, 30)
