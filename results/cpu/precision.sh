#!/usr/bin/env bash
# Does storing activations in bf16 change what evolution finds? (issue 4: a lower precision
# may become the default only if evolved accuracy moves by <= 0.3 points.) Unlike the
# matmul-only precisions, --precision bfloat16-activations changes results on a CPU too
# (every stored activation, credit and delta is rounded to bf16), so its accuracy cost can
# be measured here; its speed only on a GPU (results/gpu/next-lease.sh block 1).
# MNIST 1,000 images / 20 steps, the small-scale protocol (population 32, 150 generations,
# DFA-like start, inner lr picked on validation under the run's own precision), three
# evolution seeds per precision. Each run's metrics.json has the evolved network's train/test
# accuracy (evaluated under the run's precision), its start and DFA at the same lr.
# `python results/cpu/precision_table.py` prints the table in docs/performance.md.
set -euo pipefail
export TDCA_DATA_DIR=${TDCA_DATA_DIR:-../shared/data}
R=results/cpu/precision
mkdir -p $R
cell=(--dataset mnist --train-size 1000 --steps 20 --population 32 --generations 150 --no-progress)
for s in 0 1 2; do
  for p in bfloat16-activations default; do
    d=$R/$p-seed$s
    [ -f $d/metrics.json ] && continue  # done already
    tdca evolve "${cell[@]}" --seed $s --precision $p --out $d | tail -1
  done
done
# The lr pick itself can differ between precisions (it is made under the run's precision),
# so the same bf16 evolutions again at the inner lr the float32 run of that seed picked:
# this separates the rounding's effect on evolution from its effect on the lr pick.
for s in 0 1 2; do
  lr=$(python3 -c "import json; print(json.load(open('$R/default-seed$s/config.json'))['lr'])")
  d=$R/bfloat16-activations-default-lr-seed$s
  [ -f $d/metrics.json ] && continue
  tdca evolve "${cell[@]}" --seed $s --precision bfloat16-activations --lr "$lr" --out $d | tail -1
done
