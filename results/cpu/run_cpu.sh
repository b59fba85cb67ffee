#!/usr/bin/env bash
# CPU runs (2-core machine) behind docs/zoo.md: the 60,000/150 BP rows that tell SGD from
# Adam, and the check that every zoo entry reproduces its recorded accuracy on a CPU.
set -e
export TDCA_DATA_DIR=${TDCA_DATA_DIR:-../shared/data}
tdca train --dataset mnist --learner bp --train-size 60000 --steps 150 --out results/cpu/mnist-bp-sgd-60000
tdca train --dataset mnist --learner bp-zero --optimizer adam --train-size 60000 --steps 150 --out results/cpu/mnist-bp-zero-adam-60000
tdca train --dataset mnist --learner bp-zero --train-size 60000 --steps 150 --out results/cpu/mnist-bp-zero-sgd-60000
tdca zoo verify --out results/cpu/zoo-verify.json | tee results/cpu/zoo-verify.txt
python results/gpu/make_zoo.py
