#!/usr/bin/env bash
# The runs behind docs/credit-rules.md (2-core CPU, no GPU; 2026-12-01), in the order they
# ran. Each writes under results/cpu/credit-rules/; the last line regenerates the page.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export TDCA_DATA_DIR=${TDCA_DATA_DIR:-../shared/data}
D=results/cpu/credit-rules

# 1. Hand-written credit rules at 55,000 / 5,000 (validation), 150 full-batch steps (~35-60 s each).
python $D/probe.py --out $D/probe \
  --rules dfa,dfa-onehot,dfa-unit-error,dfa-hard-weighted,dfa-hard-hidden,dfa-true-class,dfa-tanh \
  --optimizers adam:0.01,adam:0.03
python $D/probe.py --out $D/probe --rules dfa,dfa-hidden3,dfa-hidden10,dfa-hard-weighted \
  --optimizers sgd:1.0,sgd:3.0,sgd:10.0
python $D/probe.py --out $D/probe --rules "" --references bp,bp-zero --optimizers adam:0.01,adam:0.03
python $D/probe.py --out $D/probe --rules drtp,dfa-plus-target,dfa-plus-target-0.3 \
  --optimizers adam:0.01,adam:0.03

# 2. PGPE-sized perturbations of the DFA-like start, plain and anchored credit networks.
python $D/perturb.py --out $D/perturb-mnist-10000-150.json --train-size 10000 --steps 150
python $D/perturb.py --out $D/perturb-mnist-55000-150.json --train-size 55000 --steps 150 \
  --sigmas 0.003 --pairs 3

# 3. The same evolution without and with --anchor-credits (60 generations of 32, ~12 s each
#    on an idle 2-core CPU). A run the time limit stops (the CPU was shared) is finished with
#    `tdca evolve --resume DIR --generations 60` (its log.txt says so; docs/credit-rules.md
#    names such runs).
for seed in 0 1; do
  for v in plain anchored; do
    flag=""; [ $v = anchored ] && flag=--anchor-credits
    tdca evolve --dataset mnist --train-size 2000 --steps 50 --optimizer adam --lr 0.01 \
      --fitness-data validation --population 32 --generations 60 --seed $seed $flag \
      --time-limit 1200 \
      --no-progress --out $D/evolve-2000-50-$v-seed$seed
    rm -f $D/evolve-2000-50-$v-seed$seed/checkpoint.npz  # finished runs
  done
done

python $D/table.py
