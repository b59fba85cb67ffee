#!/usr/bin/env bash
# What the outer loop's fitness does to generalisation, MNIST 1,000 images / 20 steps, on the
# 2-core CPU (2026-11-23, no GPU lent). Issue #3 asks >= 88% test at this cell with the
# papers' training-set fitness; the H100 run reached 100 / 86.73. Each variant evolves in
# legs (population 32, DFA-like start) and after each leg the evolved credit network trains
# a fresh network on the cell's 1,000 images and is scored on the test set (never used by
# evolution; only the last leg's credit network is kept, every leg's evaluation is).
# `python results/cpu/outer_loop_table.py` writes docs/outer-loop.md from the run
# directories. Usage: bash results/cpu/outer_loop.sh [VARIANT ...] (default: all). The
# sgd-acc-train and adam-ce-train runs were stopped after their 300-generation leg.
set -uo pipefail
export TDCA_DATA_DIR=${TDCA_DATA_DIR:-../shared/data}
R=results/cpu/outer-loop
mkdir -p $R
cell=(--dataset mnist --train-size 1000 --steps 20)

# Reference learners at the same cell (lr picked on validation unless given).
refs() {
  for lr in 0.3 1.0; do
    for s in 20 100; do
      tdca train "${cell[@]:0:4}" --steps $s --learner dfa --lr $lr --out $R/ref-dfa-sgd-lr$lr-$s
    done
  done
  tdca train "${cell[@]}" --learner dfa --optimizer adam --out $R/ref-dfa-adam-20
  tdca train "${cell[@]:0:4}" --steps 2000 --learner dfa --optimizer adam --lr 0.01 --out $R/ref-dfa-adam-lr0.01-2000
}

# legs NAME MAX_GEN EVOLVE_FLAGS...: evolve to 150, 300, ... generations, evaluating each leg.
legs() {
  local name=$1 max=$2; shift 2
  local d=$R/$name
  for g in 150 300 450 600 800 1000; do
    [ "$g" -gt "$max" ] && break
    [ -f $d-eval/gen$g/metrics.json ] && continue  # leg done already (rerunning the script extends)
    if [ -f $d/config.json ]; then tdca evolve --resume $d --generations $g --no-progress | tail -1
    else tdca evolve "${cell[@]}" --population 32 "$@" --generations $g --out $d --no-progress | tail -1; fi
    tdca train "${cell[@]}" --learner tdca:$d --out $d-eval/gen$g >/dev/null
  done
}

run() {
  case $1 in
    refs) refs ;;
    sgd-ce-train) legs $1 1000 ;;                            # the papers' fitness (table1's cell, longer)
    sgd-acc-train) legs $1 300 --fitness accuracy ;;        # accuracy as fitness (issue allows it)
    adam-ce-train) legs $1 300 --optimizer adam ;;          # Adam inner loop (our --scale paper)
    sgd-ce-within) legs $1 1000 --fitness-data within ;;    # a fifth of the 1,000 held out, redrawn each generation
    sgd-ce-train-seed1) legs $1 600 --seed 1 ;;             # second seeds: how much of the gap is noise
    sgd-ce-within-seed1) legs $1 450 --fitness-data within --seed 1 ;;
    # (2026-11-26) seeds 1 and 2 pick inner lr 0.3 on validation, seed 0 picks 1.0 and leads;
    # the H100 runs used 0.3. The papers' fitness again at lr 1.0 for seeds 1 and 2:
    sgd-ce-train-lr1-seed1) legs $1 600 --seed 1 --lr 1.0 ;;
    sgd-ce-train-lr1-seed2) legs $1 600 --seed 2 --lr 1.0 ;;
    # (2026-11-26, later) does a still larger credit scale pay? At lr 3 the start overshoots
    # (training CE 12) and 150 generations only bring it to 4: stopped there.
    sgd-ce-train-lr3) legs $1 150 --lr 3.0 ;;
    # An evolved overall credit gain (--learned-gain 20), so that the outer loop can move the
    # inner step size: from each seed's validation pick (1.0, 0.3, 0.3).
    sgd-ce-train-gain) legs $1 600 --learned-gain 20 ;;
    sgd-ce-train-gain-seed1) legs $1 600 --seed 1 --learned-gain 20 ;;
    sgd-ce-train-gain-seed2) legs $1 600 --seed 2 --learned-gain 20 ;;
    # Is population 32 what holds the plateau at ~87? The same at population 128:
    sgd-ce-train-gain-pop128) legs $1 600 --learned-gain 20 --population 128 ;;
    # (2026-11-26, third session) Does the held-out fifth (which lost at population 32) pay
    # at population 128? A CPU proxy for block 6 of results/gpu/next-lease.sh (population 256):
    sgd-ce-within-gain-pop128) legs $1 600 --fitness-data within --learned-gain 20 --population 128 ;;
    # sgd-ce-within-fixed (not rerunnable): the first version of --fitness-data within held
    # the *same* last fifth out every generation; it overfit those 200 fitness images and
    # was replaced by the redrawn fifth (docs/outer-loop.md). Ran as `legs ... 600`.
    *) echo "unknown variant $1" >&2; return 2 ;;
  esac
}

for v in "${@:-refs sgd-acc-train adam-ce-train sgd-ce-within sgd-ce-train sgd-ce-train-seed1 sgd-ce-within-seed1}"; do
  for w in $v; do run $w; done
done
