#!/usr/bin/env bash
# Prepared for the next GPU lease (NOT run yet: the session that wrote it had no device).
# Each block fits one ~9-minute call of the device tool; run one block per call with
#   BLOCK=1 bash results/gpu/next-lease.sh   (carry .whl and .gpudata, see README.md)
# SMOKE=1 shrinks every count so the script can be checked on a CPU first:
#   SMOKE=1 BLOCK=all OUT=/tmp/o TDCA_DATA_DIR=../shared/data bash results/gpu/next-lease.sh
set -uo pipefail
if [ -d .whl ] && [ -z "${SMOKE:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD/src TDCA_DATA_DIR=$PWD/.gpudata
fi
export PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p "$R"
snap() { tar czf "$OUT/runs.tgz" -C "$R" . ; }
tdca() { python3 -m tdca.cli "$@"; }
if [ -n "${SMOKE:-}" ]; then POP=4; GEN=2; SMALL=--small; else POP=256; GEN=1000; SMALL=; fi
block() { [ "${BLOCK:-all}" = all ] || [ "${BLOCK}" = "$1" ]; }

# 1. Benchmarks with the new reference-agreement fields (fitness max rel. diff, rank order,
#    ES state per field): confirms that the 0.09998 state difference of lease 1 is a rank
#    swap (docs/performance.md); plus the float32-highest row the issue asks for, and
#    bfloat16-activations (data, activations, credits and deltas stored in bf16: the
#    elementwise passes the H100 profile found at ~40% of a generation move half the bytes).
#    bfloat16-activations first: it is the one no lease has measured yet.
if block 1; then
  for p in bfloat16-activations tf32 float32; do
    tdca bench $SMALL --precision $p --out "$R/bench-$p" 2>&1 | tail -22; snap
  done
  python3 benchmarks/breakdown.py --precision bfloat16-activations \
    ${SMOKE:+--examples 500 --population 4 --scan-steps 2} --out "$R" 2>&1 | tail -8
  snap
fi

# 2. Does bfloat16 change evolved accuracy by <= 0.3 points (issue 4's rule for a default)?
#    MNIST 1,000/20, papers' training-set fitness, three evolution seeds per precision.
#    (bfloat16-activations was compared on the CPU at population 32: docs/performance.md.)
if block 2; then
  for p in default bfloat16 bfloat16-activations; do
    for s in 0 1 2; do
      tdca evolve --dataset mnist --train-size 1000 --steps 20 --population $POP --generations $GEN \
        --precision $p --seed $s --out "$R/precision-$p-seed$s" --no-progress 2>&1 | tail -2
    done
    snap
  done
fi

# 3. A second seed of the MNIST 1,000/20 cell at the papers' settings (training-set fitness,
#    5,000 generations in two time-limited legs), for issue 3's >= 88% target. With an evolved
#    credit gain (--learned-gain 20), so the inner step is evolved rather than fixed at the
#    0.3 the GPU's validation pick gave the first H100 run (100 / 86.73): on the CPU
#    (population 32), lr 1.0 led lr 0.3 by 1.5-1.8 points at equal generations, and the gain,
#    started at each seed's pick, beat the pick by 0.5-2.2 points and was level with lr 1.0
#    (-0.1 to +0.5) on three seeds (docs/outer-loop.md, "The inner learning rate" and "An
#    evolved credit gain").
if block 3; then
  tdca evolve --dataset mnist --train-size 1000 --steps 20 --population $POP --generations $((GEN * 5)) \
    --seed 1 --learned-gain 20 --time-limit 480 --out "$R/evolve-mnist-1000-20-sgd-seed1" --no-progress 2>&1 | tail -2
  snap
fi
# Block 4 runs on a later call: first unpack block 3's runs.tgz into results/gpu/ here (the
# run directory travels with the working tree), then:
if block 4; then
  [ -d "$R/evolve-mnist-1000-20-sgd-seed1" ] || cp -r results/gpu/evolve-mnist-1000-20-sgd-seed1 "$R/"
  tdca evolve --resume "$R/evolve-mnist-1000-20-sgd-seed1" --time-limit 480 --no-progress 2>&1 | tail -2
  snap
fi

# 6. Fitness on a held-out fifth of the cell's own 1,000 images (--fitness-data within; no
#    extra data, unlike the 90.72 run on 5,000 extra images): does it pass issue 3's 88% where
#    training-set fitness overfits (100 / 86.73)? CPU trend in docs/outer-loop.md. Two legs
#    like blocks 3-4 (unpack runs.tgz into results/gpu/ between the calls). With the evolved
#    credit gain, as block 3. Run it after block 3 (the papers' fitness, which issue 3 asks
#    for): its CPU proxy at population 128 was level with the papers' fitness (86.79-87.04 vs
#    87.04-87.27 test over four legs, -0.32 points on average; docs/outer-loop.md), so it is
#    no longer the likelier route to 88%; it tells whether population 256 changes that.
if block 6; then
  W="$R/evolve-mnist-1000-20-sgd-within"
  [ -d "$W" ] || [ ! -d results/gpu/evolve-mnist-1000-20-sgd-within ] || cp -r results/gpu/evolve-mnist-1000-20-sgd-within "$R/"
  if [ -d "$W" ]; then
    tdca evolve --resume "$W" --time-limit 480 --no-progress 2>&1 | tail -2
  else
    tdca evolve --dataset mnist --train-size 1000 --steps 20 --population $POP --generations $((GEN * 3)) \
      --fitness-data within --learned-gain 20 --time-limit 480 --out "$W" --no-progress 2>&1 | tail -2
  fi
  snap
fi

# 5. CIFAR-10 zoo entry (issue 4). The data does not fit the 64 MiB carry beside MNIST and
#    Fashion-MNIST, so this call carries only CIFAR: before it,
#    mkdir -p .gpudata-cifar/cifar10-jpeg && cp ../shared/data/cifar10-jpeg/*.tar.gz .gpudata-cifar/cifar10-jpeg/
#    (add /.gpudata-cifar/ to .git/info/exclude) and carry [".whl", ".gpudata-cifar"].
#    Same recipe as the Fashion-MNIST entry (Adam inner loop, fitness at 10,000 x 150,
#    ES lr 2e-4), then evaluated at the papers' 50,000 x 150 next to DFA and BP with Adam.
if block 5; then
  [ -z "${SMOKE:-}" ] && export TDCA_DATA_DIR=$PWD/.gpudata-cifar
  if [ -n "${SMOKE:-}" ]; then N=1000; S=5; P=4; T=20; NE=2000; else N=10000; S=150; P=64; T=300; NE=50000; fi
  tdca evolve --dataset cifar10 --train-size $N --steps $S --optimizer adam --population $P \
    --es-lr 0.0002 --generations 3000 --time-limit $T --out "$R/zoo-cifar10" --no-progress 2>&1 | tail -2
  snap
  tdca train --dataset cifar10 --learner "tdca:$R/zoo-cifar10" --train-size $NE --steps $S \
    --out "$R/zoo-cifar10-eval-$NE" 2>&1 | tail -1
  for l in dfa bp; do
    tdca train --dataset cifar10 --learner $l --optimizer adam --train-size $NE --steps $S \
      --out "$R/cifar10-$l-adam-$NE" 2>&1 | tail -1
  done
  snap
fi
