#!/usr/bin/env bash
# GPU lease 4 (H200), call 3: where a bfloat16-activations generation spends its time (kernel
# profile at the protocol's 60,000 examples, and at 60,032 = 469 x 128, which tells whether the
# split-K pad of the 60,000-row products costs what the H100 profile suggested), the MNIST
# 1,000/20 cell at population 1,024 (legs 125/250/500: at 256 the test accuracy peaked at
# 250 generations), and the float32 ("highest") benchmark row that earlier calls never finished.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 5 ? s : 5 )); }
for n in 60000 60032; do
  timeout 90 python3 benchmarks/profile_generation.py --out $R/profile-$n --precision bfloat16-activations \
    --examples $n > $R/profile-bf16act-$n.log 2>&1; head -14 $R/profile-bf16act-$n.log
done
rm -rf $R/profile-*/trace-* ; snap
CELL="--dataset mnist --train-size 1000 --steps 20 --population 1024 --learned-gain 20 --seed 0"
legs() {  # run dir, then the options of its first leg
  local d=$R/$1; shift
  for g in 125 250 500; do
    if [ -d $d ]; then
      python3 -m tdca.cli evolve --resume $d --generations $g --time-limit $(left 330) --no-progress 2>&1 | tail -2
    else
      python3 -m tdca.cli evolve "$@" --generations $g --time-limit $(left 330) --out $d --no-progress 2>&1 | tail -2
    fi
    local got=$(python3 -c "import json;print(json.load(open('$d/metrics.json'))['evolution']['generations'])")
    mkdir -p $d/legs; cp $d/metrics.json $d/legs/metrics-g$got.json; cp $d/credit_net.npz $d/legs/credit_net-g$got.npz
    echo "$(basename $d) leg $got done at $(( $(date +%s) - T0 )) s"
    [ "$got" = "$g" ] || break
  done
}
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.3
legs train-gain-pop1024 $CELL > $R/train-gain-pop1024.log 2>&1 &
legs within-gain-pop1024 $CELL --fitness-data within > $R/within-gain-pop1024.log 2>&1 &
wait; cat $R/*pop1024.log; snap
unset XLA_PYTHON_CLIENT_MEM_FRACTION
timeout $(left 545) python3 benchmarks/throughput.py --out $R/bench-float32 --precision float32 > $R/bench-float32.log 2>&1
grep -E "seconds / gen|speedup|achieved|peak|fraction|rank|rel" $R/bench-float32.log | head -12; snap
