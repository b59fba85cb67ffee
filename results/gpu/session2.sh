#!/usr/bin/env bash
# GPU lease 2: a profile of one generation, the per-part breakdown, the MNIST 1000/20 paper
# cell finished to 5,000 generations (resumed from lease 1), and the zoo MNIST candidate
# (Adam inner loop, fitness on 10,000 images x 150 steps), evaluated at 60,000 x 150.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
snap() { tar czf $OUT/runs.tgz -C $R . ; }
tdca() { python3 -m tdca.cli "$@"; }
for p in tf32 bfloat16; do
  timeout 70 python3 benchmarks/profile_generation.py --out $R/profile --precision $p > $R/profile-$p.log 2>&1; head -30 $R/profile-$p.log
done
rm -rf $R/profile/trace-*; snap
timeout 80 python3 benchmarks/breakdown.py --out $R/breakdown --precision bfloat16 > $R/breakdown.log 2>&1; head -20 $R/breakdown.log; snap
cp -r .gpuruns/evolve-mnist-1000-20-sgd $R/
timeout -s INT 120 python3 -m tdca.cli evolve --resume $R/evolve-mnist-1000-20-sgd --generations 5000 --no-progress 2>&1 | tail -3
snap
timeout -s INT 290 python3 -m tdca.cli evolve --dataset mnist --train-size 10000 --steps 150 --optimizer adam \
  --population 64 --es-lr 0.0002 --generations 3000 --time-limit 190 --out $R/zoo-mnist --no-progress 2>&1 | tail -3
snap
tdca train --dataset mnist --learner tdca:$R/zoo-mnist --train-size 60000 --steps 150 --out $R/zoo-mnist-eval-60000 2>&1 | tail -1
for l in dfa bp; do tdca train --dataset mnist --learner $l --optimizer adam --train-size 60000 --steps 150 --out $R/$l-adam-60000 2>&1 | tail -1; done
snap
