#!/usr/bin/env bash
# GPU lease 5 (H200), call 3: the second check of call 2's MNIST 1,000/20 cell (held-out-fifth
# fitness, population 1,024, 5,000 generations: 87.99% test for evolution seed 0): the same
# run with evolution seed 1, in one go. Run: carry [".whl", ".gpudata"],
# `bash results/gpu/h200/session11.sh`.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
timeout 470 python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 \
  --population 1024 --learned-gain 20 --seed 1 --fitness-data within --keep-every 250 \
  --generations 5000 --time-limit 390 --out $R/within-gain-pop1024-5000-seed1 --no-progress \
  > $R/within-gain-pop1024-5000-seed1.log 2>&1
echo "cell rc $?"; tail -6 $R/within-gain-pop1024-5000-seed1.log | cut -c1-300
tar czf $OUT/runs.tgz -C $R .
