"""Throughput benchmark: seconds per generation, FLOP/s vs measured matmul peak, speedup
over a per-candidate reference. A thin wrapper over ``tdca.bench`` (see docs/performance.md).

    python benchmarks/throughput.py --out DIR [--small]
        [--precision float32|tf32|bfloat16|bfloat16-activations] [--kernel xla|fused]
    python benchmarks/throughput.py --out DIR --small --scaling --chunking
    python benchmarks/throughput.py --out DIR --plan   # full config's cost, nothing run
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from tdca.bench import (
    FULL,
    PRECISIONS,
    SMALL,
    chunking_points,
    plan,
    rows_to_markdown,
    run_bench,
    scaling_points,
)
from tdca.kernels import KERNELS


def _tiling(text: str) -> tuple[int, int, int, bool]:
    try:
        block, sub, warps, hoist = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"want four integers like 512,64,4,1, got {text!r}"
        ) from None
    return block, sub, warps, bool(hoist)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for metrics.json")
    p.add_argument("--small", action="store_true", help="2-core-CPU-sized config (< 1 min)")
    p.add_argument("--precision", choices=tuple(PRECISIONS), default="float32")
    p.add_argument("--kernel", choices=KERNELS, default="xla", help="tdca's step (tdca.kernels)")
    p.add_argument(
        "--tiling",
        type=_tiling,
        help="the fused kernel's BLOCK_ROWS,SUB_ROWS,NUM_WARPS,HOIST (e.g. 512,64,4,1; "
        "default: tdca.kernels.Tiling's)",
    )
    p.add_argument("--scaling", action="store_true", help="also time population/data/steps/width")
    p.add_argument("--chunking", action="store_true", help="also time chunked evaluation")
    p.add_argument("--plan", action="store_true", help="only the config's FLOPs and memory")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plan:
        info = plan(replace(SMALL if args.small else FULL, kernel=args.kernel), args.precision)
        (args.out / "plan.json").write_text(json.dumps(info, indent=2) + "\n")
        print(json.dumps(info, indent=2))
        return 0
    run_bench(args.small, args.out, args.precision, kernel=args.kernel, tiling=args.tiling)
    if args.scaling:
        rows = scaling_points(precision=args.precision)
        (args.out / "scaling.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(rows_to_markdown(rows))
    if args.chunking:
        rows = chunking_points(precision=args.precision)
        (args.out / "chunking.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(rows_to_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
