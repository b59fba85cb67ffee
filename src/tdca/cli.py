"""The ``tdca`` command line. Every subcommand validates its arguments and fails with one
line that says what to change."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from tdca.evolution import ESConfig
from tdca.io import ArtifactError
from tdca.rundir import RunDirError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _even_population(text: str) -> int:
    value = _positive_int(text)
    if value < 2 or value % 2:
        raise argparse.ArgumentTypeError(
            f"population must be an even number >= 2 (PGPE samples mirrored pairs), got {value}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2^31), got {value}")
    return value


def _add_run_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="new run directory to write")
    where.add_argument("--resume", type=Path, help="run directory to continue from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdca", description="Top-down credit assignment networks, evolved with PGPE."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the main job: BP vs evolved TDCA on mixed Gaussians")
    demo.add_argument(
        "--out", type=Path, default=None, help="where to write (default: runs/demo-<time>)"
    )
    demo.add_argument("--no-progress", action="store_true")

    g = sub.add_parser("gaussian", help="mixed-Gaussian optimisation (papers' first experiment)")
    _add_run_args(g)
    g.add_argument("--multi-task", action="store_true", help="two Gaussians, one credit network")
    g.add_argument("--generations", type=_positive_int, default=None)
    g.add_argument("--population", type=_even_population, default=None)
    g.add_argument("--seed", type=_seed, default=0)
    g.add_argument("--steps", type=_positive_int, default=None, help="inner-loop steps M")
    return parser


def _gaussian(args: argparse.Namespace) -> int:
    from tdca.experiments.gaussian import GaussianConfig, run_gaussian

    cfg = GaussianConfig(multi_task=args.multi_task, seed=args.seed)
    es: ESConfig = cfg.es
    if args.generations is not None:
        es = replace(es, generations=args.generations)
    if args.population is not None:
        es = replace(es, population=args.population)
    cfg = replace(cfg, es=es, steps=args.steps or cfg.steps)
    out = args.resume or args.out
    metrics = run_gaussian(cfg, out, resume=args.resume is not None, progress=not args.no_progress)
    if metrics is None:
        print(f"interrupted; continue with: tdca gaussian --resume {out}", file=sys.stderr)
        return 130
    tasks = metrics.get("tasks", [metrics])
    for k, m in enumerate(tasks, 1):
        fld = m["field"]
        print(
            f"function {k}: BP ends {m['bp']['reached']} ({fld['bp_to_global_fraction']:.2f} of "
            f"grid to global), TDCA ends {m['tdca']['reached']} "
            f"({fld['tdca_to_global_fraction']:.2f}); global basin share "
            f"{fld['global_basin_fraction']:.2f}"
        )
    print(f"wrote {out}/metrics.json")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tdca.experiments.demo import run_demo

    out = args.out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    run_demo(out, progress=not args.no_progress)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"gaussian": _gaussian, "demo": _demo}
    try:
        return handlers[args.command](args)
    except (RunDirError, ArtifactError, ValueError) as e:
        print(f"tdca {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
