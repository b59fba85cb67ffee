#!/usr/bin/env bash
# GPU lease 3: the MNIST 1000/20 cell with meta-validation fitness (held-out training images),
# and zoo candidates for Fashion-MNIST and All (MNIST + Fashion-MNIST), Adam inner loop,
# fitness on 10,000 images x 150 steps, evaluated at 60,000 x 150 next to BP/DFA with Adam.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
tdca() { python3 -m tdca.cli "$@"; }
timeout -s INT 130 python3 -m tdca.cli evolve --dataset mnist --train-size 1000 --steps 20 --fitness-data validation \
  --population 256 --generations 3000 --out $R/evolve-mnist-1000-20-sgd-valfit --no-progress 2>&1 | tail -2
snap
timeout -s INT 170 python3 -m tdca.cli evolve --dataset fashion-mnist --train-size 10000 --steps 150 --optimizer adam \
  --population 64 --es-lr 0.0002 --generations 3000 --time-limit 110 --out $R/zoo-fashion-mnist --no-progress 2>&1 | tail -2
snap
tdca train --dataset fashion-mnist --learner tdca:$R/zoo-fashion-mnist --train-size 60000 --steps 150 --out $R/zoo-fashion-mnist-eval-60000 2>&1 | tail -1
for l in dfa bp; do tdca train --dataset fashion-mnist --learner $l --optimizer adam --train-size 60000 --steps 150 --out $R/fashion-$l-adam-60000 2>&1 | tail -1; done
snap
timeout -s INT 160 python3 -m tdca.cli evolve --dataset mnist --dataset fashion-mnist --train-size 10000 --steps 150 --optimizer adam \
  --population 64 --es-lr 0.0002 --generations 3000 --time-limit 95 --out $R/zoo-all --no-progress 2>&1 | tail -3
snap
for d in mnist fashion-mnist; do tdca train --dataset $d --learner tdca:$R/zoo-all --train-size 60000 --steps 150 --out $R/zoo-all-eval-$d-60000 2>&1 | tail -1; done
snap
