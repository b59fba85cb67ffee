"""``tdca demo``: the main job, in a minute or two on a CPU.

Evolves a TDCA credit network on the single mixed Gaussian and on the two-task version,
then prints where BP and TDCA end from the default start point and which share of a grid
of start points each brings to the global minimum. Then it takes the MNIST credit network
of the zoo (evolved on a GPU, shipped with the package) and trains a fresh 784-100-10
network with it next to backprop, both on the same 1,000 images for 20 full-batch steps
(MNIST is fetched and checksummed on first use; without it this part is skipped, saying
why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tdca.experiments.gaussian import GaussianConfig, run_gaussian
from tdca.rundir import RunDirError, code_version, write_json_file
from tdca.terminal import output_console


def _rows(name: str, m: dict[str, Any]) -> list[list[str]]:
    rows = []
    for method in ("bp", "tdca"):
        r, fld = m[method], m["field"]
        rows.append(
            [
                name,
                method.upper(),
                f"({r['final'][0]:.1f}, {r['final'][1]:.1f})",
                f"{r['value']:.3f}",
                r["reached"],
                f"{fld[f'{method}_to_global_fraction']:.2f}",
                f"{fld['global_basin_fraction']:.2f}",
            ]
        )
    return rows


ZOO_ENTRY = "mnist-1000-20"


def mnist_zoo_comparison(data_dir: str | None = None) -> dict[str, Any]:
    """TDCA with the zoo's MNIST credit network vs Kaiming BP (SGD, learning rate picked on
    a validation split), both training a fresh network under the entry's protocol."""
    from tdca import zoo
    from tdca.experiments.classification import make_split, train_learner, tune_lr

    row = zoo.card(ZOO_ENTRY)["recorded"][0]
    n, steps = row["train_size"], row["steps"]
    tdca = zoo.train_with(ZOO_ENTRY, row, data_dir)
    split = make_split(row["dataset"], data_dir, n)
    tuned = tune_lr("bp", row["dataset"], data_dir, arch="mlp-100", train_size=n, steps=steps)
    bp = train_learner("bp", split, steps=steps, lr=tuned["lr"])
    return {"entry": ZOO_ENTRY, "recorded": row, "tdca": tdca, "bp": bp, "bp_lr_tuning": tuned}


def _print_mnist(console: Console, m: dict[str, Any]) -> None:
    table = Table(
        title=f"tdca demo: MNIST, {m['tdca']['train_size']} images, {m['tdca']['steps']} "
        f"full-batch steps, fresh 784-100-10 network"
    )
    for col in ("learner", "lr", "train accuracy", "test accuracy"):
        table.add_column(col)
    for label, r in (
        (f"TDCA (tdca:zoo/{m['entry']}, zero init)", m["tdca"]),
        ("BP (Kaiming init, lr picked on validation)", m["bp"]),
    ):
        table.add_row(
            label,
            f"{r['lr']:g}",
            f"{100 * r['train_accuracy']:.2f}%",
            f"{100 * r['test_accuracy']:.2f}%",
        )
    console.print(table)


def run_demo(
    out: str | Path,
    *,
    progress: bool = True,
    console: Console | None = None,
    mnist: bool = True,
) -> dict:
    console = console or output_console()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        # its sub-runs would refuse one by one, pointing at a --resume the demo does not have
        raise RunDirError(
            f"--out {out}: exists and is not an empty folder; the demo writes a new one each "
            "time (a minute or two): choose another"
        )
    results = {}
    for label, multi in (("single", False), ("multi-task", True)):
        console.print(f"[bold]Mixed Gaussian ({label}):[/] evolving a TDCA network with PGPE")
        results[label] = run_gaussian(
            GaussianConfig(multi_task=multi), out / f"gaussian-{label}", progress=progress
        )
    table = Table(title="tdca demo: BP vs evolved TDCA on mixed Gaussians (50 steps)")
    for col in (
        "function",
        "method",
        "final point",
        "f(final)",
        "reached",
        "grid->global",
        "global basin",
    ):
        table.add_column(col)
    for row in _rows("gaussian 1", results["single"]):
        table.add_row(*row)
    for k, m in enumerate(results["multi-task"]["tasks"]):
        for row in _rows(f"multi-task {k + 1}", m):
            table.add_row(*row)
    console.print(table)
    console.print(
        "grid->global: share of a 21x21 grid of start points within radius 5 of the global "
        "minimum after 50 steps; global basin: share that long gradient descent sends there."
    )
    if mnist:
        from tdca.data.loader import DatasetError

        try:
            results["mnist"] = mnist_zoo_comparison()
        except DatasetError as e:
            console.print(f"[yellow]MNIST part skipped: {e}[/]")
        else:
            _print_mnist(console, results["mnist"])
            (out / "mnist-zoo").mkdir(parents=True, exist_ok=True)
            slim = {
                k: v
                if not isinstance(v, dict)
                else {kk: vv for kk, vv in v.items() if not kk.startswith("curve")}
                for k, v in results["mnist"].items()
            }
            write_json_file(out / "mnist-zoo" / "metrics.json", slim)
            # what made it, with the code version, as every run directory has
            write_json_file(
                out / "mnist-zoo" / "config.json",
                {
                    "experiment": "demo-mnist-zoo",
                    "entry": ZOO_ENTRY,
                    "dataset": results["mnist"]["recorded"].get("dataset", "mnist"),
                    "train_size": results["mnist"]["tdca"].get("train_size"),
                    "steps": results["mnist"]["tdca"].get("steps"),
                    "learners": [f"tdca:zoo/{ZOO_ENTRY}", "bp (lr picked on validation)"],
                    "code_version": code_version(),
                },
            )
    console.print(f"Run directories, figures and metrics.json are in {out}/")
    return results
