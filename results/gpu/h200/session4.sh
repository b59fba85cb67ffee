#!/usr/bin/env bash
# GPU lease 4 (H200), call 1: next-lease.sh blocks 1 and 2. Benchmarks of the papers' MNIST
# protocol at three precisions (bfloat16-activations first: never timed on a GPU), the
# per-part breakdown under it, then the bf16-vs-default accuracy comparison (MNIST 1,000/20,
# population 256, 1,000 generations, three evolution seeds per precision; the three
# precisions run side by side on the one GPU, each capped at a quarter of its memory).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 10 ? s : 10 )); }
tdca() { python3 -m tdca.cli "$@"; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv | tee $R/gpu.txt
python3 -c "import jax, flax, optax, evosax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'evosax', evosax.__version__, jax.devices())" | tee -a $R/gpu.txt
for p in bfloat16-activations tf32 float32; do
  timeout 100 python3 benchmarks/throughput.py --out $R/bench-$p --precision $p > $R/bench-$p.log 2>&1
  grep -E "seconds / gen|speedup|achieved|peak|fraction|rank|rel" $R/bench-$p.log | head -12; snap
done
timeout 60 python3 benchmarks/breakdown.py --out $R/profile --precision bfloat16-activations > $R/breakdown-bf16act.log 2>&1
tail -12 $R/breakdown-bf16act.log; snap
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.25
for p in default bfloat16 bfloat16-activations; do
  ( for s in 0 1 2; do
      timeout -s INT $(left 555) python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 \
        --population 256 --generations 1000 --precision $p --seed $s --out $R/precision-$p-seed$s --no-progress 2>&1 | tail -2
    done ) > $R/precision-$p.log 2>&1 &
done
wait; cat $R/precision-*.log; snap
