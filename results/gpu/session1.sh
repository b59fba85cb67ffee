#!/usr/bin/env bash
# GPU lease 1 (run through the device tool from the repo root, carrying .whl and .gpudata):
# benchmarks at three precisions, a time breakdown, and the first evolutions.
# Everything lands in $OUT/r and is tarred to $OUT/runs.tgz after every step.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 20 ? s : 20 )); }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee $R/gpu.txt
python3 -c "import jax, flax, optax, evosax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'evosax', evosax.__version__, jax.devices())" | tee -a $R/gpu.txt
tdca() { python3 -m tdca.cli "$@"; }
for p in tf32 bfloat16; do
  timeout 150 python3 benchmarks/throughput.py --out $R/bench-$p --precision $p 2>&1 | tee $R/bench-$p.log | tail -20
  snap
done
timeout 60 python3 benchmarks/breakdown.py --out $R/breakdown --precision tf32 2>&1 | grep -A8 seconds_per
timeout 40 python3 benchmarks/breakdown.py --out $R/breakdown --precision bfloat16 2>&1 | grep -A8 seconds_per
snap
# Paper cell of Table 1: MNIST 1,000 images, 20 steps (SGD inner loop as the papers write it).
timeout -s INT $(left 330) python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 \
  --population 256 --generations 3000 --out $R/evolve-mnist-1000-20-sgd --no-progress 2>&1 | tail -4
snap
# Zoo candidate: MNIST, Adam inner loop, evolved on 10,000 images x 150 steps (fitness on a subset).
timeout -s INT $(left 545) python3 -m tdca.cli evolve --dataset mnist --train-size 10000 --steps 150 \
  --optimizer adam --population 64 --generations 3000 --out $R/evolve-mnist-10000-150-adam --no-progress 2>&1 | tail -4
snap
ls -R $R | head -50
