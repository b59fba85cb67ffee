"""Write docs/outer-loop.md from the run directories of results/cpu/outer_loop.sh.

Every number in the page is read from a metrics.json or config.json that a command wrote;
the H100 rows come from the zoo cards (src/tdca/zoo/*.json).
"""

from __future__ import annotations

import functools
import json
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "results" / "cpu" / "outer-loop"
ZOO = ROOT / "src" / "tdca" / "zoo"
OUT = ROOT / "docs" / "outer-loop.md"

VARIANTS = {
    "sgd-ce-train": "SGD, minus cross-entropy on the 1,000 training images (the papers)",
    "sgd-acc-train": "SGD, accuracy on the 1,000 training images",
    "adam-ce-train": "Adam inner loop, minus cross-entropy on the 1,000 training images",
    "sgd-ce-within-fixed": "SGD, minus cross-entropy on the *same* held-out fifth (200) "
    "of the 1,000 every generation; the inner loop trains on the other 800 (first version)",
    "sgd-ce-within": "SGD, minus cross-entropy on a held-out fifth of the 1,000, "
    "*redrawn every generation* (`--fitness-data within`)",
    "sgd-ce-train-seed1": "the papers' fitness again, evolution seed 1",
    "sgd-ce-within-seed1": "the redrawn fifth again, evolution seed 1",
    "sgd-ce-train-lr1-seed1": "the papers' fitness, seed 1, inner lr fixed at 1 "
    "(instead of its validation pick)",
    "sgd-ce-train-lr1-seed2": "the papers' fitness, seed 2, inner lr fixed at 1 "
    "(instead of its validation pick)",
    "sgd-ce-train-lr3": "the papers' fitness, inner lr fixed at 3",
    "sgd-ce-train-gain": "the papers' fitness with an evolved credit gain "
    "(`--learned-gain 20`), from the seed's validation pick; lr column: lr x gain",
    "sgd-ce-train-gain-seed1": "the same, evolution seed 1",
    "sgd-ce-train-gain-seed2": "the same, evolution seed 2",
    "sgd-ce-train-gain-pop128": "the same as seed 0 with the gain, at *population 128*",
    "sgd-ce-within-gain-pop128": "the redrawn held-out fifth (`--fitness-data within`) with "
    "the gain, seed 0, *population 128*",
}
ZOO_ROWS = {
    "mnist-1000-20-train-fitness": "H100, population 256, training-set fitness (the papers)",
    "mnist-1000-20": "H100, population 256, fitness on 5,000 extra held-out training images",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def reference_rows() -> list[str]:
    rows = []
    for d in sorted(RUNS.glob("ref-*")):
        m, c = _load(d / "metrics.json"), _load(d / "config.json")
        opt = c.get("optimizer", "sgd")
        rows.append(
            f"| {m['learner']} ({opt}) | {m['steps']} | {m['lr']:g} | "
            f"{_pct(m['train_accuracy'])} | {_pct(m['test_accuracy'])} | `{d.name}` |"
        )
    return rows


@functools.cache
def _legs(name: str) -> dict[int, dict]:
    """A run's evaluation (metrics.json) after each leg of evolution, by generation."""
    legs = {
        int(p.name[3:]): _load(p / "metrics.json") for p in (RUNS / f"{name}-eval").glob("gen*")
    }
    return dict(sorted(legs.items()))


@functools.cache
def _history(name: str) -> tuple[dict, ...]:
    """A run's per-generation log (metrics.jsonl)."""
    lines = (RUNS / name / "metrics.jsonl").read_text().splitlines()
    return tuple(json.loads(line) for line in lines)


def _centre_fitness(name: str, generation: int, window: int = 25) -> float:
    """Mean centre fitness over the last ``window`` generations before ``generation`` (a
    redrawn fitness set makes single generations noisy)."""
    lo = generation - window
    vals = [r["centre_fitness"] for r in _history(name) if lo <= r["generation"] < generation]
    return sum(vals) / len(vals)


def variant_rows() -> list[str]:
    rows = []
    for name, what in VARIANTS.items():
        evals = RUNS / f"{name}-eval"
        if not evals.is_dir():
            rows.append(f"| {what} | not run | | | | | |")
            continue
        cfg = _load(RUNS / name / "config.json")
        for g, m in _legs(name).items():
            fit = _centre_fitness(name, g)
            lr = f"{cfg['lr']:g}" + (f" x {m['credit_gain']:.2f}" if "credit_gain" in m else "")
            rows.append(
                f"| {what} | {g} | {lr} | {fit:.3f} | {_pct(m['train_accuracy'])} | "
                f"{_pct(m['test_accuracy'])} | `{name}` |"
            )
            what = '"'
    return rows


def zoo_rows() -> list[str]:
    rows = []
    for name, what in ZOO_ROWS.items():
        card = _load(ZOO / f"{name}.json")
        r = card["recorded"][0]
        ev = card["evolution"]
        rows.append(
            f"| {what} | {ev['generations']} | {r['lr']:g} | {ev['final_centre_fitness']:.3f} | "
            f"{_pct(r['train_accuracy'])} | {_pct(r['test_accuracy'])} | `zoo/{name}` |"
        )
    return rows


def _accuracies(m: dict) -> tuple[str, str]:
    """(train %, test %) of a metrics.json."""
    return _pct(m["train_accuracy"]), _pct(m["test_accuracy"])


def _leg(name: str, generation: int) -> tuple[str, str]:
    """(train %, test %) of a run's evaluation after ``generation`` generations."""
    return _accuracies(_legs(name)[generation])


def _ref(name: str) -> tuple[str, str]:
    return _accuracies(_load(RUNS / name / "metrics.json"))


def _tests(name: str) -> dict[int, float]:
    """Test accuracy (%) after each leg of a run, by generation."""
    return {g: 100 * m["test_accuracy"] for g, m in _legs(name).items()}


def _series(tests: dict[int, float]) -> str:
    return ", ".join(f"{t:.2f} ({g})" for g, t in tests.items())


def _wrap(text: str) -> str:
    """Wrap each '- ' bullet of ``text`` to 92 columns."""
    bullets = [" ".join(b.split()) for b in text.split("\n- ") if b.strip()]
    return "\n".join(
        textwrap.fill(b.removeprefix("- "), 92, initial_indent="- ", subsequent_indent="  ")
        for b in bullets
    )


def reading() -> str:
    """The conclusions, with every number read from the runs they rest on."""
    tr, fx, rot = "sgd-ce-train", "sgd-ce-within-fixed", "sgd-ce-within"
    t_tr, t_rot = _tests(tr), _tests(rot)
    card = _load(ZOO / "mnist-1000-20-train-fitness.json")
    h100 = card["recorded"][0]
    held = _load(ZOO / "mnist-1000-20.json")["recorded"][0]
    g_fx = max(_legs(fx))
    best = max(max(_tests(n).values()) for n in VARIANTS if (RUNS / f"{n}-eval").is_dir())
    reached = (
        f"No CPU leg here (every one scored on the cell's own 1,000 images) reached the "
        f"issue's 88% (best {best:.2f})."
        if best < 88
        else f"The best leg here reached {best:.2f}%."
    )
    common = sorted(set(t_tr) & set(t_rot) - {150})
    late = [t_rot[g] for g in t_rot if g >= 300]
    mean_tr = sum(t_tr[g] for g in common) / len(common)
    mean_rot = sum(t_rot[g] for g in common) / len(common)
    return _wrap(f"""
- **The papers' fitness** (cross-entropy on the images the inner loop trains on) still pays
  at population 32: test % (generations) {_series(t_tr)}; the 150-generation leg is exactly
  table1's small-scale cell. The H100 run with population 256 went on to
  {_pct(h100["train_accuracy"])} / {_pct(h100["test_accuracy"])} after 5,000 generations,
  at a training cross-entropy of {-card["evolution"]["final_centre_fitness"]:.3f}: it
  memorises the 1,000 images, and test accuracy stays below the
  {_ref("ref-dfa-sgd-lr1.0-100")[1]} that plain DFA reaches in 100 steps. {reached}
- **Accuracy as the fitness** ({_leg("sgd-acc-train", 300)[1]} at 300 generations) and an
  **Adam inner loop** do not help at this scale: the Adam start is already
  {_ref("ref-dfa-adam-20")[0]} / {_ref("ref-dfa-adam-20")[1]} (DFA-Adam, 20 steps) and
  evolution raised its train accuracy while lowering its test accuracy
  ({_leg("adam-ce-train", 150)[1]} at 150, {_leg("adam-ce-train", 300)[1]} at 300).
- **Fitness on one fixed held-out fifth** (200 of the 1,000; the inner loop trains on the
  other 800) makes *meta-overfitting* visible: the cross-entropy on those 200 images kept
  falling ({-_centre_fitness(fx, 150):.3f} -> {-_centre_fitness(fx, g_fx):.3f})
  while test accuracy fell after 300 generations ({_leg(fx, 300)[1]} ->
  {_leg(fx, g_fx)[1]}): a credit network of ~5,000 parameters can steer the training
  dynamics towards 200 particular images. That is why `--fitness-data within` redraws the
  held-out fifth every generation.
- **A held-out fifth redrawn every generation** shows no such decline, but no gain either at
  population 32: test % (generations) {_series(t_rot)}; from 300 generations on the legs
  spread over {max(late) - min(late):.1f} points with no trend, and at the generations
  both runs reached (300 and later) they average {mean_rot:.2f} against {mean_tr:.2f} for
  the papers' fitness. Each generation's fitness is measured on a different fifth, so the
  signal is noisier than a fixed set's. The held-out route did pay on the H100 with
  population 256 and 5,000 *extra* images ({_pct(held["train_accuracy"])} /
  {_pct(held["test_accuracy"])}, above BP-Adam trained to convergence); the redrawn fifth
  of the cell's own images did not do the same on an H200 at population 256 and 1,024
  (best leg {_h200_best("within")}: [docs/gpu-h200.md](gpu-h200.md)).
{_seed_bullet()}
{_lr_bullet()}
{_gain_bullet()}
{_population_bullet()}
{_within_population_bullet()}
{_h200_bullet()}""")


H200 = ROOT / "results" / "gpu" / "h200"


def _h200_best(fitness: str) -> str:
    """The best GPU test % of the H200 legs whose run name starts with ``fitness``
    (``train``: the papers' fitness; ``within``: the redrawn held-out fifth), as
    'test (run, generations)'."""
    best = max(
        (_load(p)["results"][0]["test_accuracy"], p.parent.parent.name, p.stem)
        for p in H200.glob(f"mnist-1000-20-{fitness}-*/legs/metrics-g*.json")
    )
    return f"{_pct(best[0])}, `{best[1]}` after {best[2].removeprefix('metrics-g')} generations"


def _h200_bullet() -> str:
    """What population 256 and 1,024 on a GPU did for this cell (docs/gpu-h200.md)."""
    if not H200.is_dir():
        return ""
    best = max(
        _load(p)["results"][0]["test_accuracy"]
        for p in H200.glob("mnist-1000-20-*/legs/metrics-g*.json")
    )
    return (
        "- **On an H200 at population 256 and 1,024** (the gain, legs of up to 3,000 "
        "generations, [docs/gpu-h200.md](gpu-h200.md)): the best leg with the papers' fitness "
        f"is {_h200_best('train')}, with the redrawn held-out fifth {_h200_best('within')}. "
        "With the papers' fitness test accuracy peaks early and falls as the training "
        "images are memorised; "
        + ("none of the legs reaches 88%." if best < 0.88 else "a leg reaches 88%.")
    )


def _seed_bullet() -> str:
    """Both fitness choices over two evolution seeds, on the legs every run reached."""
    names = {"papers' fitness": "sgd-ce-train", "redrawn fifth": "sgd-ce-within"}
    runs = {
        k: [_tests(n), _tests(f"{n}-seed1")]
        for k, n in names.items()
        if (RUNS / f"{n}-seed1-eval").is_dir()
    }
    if len(runs) < 2:
        return ""
    legs = sorted(set.intersection(*(set(t) for r in runs.values() for t in r)) - {150})
    parts, means = [], {}
    for k, (s0, s1) in runs.items():
        means[k] = [sum(t[g] for g in legs) / len(legs) for t in (s0, s1)]
        m0, m1 = means[k]
        parts.append(f"{k}: seed 0 {m0:.2f}, seed 1 {m1:.2f} (seed 1: {_series(s1)})")
    gaps = [a - b for a, b in zip(*means.values(), strict=True)]
    verdict = (
        "the papers' fitness leads on both seeds, by "
        + " and ".join(f"{g:.2f}" for g in gaps)
        + " points: at population 32 the redrawn fifth costs accuracy"
        if min(gaps) > 0
        else "the order of the two changes with the seed: no difference at this scale"
    )
    return (
        f"- **Second seeds** (mean test % over the legs at {', '.join(map(str, legs))} "
        f"generations): {'; '.join(parts)}. So {verdict}."
    )


def _at_pick(picked: str | None) -> dict[int, float]:
    """Test % by generation of a seed at its validation-picked lr: the run ``picked``, or
    for seed 2 (no outer-loop run at its pick) the 150-generation precision-study run."""
    if picked:
        return _tests(picked)
    seed2 = _load(RUNS.parent / "precision" / "default-seed2" / "metrics.json")
    return {150: 100 * seed2["results"][0]["test_accuracy"]}


def _mean_gap(a: dict[int, float], b: dict[int, float]) -> float:
    """Mean of a - b over the generations both series reached."""
    common = sorted(set(a) & set(b))
    return sum(a[g] - b[g] for g in common) / len(common)


def _lr_bullet() -> str:
    """The inner lr: each seed's validation pick against lr 1, on the legs both reached."""
    picks = {
        s: _load(RUNS.parent / "precision" / f"default-seed{s}" / "config.json")["lr"]
        for s in (0, 1, 2)
    }
    pairs = {
        1: ("sgd-ce-train-seed1", "sgd-ce-train-lr1-seed1"),
        2: (None, "sgd-ce-train-lr1-seed2"),
    }
    if not all((RUNS / f"{lr1}-eval").is_dir() for _, lr1 in pairs.values()):
        return ""
    parts = [f"seed 0 (its pick is {picks[0]:g}): {_series(_tests('sgd-ce-train'))}"]
    gaps = []  # lr 1 minus the pick, per seed, mean over the legs both reached
    last_gap = (0, 0.0)  # (generations, gap) at seed 1's last leg both reached
    for s, (picked, lr1) in pairs.items():
        at_pick, at_lr1 = _at_pick(picked), _tests(lr1)
        gaps.append(_mean_gap(at_lr1, at_pick))
        if s == 1:
            common = sorted(set(at_pick) & set(at_lr1))
            last_gap = (common[-1], at_lr1[common[-1]] - at_pick[common[-1]])
        parts.append(
            f"seed {s} at its pick {picks[s]:g}: {_series(at_pick)}; at lr 1: {_series(at_lr1)}"
        )
    h100 = sorted({_load(ZOO / f"{n}.json")["recorded"][0]["lr"] for n in ZOO_ROWS})
    return (
        "- **The inner learning rate.** Validation picks lr "
        + ", ".join(f"{picks[s]:g}" for s in picks)
        + " for the starting networks of seeds 0, 1, 2 (the H100 runs above used "
        + ", ".join(f"{v:g}" for v in h100)
        + "). Test % (generations): "
        + "; ".join(parts)
        + ". (Seed 2 at its pick: `results/cpu/precision/default-seed2`.) At equal "
        + "generations lr 1 "
        + ("leads" if min(gaps) > 0 else "does not lead on every seed")
        + " by "
        + " and ".join(f"{g:.2f}" for g in gaps)
        + f" points on seeds 1 and 2, though the gap narrows (seed 1: {last_gap[1]:.2f} at "
        + f"{last_gap[0]} generations; the best lr-1 leg is "
        + f"{max(max(_tests(lr1).values()) for _, lr1 in pairs.values()):.2f}), so lr 1 mostly "
        "gets there in fewer generations. The rate the validation pick avoids (the starting "
        "network's accuracy there is chaotic over seeds: `results/cpu/precision-start.txt`) "
        "is the one evolution does best with; an evolved credit gain (next) removes the "
        "choice, and the H200 runs of this cell used it ([docs/gpu-h200.md](gpu-h200.md))."
    )


def _gains(name: str) -> dict[int, float]:
    """The evolved credit gain after each leg of a --learned-gain run, by generation."""
    return {g: m["credit_gain"] for g, m in _legs(name).items()}


def _output_growth(name: str, start_of: str) -> float:
    """Relative change of the credit network's output-weight norm over run ``name``. Its
    start is read from ``start_of``'s credit_net_start.npz (runs older than that file):
    the DFA-like start depends only on the seed, so a run of the same seed has it."""
    from tdca.credit.artifact import load_credit_net

    seeds = {_load(RUNS / n / "config.json")["seed"] for n in (name, start_of)}
    assert len(seeds) == 1, f"{name} and {start_of} started from different seeds"
    start = load_credit_net(RUNS / start_of / "credit_net_start.npz")[1][2]["w"]
    end = load_credit_net(RUNS / name / "credit_net.npz")[1][2]["w"]
    return float(np.linalg.norm(end) / np.linalg.norm(start)) - 1


def _gain_bullet() -> str:
    """The evolved credit gain against the same seed without it (at its validation pick
    and at lr 1), on the legs both reached; and why: lr 3 without a gain."""
    seeds = {
        0: ("sgd-ce-train-gain", "sgd-ce-train", "sgd-ce-train"),
        1: ("sgd-ce-train-gain-seed1", "sgd-ce-train-seed1", "sgd-ce-train-lr1-seed1"),
        2: ("sgd-ce-train-gain-seed2", None, "sgd-ce-train-lr1-seed2"),
    }
    done = {s: r for s, r in seeds.items() if (RUNS / f"{r[0]}-eval").is_dir()}
    if not done or not (RUNS / "sgd-ce-train-lr3-eval").is_dir():
        return ""
    parts, over_pick, over_lr1, final_steps = [], [], [], []
    for s, (gain, picked, lr1) in done.items():
        t_gain, lr = _tests(gain), _load(RUNS / gain / "config.json")["lr"]
        over_pick.append(_mean_gap(t_gain, _at_pick(picked)))
        over_lr1.append(_mean_gap(t_gain, _tests(lr1)))
        step_sizes = [lr * k for k in _gains(gain).values()]
        steps = ", ".join(f"{x:.2f}" for x in step_sizes)
        final_steps.append(step_sizes[-1])
        parts.append(
            f"seed {s} from lr {lr:g}: {_series(t_gain)} (lr x gain after each leg: {steps})"
        )
    best = max(max(_tests(r[0]).values()) for r in done.values())
    lr3 = _legs("sgd-ce-train-lr3")[150]
    lr3_start = _load(RUNS / "sgd-ce-train-lr3" / "metrics.json")["at_start"][0]
    growth = _output_growth("sgd-ce-train-seed1", "sgd-ce-train-lr1-seed1")

    def signed(xs: list[float]) -> str:
        return " / ".join(f"{x:+.2f}" for x in xs)

    return (
        "- **An evolved credit gain** (`--learned-gain 20`: one more parameter g, every credit "
        "times exp(20 g), starting at 1). Under SGD the credits' overall size is the inner "
        "step, and PGPE moves each of the ~5,000 coordinates by about its learning rate per "
        "generation, so it barely rescales the network as a whole: the seed-1 run at lr 0.3 "
        f"changed the norm of its output weights by {growth:+.1%} "
        f"in {max(_legs('sgd-ce-train-seed1'))} generations, and at lr 3 (training "
        f"cross-entropy {lr3_start['train_loss']:.1f} at the start, test "
        f"{_pct(lr3_start['test_accuracy'])}) 150 generations only reached "
        f"{_pct(lr3['train_accuracy'])} / {_pct(lr3['test_accuracy'])}. With the gain, "
        "test % (generations): "
        + "; ".join(parts)
        + ". Mean difference over the legs both reached, seed by seed: "
        f"{signed(over_pick)} points against the same seed at its validation pick without a "
        f"gain, {signed(over_lr1)} against lr 1 without a gain. So from lr 1 and from lr "
        f"0.3 alike the gain settles at the step that lr 1 had been chosen by hand for (lr x gain "
        f"ends at {min(final_steps):.2f}-{max(final_steps):.2f}), with no choice left to "
        "the validation pick; "
        + (
            f"it does not lift the plateau: the best gain leg is {best:.2f}."
            if best < 88
            else f"its best leg reaches {best:.2f}."
        )
    )


def _population_bullet() -> str:
    """Population 128 against 32, same seed and gain, on the legs both reached."""
    big, small = "sgd-ce-train-gain-pop128", "sgd-ce-train-gain"
    if not (RUNS / f"{big}-eval").is_dir():
        return ""
    t_big, t_small = _tests(big), _tests(small)
    common = sorted(set(t_big) & set(t_small))
    last = common[-1]
    gap = _mean_gap(t_big, t_small)
    (train_big, _), (train_small, _) = _leg(big, last), _leg(small, last)
    verdict = (
        "a larger population fits the 1,000 training images faster but does not lift test "
        "accuracy to 88%"
        if max(t_big.values()) < 88
        else f"population 128 reaches {max(t_big.values()):.2f}%"
    )
    return (
        f"- **Population 128** (seed 0, with the gain): test % (generations) {_series(t_big)} "
        f"against {_series({g: t_small[g] for g in common})} at population 32, "
        f"{gap:+.2f} points on average; after {last} generations the training cross-entropy "
        f"is {-_centre_fitness(big, last):.3f} against {-_centre_fitness(small, last):.3f} "
        f"and train accuracy {train_big} against {train_small}. So {verdict}."
    )


def _within_population_bullet() -> str:
    """The redrawn held-out fifth against the papers' fitness, both at population 128 with
    the gain (seed 0): a CPU proxy for the H200 runs at population 256 (docs/gpu-h200.md)."""
    held, train, small = "sgd-ce-within-gain-pop128", "sgd-ce-train-gain-pop128", "sgd-ce-within"
    if not (RUNS / f"{held}-eval").is_dir():
        return ""
    t_held, t_train = _tests(held), _tests(train)
    common = sorted(set(t_held) & set(t_train))
    gap, gap32 = _mean_gap(t_held, t_train), _mean_gap(_tests(small), _tests("sgd-ce-train"))
    # One seed per row: differences under a point are within what a second seed moves.
    standing = (
        "the held-out fifth and the papers' fitness are level (within seed noise)"
        if abs(gap) < 1
        else f"the held-out fifth is {'ahead of' if gap > 0 else 'behind'} the papers' fitness"
    )
    best = max(t_held.values())
    return (
        f"- **The redrawn held-out fifth at population 128** (seed 0, with the gain; a CPU "
        f"proxy for the H200 runs at population 256): test % (generations) "
        f"{_series(t_held)} against {_series({g: t_train[g] for g in common})} with the "
        f"papers' fitness at the same population, {gap:+.2f} points on average "
        f"over the legs both reached (at population 32 without the gain: {gap32:+.2f}). So "
        f"at population 128 {standing}"
        + (
            f", and neither reaches 88% (best legs {best:.2f} and {max(t_train.values()):.2f})."
            if max(best, *t_train.values()) < 88
            else f"; its best leg reaches {best:.2f}%."
        )
    )


def render() -> str:
    """The page, from the run directories."""
    head = "| {} | {} | lr | train % | test % | run |\n|---|---|---|---|---|---|"
    vhead = (
        "| fitness | generations | lr | centre fitness (last 25 gen.) | train % | test % | run |"
        "\n|---|---|---|---|---|---|---|"
    )
    return f"""# The outer loop's fitness and generalisation (MNIST, 1,000 images, 20 steps)

Generated by `python results/cpu/outer_loop_table.py` from the run directories that
`bash results/cpu/outer_loop.sh` writes under `results/cpu/outer-loop/` (2-core CPU,
DFA-like start, population 32 and evolution seed 0 unless a row says otherwise: small
scale, one seed per row, so differences of about a point are within what a second seed
moves; see "Read with care" under the README's table of test accuracies).
Issue #3 asks for >= 88% test at this cell on a GPU at the papers' settings; the 2024 paper
reports 99.8 / 88.61 (the 2022 version of the same table: 97.8 / 86.61, every TDCA cell 2.00
points lower; see the README). On an H200, 5,000 generations of population 1,024 with the
redrawn held-out fifth below as fitness reached 87.99 and 88.15 for two evolution seeds;
with the papers' fitness no run passed 87.47 (docs/gpu-h200.md). Test accuracy is on the
10,000 MNIST test images, which no evolution sees.

## Reference learners at the same cell

{head.format("learner", "steps")}
{chr(10).join(reference_rows())}

DFA with 100 SGD steps reaches the paper's TDCA number (99.90 / 88.79); what a credit
network has to learn is to get there in 20.

## Evolved credit networks, evaluated after each leg of evolution

{vhead}
{chr(10).join(variant_rows())}
{chr(10).join(zoo_rows())}

## Reading

{reading()}
"""


def main() -> int:
    if not RUNS.is_dir():
        print(f"no runs under {RUNS}: run `bash results/cpu/outer_loop.sh` first", file=sys.stderr)
        return 1
    OUT.write_text(render())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
