"""``tdca reproduce TABLE``: the papers' tables and figures, our numbers beside theirs.

Two scales. ``paper`` is the papers' protocol (5,000 generations, full training sets, 150
full-batch steps); it needs a GPU. ``small`` runs on a CPU in minutes: fewer generations,
a smaller population, smaller training subsets, and the credit network starts from the
DFA-like initialisation (see ``tdca.credit.strategies.tdca.dfa_like_init``); each table says
what it ran. Baselines are fair: every BP/FA/DFA learning rate is picked on a validation
split (5,000 training images the learner never trains on) from a grid, then run over
several seeds (mean +- std). Re-running the same command resumes: finished evolutions and
baselines are reused, interrupted evolutions continue from their checkpoints.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from tdca.credit.artifact import FILENAME
from tdca.credit.diffusion import SCOPES as DIFFUSION_SCOPES  # --diffusion's choices
from tdca.evolution import ESConfig
from tdca.experiments import paper_numbers as paper
from tdca.experiments.classification import (
    LR_GRIDS,
    EvolveConfig,
    baseline_grid,
    data_fingerprints,
    fingerprint,
    make_split,
    run_evolve,
    seeds_summary,
    train_learner,
    tune_lr,
)
from tdca.experiments.lr_grid import LR_GRID_EXTENSION
from tdca.io import read_meta
from tdca.networks import ARCHITECTURES
from tdca.networks.registry import arch_code
from tdca.rundir import (
    RunDirInUse,
    check_folder,
    code_version,
    exclusive,
    live_holder,
    make_folder,
    read_json,
    read_json_or_set_aside,
    wait_until_free,
    write_json_file,
)
from tdca.terminal import output_console

TABLES = (
    "table1",
    "table2",
    "tableS1",
    "tableS2",
    "tableS3",
    "tableS4",
    "figS1",
    "figS2",
    "figS3",
)
# Tables whose data sets are not chosen with --datasets, and why.
FIXED_DATASETS = {
    "table1": "is MNIST with transfer to Fashion-MNIST",
    "tableS4": "counts parameters and FLOPs (no data set)",
    "figS3": "is MNIST, as the paper's figure",
}
ONLY_DATASETS = {"figS3": ("mnist",)}  # what a fixed table records it ran on, if not all
DATASETS = ("mnist", "fashion-mnist", "cifar10")
TRAIN_TOTAL = paper.FULL_TRAIN_SIZE  # the data sets' full training sets


@dataclass(frozen=True)
class Scale:
    name: str
    es: ESConfig
    seeds: int
    table1_cells: tuple[tuple[int, int], ...]
    full: tuple[int | None, int]  # (train size or None = whole set, steps)
    cnn_train: int
    credit_init: str
    per_cell_evolution: bool  # table 1: evolve every cell, or reuse the first cell's network
    # Inner-loop optimizer for every full-batch learner and for evolution. "paper" uses Adam:
    # the papers' BP rows at 60,000/150 (96.16%) and their working Zero-BP rows match 150
    # full-batch Adam steps (measured: 96.28%; SGD at its best lr 93.86%, Zero-BP stuck).
    optimizer: str = "sgd"

    def lr_grid(self, optimizer: str | None = None) -> tuple[float, ...]:
        """The baselines' rate grid for an inner optimizer (the scale's by default)."""
        return baseline_grid("bp", optimizer or self.optimizer)

    def tag(self, sep: str, optimizer: str | None = None) -> str:
        """Cache-key suffix for runs with this inner optimizer (the scale's by default):
        empty for SGD, so existing small-scale caches stay valid; ``sep`` + name otherwise."""
        optimizer = optimizer or self.optimizer
        return "" if optimizer == "sgd" else f"{sep}{optimizer}"


SMALL = Scale(
    "small",
    ESConfig(
        population=32, generations=150, sigma_init=0.003, learning_rate=0.001, checkpoint_every=25
    ),
    seeds=5,
    table1_cells=((1000, 20), (5000, 50), (10000, 150)),
    full=(1000, 20),
    cnn_train=1000,
    credit_init="dfa",
    per_cell_evolution=False,
)
PAPER = Scale(
    "paper",
    # PGPE rate 2e-4, not small's 1e-3: with the Adam inner loop at 10,000/150 on an H100,
    # 1e-3 took the centre's fitness from -0.080 to -0.12 within 10 generations (-0.083 at
    # 557), 2e-4 to -0.067 in 549 (results/gpu/README.md, results/gpu/zoo-mnist).
    ESConfig(
        population=64, generations=5000, sigma_init=0.003, learning_rate=2e-4, checkpoint_every=100
    ),
    seeds=5,
    table1_cells=((1000, 20), (10000, 50), (60000, 150)),
    full=(None, 150),
    cnn_train=10000,
    credit_init="dfa",
    per_cell_evolution=True,
    optimizer="adam",
)
SCALES = {"small": SMALL, "paper": PAPER}


class Reproduction:
    """Shared machinery: cached evolutions and baselines under one output folder."""

    wait_poll = 5.0
    """Seconds between looks at an evolution another command is writing (``evolution``)."""

    def __init__(
        self,
        table: str,
        out: Path,
        scale: Scale,
        data_dir: str | None,
        progress: bool,
        console: Console,
        cache: Path | None = None,
        datasets: tuple[str, ...] = DATASETS,
        archs: tuple[str, ...] | None = None,
        diffusion: str = "layer",
        chunk_size: int | Literal["auto"] | None = "auto",
        plugins: tuple[str, ...] = (),
    ) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; choose one of {TABLES}")
        if diffusion not in DIFFUSION_SCOPES:
            raise ValueError(f"--diffusion must be one of {DIFFUSION_SCOPES}, got {diffusion!r}")
        if diffusion != "layer" and table not in DIFFUSION_TABLES:
            raise ValueError(
                f"{table} evolves no diffused credit network; drop --diffusion (it applies to "
                f"{', '.join(DIFFUSION_TABLES)})"
            )
        self.diffusion = diffusion
        self.chunk_size = chunk_size  # of the classification evolutions (run_evolve's)
        self.table, self.out, self.scale = table, Path(out), scale
        self.data_dir, self.progress, self.console = data_dir, progress, console
        check_folder(self.out, "reproduce")  # its own folder is reused (the cache); others: no
        unknown = set(datasets) - set(DATASETS)
        if unknown or not datasets:
            raise ValueError(f"--datasets must be a subset of {DATASETS}, got {datasets}")
        if table in FIXED_DATASETS and set(datasets) != set(DATASETS):
            raise ValueError(f"{table} {FIXED_DATASETS[table]}; drop --datasets")
        self.datasets = ONLY_DATASETS.get(table, tuple(d for d in DATASETS if d in datasets))
        if archs is not None:
            archs = tuple(dict.fromkeys(archs))
            table_archs = TABLE_ARCHS.get(table, ())
            if not table_archs:
                raise ValueError(f"{table} has no architectures to choose from; drop --archs")
            if table in ANY_ARCH_TABLES:
                unknown = set(archs) - set(table_archs) - set(ARCHITECTURES)
                if not archs or unknown:
                    raise ValueError(
                        f"--archs for {table} must be among its own {table_archs} or the "
                        f"registered networks ({', '.join(ARCHITECTURES)}), got {archs}; a "
                        "network of your own: give the file that registers it (tdca --plugin "
                        "FILE.py reproduce ...)"
                    )
            elif not archs or set(archs) - set(table_archs):
                raise ValueError(f"--archs for {table} must be among {table_archs}, got {archs}")
        self.archs = archs  # None: every architecture the table uses
        self.plugins = tuple(plugins)  # recorded by the evolutions (their resume reloads them)
        self._refuse_another_table()
        self.shared = Path(cache) if cache is not None else self.out
        check_folder(self.shared, "reproduce", "--cache")  # not another command's run
        make_folder(self.out)  # only now that the arguments are known to be good
        make_folder(self.shared, "--cache")
        self.cache_file = self.shared / "baselines.json"
        self.cache: dict[str, Any] = self._read_cache()
        self._fingerprints: dict[tuple[str, int], str] = {}
        self._evolution_fingerprints: dict[str, dict[str, str]] = {}
        self._unverified_noted = False

    def _refuse_another_table(self) -> None:
        """Its folder is reused by the same command (the finished cells are kept), but
        another table, or the same table at another scale or with other data sets or
        architectures, would replace the table written there: refused."""
        saved = self.out / "config.json"
        then = read_json(saved) if saved.is_file() else None
        if not isinstance(then, dict):
            return
        if then.get("table") not in (None, self.table):
            raise ValueError(
                f"--out {self.out}: holds the results of {then['table']}; give {self.table} "
                "its own folder (share work between tables with --cache)"
            )
        now: dict[str, Any] = {"scale": self.scale.name, "datasets": list(self.datasets)}
        if "archs" in then:  # recorded since 2026-12-06
            now["archs"] = None if self.archs is None else list(self.archs)
        now["diffusion"] = self.diffusion
        mine = self.own_networks()
        if "network_code" in then or mine:  # a network of one's own, edited since?
            now["network_code"] = mine.get("network_code")
        then = {"diffusion": "layer"} | then  # recorded since 2026-12-06; before, layer only
        differ = {k: (then.get(k), v) for k, v in now.items() if then.get(k) != v}
        if differ:
            said = ", ".join(f"{k} {old} there, {new} now" for k, (old, new) in differ.items())
            raise ValueError(
                f"--out {self.out}: holds {self.table} made with other settings ({said}); "
                "give this one its own folder (share work between them with --cache)"
            )

    def _read_cache(self) -> dict[str, Any]:
        """baselines.json as it is on disk now (another reproduce sharing --cache may have
        added to it); a damaged one is set aside and recomputed."""
        with exclusive(self.shared / ".baselines.lock"):
            return read_json_or_set_aside(self.cache_file, self.log)

    def _add_to_cache(self, key: str, entry: dict[str, Any]) -> None:
        """Merge one baseline into baselines.json under the lock, keeping what other
        processes wrote since this one read it, and replace the file atomically."""
        with exclusive(self.shared / ".baselines.lock"):
            self.cache = read_json_or_set_aside(self.cache_file, self.log) | {key: entry}
            write_json_file(self.cache_file, self.cache)

    def size(self, dataset: str, train_size: int | None) -> int:
        """Training-set size for a cell; None = the whole set (known data sets only)."""
        total = TRAIN_TOTAL.get(dataset)
        if total is None:
            if train_size is None:
                raise ValueError(f"give a training-set size for {dataset!r}")
            return train_size
        return total if train_size is None else min(train_size, total)

    # -- evolutions ----------------------------------------------------------------------
    def layout(self, layout: str) -> str:
        """A table's credit layout under this command's ``--diffusion``: a diffused one
        (``line:10``) gets the ``/group`` suffix for ``group``; dense ones are unchanged."""
        return layout if layout == "dense" or self.diffusion == "layer" else f"{layout}/group"

    def evolution(
        self,
        datasets: tuple[str, ...],
        arch: str,
        train_size: int | None,
        steps: int,
        layout: str = "dense",
    ) -> tuple[str, dict[str, Any]]:
        """Path of an evolved credit network (evolving, resuming or reusing it). Where
        another command sharing ``--cache`` is evolving the same network, this one waits
        for it and reuses its result (or resumes it, if that command stopped early).
        ``layout`` is the table's; ``--diffusion`` applies here (``self.layout``)."""
        layout = self.layout(layout)
        sizes = min(self.size(d, train_size) for d in datasets)
        slug = layout.replace(":", "-").replace("/", "-")  # a file name: no ':' or '/'
        key = f"{'+'.join(datasets)}_{self.arch_key(arch)}_{slug}_{sizes}x{steps}"
        key += self.scale.tag("_")
        run = self.shared / "evolutions" / key
        while True:
            if (run / "metrics.json").exists() and (run / FILENAME).exists():
                self._check_evolution_data(run, key)
                return str(run / FILENAME), read_json(run / "metrics.json")
            pid = live_holder(run)
            if pid is None:
                try:
                    return self._evolve(run, key, datasets, arch, sizes, steps, layout)
                except RunDirInUse as e:  # claimed between that look and ours
                    pid = e.pid
            self.log(
                f"{key}: process {pid} (another tdca command sharing this cache) is evolving "
                "it; waiting to reuse its result (Ctrl-C to stop)"
            )
            wait_until_free(run, self.wait_poll)

    def _check_evolution_data(self, run: Path, key: str) -> None:
        """A finished evolution in the cache is reused only for the data it was evolved on:
        its config.json's fingerprints must be those of the files read now (another
        --data-dir, a cut or changed copy would otherwise mix into the table unseen)."""
        saved = read_json(run / "config.json") if (run / "config.json").is_file() else {}
        then = saved.get("data_fingerprints") if isinstance(saved, dict) else None
        if not isinstance(then, dict):
            return self._note_unverified(f"evolution {key}")
        if key not in self._evolution_fingerprints:  # a table asks for one evolution often
            cfg = EvolveConfig.from_dict({**saved, "data_dir": self.data_dir})
            self._evolution_fingerprints[key] = data_fingerprints(cfg)
        self._refuse_other_data(
            f"evolution {key} was evolved", then, self._evolution_fingerprints[key]
        )

    def own_networks(self) -> dict[str, Any]:
        """``{"network_code": {name: its cache key}}`` for the networks of one's own this
        table runs (none: {}), so that the table says which code made its rows."""
        keys = {a: self.arch_key(a) for a in self.archs or () if arch_code(a) is not None}
        return {"network_code": keys} if keys else {}

    @staticmethod
    def arch_key(arch: str) -> str:
        """``arch`` as cache keys name it: a network of one's own (a plugin's) with the
        sha256 of its code (``arch_code``), so that work done with other code under the
        same name (an edited plugin, another file) is never reused for it, nor lost."""
        code = arch_code(arch)
        return arch if code is None else f"{arch}@{code[1][:12]}"

    def _check_baseline_data(self, key: str, entry: dict[str, Any], dataset: str, n: int) -> None:
        """``_check_evolution_data`` for a cached baseline (its split's fingerprint)."""
        then = entry.get("data_fingerprint")
        if then is None:
            return self._note_unverified(f"baseline {key}")
        if (dataset, n) not in self._fingerprints:
            self._fingerprints[dataset, n] = fingerprint(make_split(dataset, self.data_dir, n))
        self._refuse_other_data(
            f"baseline {key} was computed", then, self._fingerprints[dataset, n]
        )

    def _refuse_other_data(self, what: str, then: Any, now: Any) -> None:
        """The refusal of both checks: cached work made from other files than these."""
        if now != then:
            raise ValueError(
                f"--cache {self.shared}: {what} on other data (fingerprint {then}, the files "
                f"read now give {now}); give these files a --cache of their own"
            )

    def _note_unverified(self, what: str) -> None:
        """Results cached before fingerprints were recorded are reused as they are, said
        once per command (with the first of them) rather than passed over in silence."""
        if not self._unverified_noted:
            self._unverified_noted = True
            self.log(
                f"note: {what} records no fingerprint of its data (baselines record one "
                "since 2026-12-06, evolutions since 2026-11-26), so it and any other such "
                "result in this cache are reused without checking that they were computed "
                "on the files read now; a new --cache recomputes everything on them"
            )

    def _evolve(
        self,
        run: Path,
        key: str,
        datasets: tuple[str, ...],
        arch: str,
        sizes: int,
        steps: int,
        layout: str,
    ) -> tuple[str, dict[str, Any]]:
        cfg = EvolveConfig(
            datasets=datasets,
            arch=arch,
            train_size=sizes,
            steps=steps,
            lr=None,
            layout=layout,
            credit_init=self.scale.credit_init,
            optimizer=self.scale.optimizer,
            data_dir=self.data_dir,
            es=self.scale.es,
            plugins=self.plugins if arch_code(arch) is not None else (),  # a plugin's network
        )
        resume = (run / "config.json").exists()
        self.log(f"evolving {key} ({'resuming' if resume else 'new'})")
        metrics = run_evolve(
            cfg, run, resume=resume, progress=self.progress, chunk_size=self.chunk_size
        )
        if metrics is None:
            raise KeyboardInterrupt
        return str(run / FILENAME), metrics

    # -- learners --------------------------------------------------------------------------
    def baseline(
        self,
        learner: str,
        dataset: str,
        arch: str,
        train_size: int | None,
        steps: int,
        optimizer: str | None = None,
    ) -> dict[str, Any]:
        """lr tuned on validation, then ``seeds`` runs; cached in baselines.json. The inner
        optimizer is the scale's unless ``optimizer`` is given (bp-adam: always its own)."""
        n, opt = self.size(dataset, train_size), self._optimizer_for(learner, optimizer)
        key = self.baseline_key(learner, dataset, arch, train_size, steps, optimizer)
        if key not in self.cache:
            self.cache = self._read_cache()  # computed meanwhile by a run sharing --cache?
        if key not in self.cache:
            # One command computes a baseline at a time; another sharing --cache that needs
            # the same one waits for it and reuses it instead of computing it again.
            def waiting() -> None:
                self.log(
                    f"baseline {key}: another tdca command sharing this cache is computing "
                    "it; waiting to reuse its result (Ctrl-C to stop)"
                )

            with exclusive(self.baseline_lock(key), on_wait=waiting):
                self.cache = self._read_cache()
                if key not in self.cache:
                    self._compute_baseline(key, learner, dataset, arch, n, steps, opt)
        self._check_baseline_data(key, self.cache[key], dataset, n)
        return dict(self.cache[key])

    def baseline_key(
        self,
        learner: str,
        dataset: str,
        arch: str,
        train_size: int | None,
        steps: int,
        optimizer: str | None = None,
    ) -> str:
        """A baseline's entry in baselines.json (its settings, as ``baseline`` takes them)."""
        n = self.size(dataset, train_size)
        key = f"{learner}|{dataset}|{self.arch_key(arch)}|{n}|{steps}|{self.scale.seeds}"
        return key + self.scale.tag("|", self._optimizer_for(learner, optimizer))

    def _optimizer_for(self, learner: str, optimizer: str | None) -> str:
        """The inner optimizer a baseline's key names ("sgd" for bp-adam, whose Adam is
        its own)."""
        return "sgd" if learner == "bp-adam" else optimizer or self.scale.optimizer

    def baseline_lock(self, key: str) -> Path:
        """The lock a command holds while it computes baseline ``key`` for the cache."""
        return self.shared / f".baseline-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"

    def _compute_baseline(
        self, key: str, learner: str, dataset: str, arch: str, n: int, steps: int, opt: str
    ) -> None:
        """``baseline``'s work: tune the lr on validation, train ``seeds`` runs, cache them."""
        tuned = tune_lr(
            learner,
            dataset,
            self.data_dir,
            arch=arch,
            train_size=n,
            steps=steps,
            grid=baseline_grid(learner, opt),
            optimizer=opt,
        )
        split = make_split(dataset, self.data_dir, n)
        self._fingerprints[dataset, n] = fingerprint(split)
        runs = [
            train_learner(
                learner,
                split,
                arch=arch,
                steps=steps,
                lr=tuned["lr"],
                seed=s,
                curves=False,
                optimizer=opt,
            )
            for s in range(self.scale.seeds)
        ]
        entry = {
            **seeds_summary(runs),
            "lr": tuned["lr"],
            "optimizer": "adam" if learner == "bp-adam" else opt,
            "lr_grid": tuned["grid"],  # as tried: extended past an end the best sat at
            "validation_accuracy": tuned["validation_accuracy"],
            "data_fingerprint": self._fingerprints[dataset, n],
        }
        if (code := arch_code(arch)) is not None:  # a network of one's own: its file
            entry["arch_source"] = code[0]
        self._add_to_cache(key, entry)
        self.log(f"baseline {key}: lr {tuned['lr']}, test {self.cache[key]['test_accuracy']:.4f}")

    def log(self, message: str) -> None:
        """Console and ``log.txt`` in the table's folder."""
        self.console.print(message)
        with (self.out / "log.txt").open("a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def tdca(
        self,
        credit: str,
        dataset: str,
        arch: str,
        train_size: int | None,
        steps: int,
        keep_theta: bool = False,
        curves: bool = False,
    ) -> dict[str, Any]:
        split = make_split(dataset, self.data_dir, self.size(dataset, train_size))
        meta = read_meta(credit)  # the rate and optimizer the credit network was evolved for
        lr = float(meta["lr"])
        r = train_learner(
            f"tdca:{credit}",
            split,
            arch=arch,
            steps=steps,
            lr=lr,
            keep_theta=keep_theta,
            curves=curves,
            optimizer=meta.get("optimizer", "sgd"),
        )
        return r | {"seeds": 1, "lr": lr}


def row(
    dataset: str,
    method: str,
    result: dict[str, Any],
    train_size: int,
    steps: int,
    paper_cell: tuple[float | None, float | None],
    **extra: Any,
) -> dict[str, Any]:
    keep = (
        "train_accuracy",
        "test_accuracy",
        "train_accuracy_std",
        "test_accuracy_std",
        "seeds",
        "lr",
        "lr_grid",
    )
    out = {"dataset": dataset, "method": method, "train_size": train_size, "steps": steps}
    out |= {k: result[k] for k in keep if k in result}
    out |= {"paper_train_accuracy": paper_cell[0], "paper_test_accuracy": paper_cell[1]}
    return out | extra


# ---------------------------------------------------------------- the tables


def _table1(r: Reproduction) -> list[dict[str, Any]]:
    rows = []
    first_credit = None
    for col, (n, steps) in enumerate(r.scale.table1_cells):
        if r.scale.per_cell_evolution or first_credit is None:
            credit, _ = r.evolution(("mnist",), "mlp-100", n, steps)
            first_credit = first_credit or credit
            note = ""
        else:
            credit = first_credit
            n0, s0 = r.scale.table1_cells[0]
            note = f"credit network evolved at {n0}/{s0}, not re-evolved for this cell"
        for ds in ("mnist", "fashion-mnist"):
            for learner, method in (("bp", "kaiming-bp"), ("bp-zero", "zero-bp"), ("dfa", "dfa")):
                res = r.baseline(learner, ds, "mlp-100", n, steps)
                rows.append(row(ds, method, res, n, steps, paper.table1(ds, method, col)))
        mnist_tdca = r.tdca(credit, "mnist", "mlp-100", n, steps, keep_theta=True)
        rows.append(
            row(
                "mnist", "tdca", mnist_tdca, n, steps, paper.table1("mnist", "tdca", col), note=note
            )
        )
        # TrFC: the MNIST network trained by TDCA, applied to Fashion-MNIST untouched.
        from tdca.tasks.classification import accuracy

        fashion = make_split("fashion-mnist", r.data_dir, n)
        theta = mnist_tdca.pop("theta")
        model_apply = _mlp_apply(fashion.dataset)
        trfc = {
            "train_accuracy": float(accuracy(model_apply(theta, fashion.x_train), fashion.y_train)),
            "test_accuracy": float(accuracy(model_apply(theta, fashion.x_eval), fashion.y_eval)),
            "seeds": 1,
        }
        rows.append(
            row(
                "fashion-mnist",
                "tr-fc",
                trfc,
                n,
                steps,
                paper.table1("fashion-mnist", "tr-fc", col),
            )
        )
        tr = r.tdca(credit, "fashion-mnist", "mlp-100", n, steps)
        rows.append(
            row(
                "fashion-mnist",
                "tr-tdca",
                tr,
                n,
                steps,
                paper.table1("fashion-mnist", "tr-tdca", col),
                note=note,
            )
        )
    return rows


def _mlp_apply(ds: Any) -> Any:
    from tdca.experiments.classification import build_model

    return build_model("mlp-100", ds).apply


def full_cell(r: Reproduction, ds: str) -> tuple[int, int]:
    n, steps = r.scale.full
    return r.size(ds, n), steps


def _tableS1(r: Reproduction) -> list[dict[str, Any]]:
    rows = []
    for ds in r.datasets:
        n, steps = full_cell(r, ds)
        for learner, method in (("bp", "kaiming-bp"), ("bp-zero", "zero-bp"), ("dfa", "dfa")):
            rows.append(
                row(
                    ds,
                    method,
                    r.baseline(learner, ds, "mlp-100", n, steps),
                    n,
                    steps,
                    paper.table_s1(ds, method),
                )
            )
        credit, _ = r.evolution((ds,), "mlp-100", n, steps)
        rows.append(
            row(
                ds,
                "tdca",
                r.tdca(credit, ds, "mlp-100", n, steps),
                n,
                steps,
                paper.table_s1(ds, "tdca"),
            )
        )
        ref = r.baseline("bp-adam", ds, "mlp-100", n, 20 * steps)
        rows.append(
            row(
                ds,
                "bp-adam-converged",
                ref,
                n,
                20 * steps,
                (None, None),
                note="reference: Adam, mini-batch 128, 20x the steps",
            )
        )
    return rows


def _tableS2(r: Reproduction) -> list[dict[str, Any]]:
    rows = []
    sources = [(ds,) for ds in r.datasets] + ([r.datasets] if len(r.datasets) > 1 else [])
    for src in sources:
        n = min(full_cell(r, d)[0] for d in src)
        steps = r.scale.full[1]
        credit, _ = r.evolution(src, "mlp-100", n, steps)
        # The paper's "All" row is MNIST + Fashion-MNIST + CIFAR-10; another mix has no row.
        name = src[0] if len(src) == 1 else "all" if set(src) == set(DATASETS) else "+".join(src)
        for ds in r.datasets:
            res = r.tdca(credit, ds, "mlp-100", n, steps)
            rows.append(
                row(
                    ds,
                    "tdca" if ds in src else "tr-tdca",
                    res,
                    n,
                    steps,
                    paper.table_s2(name, ds),
                    evolved_on=name,
                )
            )
    return rows


DIFFUSION_TABLES = ("tableS3", "figS2", "figS3")
"""The commands that evolve a diffused credit network (``--diffusion`` applies to these)."""

S3_LAYOUTS = (
    ("mlp-100", "dense"),
    ("mlp-100", "line:10"),
    ("mlp-1000", "line:100"),
    ("mlp-900", "line:36"),
    ("mlp-900", "grid:6x6"),
)
# The bottom-up architectures a table's --archs can select from (the others have one).
# ANY_ARCH_TABLES' --archs also take any registered network (a plugin's): its rows have no
# paper numbers beside them, only the table's own baselines at the same protocol.
ANY_ARCH_TABLES = ("table2",)
TABLE_ARCHS = {
    "table2": ("deep-fc", "cnn"),
    "tableS3": tuple(dict.fromkeys(arch for arch, _ in S3_LAYOUTS)),
}


def _tableS3(r: Reproduction) -> list[dict[str, Any]]:
    rows = []
    for ds in r.datasets:
        n, steps = full_cell(r, ds)
        for col, (arch, layout) in enumerate(S3_LAYOUTS):
            if r.archs is not None and arch not in r.archs:
                continue
            credit, _ = r.evolution((ds,), arch, n, steps, layout)
            res = r.tdca(credit, ds, arch, n, steps)
            method = "tdca" if layout == "dense" else "tdca-diffusion"
            rows.append(
                row(
                    ds,
                    method,
                    res,
                    n,
                    steps,
                    paper.table_s3(ds, col),
                    arch=arch,
                    layout=r.layout(layout),
                    column=paper.TABLE_S3_COLUMNS[col],
                )
            )
    return rows


def _table2(r: Reproduction) -> list[dict[str, Any]]:
    rows = []
    own = TABLE_ARCHS["table2"]
    archs = own if r.archs is None else [a for a in own if a in r.archs]
    for arch in [*archs, *(a for a in r.archs or () if a not in own)]:
        for ds in r.datasets:
            n, steps = full_cell(r, ds)
            if arch == "cnn":
                n = min(n, r.scale.cnn_train)
            for learner, method in (("bp", "kaiming-bp"), ("bp-zero", "zero-bp")):
                rows.append(
                    row(
                        ds,
                        method,
                        r.baseline(learner, ds, arch, n, steps),
                        n,
                        steps,
                        paper.table2(arch, ds, method),
                        arch=arch,
                    )
                )
            credit, _ = r.evolution((ds,), arch, n, steps)
            rows.append(
                row(
                    ds,
                    "tdca",
                    r.tdca(credit, ds, arch, n, steps),
                    n,
                    steps,
                    paper.table2(arch, ds, "tdca"),
                    arch=arch,
                )
            )
    return rows


def _figS2(r: Reproduction) -> list[dict[str, Any]]:
    from tdca.plotting.curves import accuracy_curves

    rows = []
    for ds in r.datasets:
        n, steps = full_cell(r, ds)
        bp = r.baseline("bp", ds, "mlp-100", n, steps)
        split = make_split(ds, r.data_dir, n)
        curves = {
            "BP": train_learner("bp", split, steps=steps, lr=bp["lr"], optimizer=r.scale.optimizer)
        }
        for label, arch, layout in (
            ("TDCA", "mlp-100", "dense"),
            ("TDCA+diffusion", "mlp-100", "line:10"),
        ):
            credit, _ = r.evolution((ds,), arch, n, steps, layout)
            curves[label] = r.tdca(credit, ds, arch, n, steps, curves=True)
        accuracy_curves(
            {
                k: {"train": v["curve_train_accuracy"], "test": v["curve_test_accuracy"]}
                for k, v in curves.items()
            },
            r.out / f"figS2_{ds}.png",
            f"{ds}: accuracy per inner step ({n} images)",
        )
        for label, v in curves.items():
            rows.append(
                row(
                    ds,
                    label.lower().replace("+", "-"),
                    v,
                    n,
                    steps,
                    (None, None),
                    curve_train_accuracy=v["curve_train_accuracy"],
                    curve_test_accuracy=v["curve_test_accuracy"],
                )
            )
    return rows


FIGS1_GENERATIONS = 500
"""The papers' Figure S1 shows the first 500 generations of each evolution."""


def centre_curves(folder: Path, limit: int = FIGS1_GENERATIONS) -> dict[str, list[Any]]:
    """The search centre's cross-entropy and accuracy per generation, from an evolution's
    history (its first ``limit`` generations). Runs written before the centre's accuracy
    was logged have None there; their cross-entropy is minus the fitness when that was
    the fitness (the default), else None."""
    from tdca.evolution import read_history

    metric = read_json(folder / "config.json").get("fitness", "neg_ce")
    history = read_history(folder)[:limit]
    loss = [
        h.get("centre_loss", -h["centre_fitness"] if metric == "neg_ce" else None) for h in history
    ]
    return {
        "generation": [h["generation"] for h in history],
        "loss": loss,
        "accuracy": [h.get("centre_accuracy") for h in history],
    }


def _figS1(r: Reproduction) -> list[dict[str, Any]]:
    """PGPE's convergence: the search centre of each Table S1 evolution (784/3072-100-10,
    the data set's full protocol) per generation."""
    from tdca.plotting.curves import convergence_figure

    rows, curves = [], {}
    for ds in r.datasets:
        n, steps = full_cell(r, ds)
        credit, metrics = r.evolution((ds,), "mlp-100", n, steps)
        c = centre_curves(Path(credit).parent)
        curves[ds] = c
        result = next(x for x in metrics["results"] if x["dataset"] == ds)
        missing = all(a is None for a in c["accuracy"])
        rows.append(
            row(
                ds,
                "tdca",
                result | {"seeds": 1},
                n,
                steps,
                (None, None),
                generations=metrics["evolution"]["generations"],
                curve_generation=c["generation"],
                curve_centre_loss=c["loss"],
                curve_centre_accuracy=c["accuracy"],
                note="accuracy per generation not recorded (evolved before tdca logged it)"
                if missing
                else f"curves: the first {len(c['generation'])} generations",
            )
        )
    convergence_figure(
        curves, r.out / "figS1.png", f"PGPE convergence, 784/3072-100-10 ({r.scale.name} scale)"
    )
    return rows


def _figS3(r: Reproduction) -> list[dict[str, Any]]:
    from tdca.experiments.landscape import fig_s3  # it imports this module

    return fig_s3(r)


def _tableS4(r: Reproduction) -> list[dict[str, Any]]:
    from tdca.complexity import complexity_table

    return complexity_table()


BUILDERS = {
    "table1": _table1,
    "table2": _table2,
    "tableS1": _tableS1,
    "tableS2": _tableS2,
    "tableS3": _tableS3,
    "tableS4": _tableS4,
    "figS1": _figS1,
    "figS2": _figS2,
    "figS3": _figS3,
}


def run_reproduce(
    table: str,
    out: str | Path,
    *,
    scale: str = "small",
    data_dir: str | None = None,
    progress: bool = True,
    console: Console | None = None,
    cache: str | Path | None = None,
    datasets: tuple[str, ...] = DATASETS,
    archs: tuple[str, ...] | None = None,
    diffusion: str = "layer",
    chunk_size: int | Literal["auto"] | None = "auto",
    plugins: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write ``table`` at ``scale`` to ``out`` (config.json, log.txt, metrics.json,
    table.md, figures). ``plugins``: the files that registered networks given in ``archs``
    (recorded, as evolve's config records them)."""
    if scale not in SCALES:
        raise ValueError(f"--scale must be one of {tuple(SCALES)}, got {scale!r}")
    console = console or output_console()
    r = Reproduction(
        table,
        Path(out),
        SCALES[scale],
        data_dir,
        progress,
        console,
        None if cache is None else Path(cache),
        tuple(datasets),
        archs,
        diffusion,
        chunk_size=chunk_size,
        plugins=tuple(plugins),
    )
    write_json_file(
        r.out / "config.json",
        {
            "experiment": "reproduce",
            "table": table,
            "scale": scale,
            "datasets": list(r.datasets),
            "archs": None if r.archs is None else list(r.archs),
            "diffusion": diffusion,
            "cache": str(r.shared),
            "data_dir": data_dir,
            "es": r.scale.es.to_dict(),
            "seeds": r.scale.seeds,
            "inner_optimizer": r.scale.optimizer,
            "code_version": code_version(),
        }
        | ({"plugins": list(r.plugins)} if r.plugins else {})
        | r.own_networks(),
    )
    uses = "(no data set)" if table == "tableS4" else f"for {', '.join(r.datasets)}"
    r.log(f"reproduce {table} at scale {scale} {uses}")
    t0 = time.perf_counter()
    rows = BUILDERS[table](r)
    r.log(f"done: {len(rows)} rows")
    metrics = {
        "table": table,
        "scale": scale,
        "rows": rows,
        "datasets": list(r.datasets),
        "archs": None if r.archs is None else list(r.archs),
        "diffusion": diffusion,
        "cache": None if r.shared == r.out else str(r.shared),
        "settings": {
            "es": r.scale.es.to_dict(),
            "seeds": r.scale.seeds,
            "credit_init": r.scale.credit_init,
            "inner_optimizer": r.scale.optimizer,
            "tdca_lr": "picked per evolution on validation from "
            + str(list(LR_GRIDS[r.scale.optimizer]))
            + " by accuracy (by cross-entropy where every rate is at chance)",
            "lr_grid": list(r.scale.lr_grid()),
            "lr_grid_extension": LR_GRID_EXTENSION,
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "code_version": code_version(),
        **r.own_networks(),
    }
    write_json_file(r.out / "metrics.json", metrics)
    from tdca.experiments.report import table_markdown

    (r.out / "table.md").write_text(table_markdown(metrics))
    return metrics
