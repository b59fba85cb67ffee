#!/usr/bin/env bash
# CPU runs (2-core machine) behind docs/zoo.md: the 60,000/150 BP rows that tell SGD from
# Adam, and the check that every zoo entry reproduces its recorded accuracy on a CPU.
set -e
export TDCA_DATA_DIR=${TDCA_DATA_DIR:-../shared/data}
tdca train --dataset mnist --learner bp --train-size 60000 --steps 150 --out results/cpu/mnist-bp-sgd-60000
tdca train --dataset mnist --learner bp-zero --optimizer adam --train-size 60000 --steps 150 --out results/cpu/mnist-bp-zero-adam-60000
tdca train --dataset mnist --learner bp-zero --train-size 60000 --steps 150 --out results/cpu/mnist-bp-zero-sgd-60000
# CIFAR-10 zoo entry (2026-11-23; no GPU lent): evolved on this CPU, then its baselines.
tdca evolve --dataset cifar10 --train-size 1000 --steps 20 --optimizer adam --fitness-data validation --population 32 --generations 1000 --time-limit 2700 --out results/cpu/zoo-cifar10
tdca train --dataset cifar10 --learner tdca:results/cpu/zoo-cifar10 --train-size 10000 --steps 20 --out results/cpu/zoo-cifar10-eval-10000
# Second check of that entry's win over DFA/BP (2026-11-26): the same protocol with evolution
# seed 1, run to the 240 generations the first one reached (3.7 s/generation, 16 min, alone).
tdca evolve --dataset cifar10 --train-size 1000 --steps 20 --optimizer adam --fitness-data validation --population 32 --generations 240 --seed 1 --time-limit 3000 --out results/cpu/zoo-cifar10-seed1
for n in 1000 10000; do
  tdca train --dataset cifar10 --learner dfa --optimizer adam --train-size $n --steps 20 --out results/cpu/cifar10-dfa-adam-$n
  tdca train --dataset cifar10 --learner bp --optimizer adam --train-size $n --steps 20 --out results/cpu/cifar10-bp-adam-$n
done
for l in dfa bp; do  # the 1,000-image baselines above at their picked lr, 5 seeds (docs/zoo.md)
  lr=$(python -c "import json; print(json.load(open('results/cpu/cifar10-$l-adam-1000/metrics.json'))['lr'])")
  for s in 0 1 2 3 4; do
    tdca train --dataset cifar10 --learner $l --optimizer adam --lr $lr --seed $s --train-size 1000 --steps 20 --out results/cpu/cifar10-adam-1000-seeds/$l-seed$s
  done
done
tdca zoo verify all fashion-mnist mnist mnist-1000-20 mnist-1000-20-train-fitness mnist-1000-20-within --out results/cpu/zoo-verify.json | tee results/cpu/zoo-verify.txt  # every entry but cifar10
tdca zoo verify cifar10 --out results/cpu/zoo-verify-cifar10.json | tee results/cpu/zoo-verify-cifar10.txt
python results/gpu/make_zoo.py
# `tdca task` (2026-12-08): the blobs task of examples/blobs_task.py from the shell, evolution
# seeds 0 and 1 (README, "A task"); 6 s each on a 2-core CPU.
tdca --plugin examples/blobs_task.py task blobs --lr 1.5 --steps 10 --credit-init dfa --credit-hidden 16,16 --generations 60 --population 16 --out results/cpu/task-blobs
tdca --plugin examples/blobs_task.py task blobs --lr 1.5 --steps 10 --credit-init dfa --credit-hidden 16,16 --generations 60 --population 16 --seed 1 --out results/cpu/task-blobs-seed1
