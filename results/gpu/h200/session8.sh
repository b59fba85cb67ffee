#!/usr/bin/env bash
# GPU lease 4 (H200), call 5: the bfloat16-activations benchmark again with the fixed bench
# (its peak is now the native bf16 GEMM's, so metrics.json's fraction_of_peak is the one to
# read), and a second evolution seed of the best papers'-fitness leg (population 1,024,
# 125 generations, --learned-gain 20).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
timeout 90 python3 benchmarks/throughput.py --out $R/bench-bfloat16-activations-rerun --precision bfloat16-activations > $R/bench-bf16act-rerun.log 2>&1
grep -E "seconds / gen|speedup|achieved|peak|fraction" $R/bench-bf16act-rerun.log; snap
timeout -s INT 80 python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 --population 1024 \
  --learned-gain 20 --seed 1 --generations 125 --out $R/mnist-1000-20-train-gain-pop1024-seed1 --no-progress 2>&1 | tail -2
snap
