#!/usr/bin/env bash
# The CPU benchmark runs behind docs/performance.md's CPU sections (a 2-core CPU, no GPU),
# then the tables: `bash results/cpu/bench/run.sh` from anywhere (about 8 minutes).
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=results/cpu/bench
python benchmarks/throughput.py --small --scaling --chunking --out $R/small-float32
python benchmarks/throughput.py --small --precision tf32 --out $R/small-tf32
python benchmarks/throughput.py --small --precision bfloat16 --out $R/small-bfloat16
python benchmarks/throughput.py --plan --out $R/plan-float32
python benchmarks/throughput.py --plan --precision bfloat16-activations \
  --out $R/plan-bfloat16-activations
python $R/tables.py
