#!/usr/bin/env bash
# GPU lease 4 (H200), call 2: issue 3's MNIST 1,000/20 cell at population 256, four
# evolutions side by side on the one GPU (each capped at a fifth of its memory), each run in
# legs (250, 500, 1000, 2000, 3000 generations: resumed from its checkpoint, which continues
# exactly as one uninterrupted run) so that every leg's credit network and its train/test
# evaluation are kept (legs/): the test curve over generations.
#   train-gain-seed1   the papers' fitness (CE on the 1,000 training images), --learned-gain 20, seed 1
#   train-gain-lr1     the same at seed 0 with the inner lr fixed at 1 (GPU validation picks 0.3)
#   train-gain-last5   the same at seed 0, fitness averaged over the last 5 inner steps
#   within-gain        fitness on a held-out fifth of the 1,000, redrawn every generation
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
T0=$(date +%s); left() { local s=$(( ${1} - ($(date +%s) - T0) )); echo $(( s > 5 ? s : 5 )); }
CELL="--dataset mnist --train-size 1000 --steps 20 --population 256 --learned-gain 20"
legs() {  # run dir, then the options of its first leg
  local d=$R/$1; shift
  for g in 250 500 1000 2000 3000; do
    if [ -d $d ]; then
      python3 -m tdca.cli evolve --resume $d --generations $g --time-limit $(left 530) --no-progress 2>&1 | tail -2
    else
      python3 -m tdca.cli evolve "$@" --generations $g --time-limit $(left 530) --out $d --no-progress 2>&1 | tail -2
    fi
    local got=$(python3 -c "import json;print(json.load(open('$d/metrics.json'))['evolution']['generations'])")
    mkdir -p $d/legs; cp $d/metrics.json $d/legs/metrics-g$got.json; cp $d/credit_net.npz $d/legs/credit_net-g$got.npz
    echo "$(basename $d) leg $got done at $(( $(date +%s) - T0 )) s"
    [ "$got" = "$g" ] || break
  done
}
legs train-gain-seed1 $CELL --seed 1 > $R/train-gain-seed1.log 2>&1 &
legs train-gain-lr1 $CELL --seed 0 --lr 1.0 > $R/train-gain-lr1.log 2>&1 &
legs train-gain-last5 $CELL --seed 0 --fitness-last 5 > $R/train-gain-last5.log 2>&1 &
legs within-gain $CELL --seed 0 --fitness-data within > $R/within-gain.log 2>&1 &
wait; cat $R/*.log; snap
