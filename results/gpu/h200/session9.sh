#!/usr/bin/env bash
# GPU lease 5 (H200), call 1: the fused Pallas step's first GPU run (next-lease.sh block 0,
# with the time limits of one 10-minute call): its agreement with XLA's step and the
# tile/warp sweep, the benchmark with --kernel fused at bf16-activations and tf32, a kernel
# profile; then, with what is left, the MNIST 1,000/20 cell (issue 3) at population 1,024
# with the held-out-fifth fitness for 2,000 generations (at 500 it was still rising: 87.50),
# its centre kept every 250 generations and scored on validation; float32 last.
# Run: carry [".whl", ".gpudata"], `bash results/gpu/h200/session9.sh`.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 5 ? s : 5 )); }
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv,noheader
timeout $(left 170) python3 benchmarks/fused_step.py --out $R/fused-step > $R/fused-step.log 2>&1
echo "fused-step rc $? at $(( $(date +%s) - T0 )) s"; grep -v "^  " $R/fused-step.log | tail -30 | cut -c1-600; snap
for p in bfloat16-activations tf32; do
  timeout $(left $([ $p = tf32 ] && echo 400 || echo 290)) python3 benchmarks/throughput.py \
    --out $R/bench-fused-$p --precision $p --kernel fused > $R/bench-fused-$p.log 2>&1
  echo "bench $p rc $? at $(( $(date +%s) - T0 )) s"
  grep -E "seconds / gen|speedup|achieved|fraction|agree|rank|Error" $R/bench-fused-$p.log | head -12; snap
done
timeout $(left 460) python3 benchmarks/profile_generation.py --out $R/profile-fused \
  --precision bfloat16-activations --kernel fused > $R/profile-fused.log 2>&1
head -16 $R/profile-fused.log; rm -rf $R/profile-fused/trace-*; snap
if [ $(left 560) -gt 150 ]; then
  timeout $(left 560) python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 \
    --population 1024 --learned-gain 20 --seed 0 --fitness-data within --keep-every 250 \
    --generations 2000 --time-limit $(( $(left 560) - 75 )) --out $R/within-gain-pop1024-2000 \
    --no-progress > $R/within-gain-pop1024-2000.log 2>&1
  echo "cell rc $? at $(( $(date +%s) - T0 )) s"; tail -14 $R/within-gain-pop1024-2000.log | cut -c1-300; snap
fi
if [ $(left 580) -gt 60 ]; then
  timeout $(left 580) python3 benchmarks/throughput.py --out $R/bench-fused-float32 \
    --precision float32 --kernel fused > $R/bench-fused-float32.log 2>&1
  grep -E "seconds / gen|speedup|achieved|fraction|agree|rank|Error" $R/bench-fused-float32.log | head -12
fi
snap; echo "done at $(( $(date +%s) - T0 )) s"
