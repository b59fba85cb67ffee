#!/usr/bin/env bash
# GPU lease 5 (H200), call 2: the reworked fused step (one kernel over (candidate, block of
# examples) in the GEMMs' layout, blocks walked in sub-tiles) swept over its tilings at
# bf16-activations and float32, the benchmark at bf16-activations with the sweep's fastest
# tiling, then the MNIST 1,000/20 held-out-fifth run of call 1 resumed from 2,000 towards
# 5,000 generations (its test accuracy was still rising: 87.69 at 2,000).
# Run: carry [".whl", ".gpudata"], `bash results/gpu/h200/session10.sh`.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 5 ? s : 5 )); }
timeout $(left 220) python3 benchmarks/fused_step.py --out $R/fused-step \
  --precision bfloat16-activations float32 > $R/fused-step.log 2>&1
echo "fused-step rc $? at $(( $(date +%s) - T0 )) s"; grep -v "^  " $R/fused-step.log | tail -24 | cut -c1-400; snap
T=$(python3 -c "import json;r=json.load(open('$R/fused-step/metrics.json'))['rows'][0]['best_fused'];print(f\"{r['block_rows']},{r['sub_rows']},{r['num_warps']},{int(r['hoist_weights'])}\")" || echo 512,64,4,1)
timeout $(left 300) python3 benchmarks/throughput.py --out $R/bench-fused-bfloat16-activations \
  --precision bfloat16-activations --kernel fused --tiling $T > $R/bench-fused-bfloat16-activations.log 2>&1
echo "bench (tiling $T) rc $? at $(( $(date +%s) - T0 )) s"
grep -E "seconds / gen|speedup|achieved|fraction|agree|rank|Error" $R/bench-fused-bfloat16-activations.log | head -12; snap
cp -r results/gpu/h200/mnist-1000-20-within-gain-pop1024-2000 $R/within-gain-pop1024-5000
timeout $(left 575) python3 -m tdca.cli evolve --resume $R/within-gain-pop1024-5000 --generations 5000 \
  --time-limit $(( $(left 575) - 70 )) --no-progress > $R/within-gain-pop1024-5000.log 2>&1
echo "cell rc $? at $(( $(date +%s) - T0 )) s"; tail -6 $R/within-gain-pop1024-5000.log | cut -c1-300
rm -f $R/within-gain-pop1024-5000/snapshots/cpu-eval.json; snap; echo "done at $(( $(date +%s) - T0 )) s"
