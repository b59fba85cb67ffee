#!/usr/bin/env bash
# Prepared for a GPU lease; what is still to run (the other blocks ran on 2026-11-26, below).
# Each block fits one ~9-minute call of the device tool; run one block per call with
#   BLOCK=5 bash results/gpu/next-lease.sh   (carry .whl and the data, see README.md)
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

# Blocks 1, 2, 3, 4 and 6 (benchmarks, the bf16 accuracy comparison, the MNIST 1,000/20 cell
# with the papers' fitness and with the held-out fifth) ran on the H200 lease of 2026-11-26,
# in a reworked form: results/gpu/h200/session4.sh to session7.sh, docs/gpu-h200.md.
# Lease 5 (results/gpu/h200/session9.sh to session12.sh) ran the fused kernel's first
# block 0 and the MNIST 1,000/20 cell at 5,000 generations.
# What is left for a lease: block 0 (what lease 5 did not reach), then block 5.

# 0. The fused Pallas step (issue 4's speed target; src/tdca/kernels/fused_tdca.py), after
#    lease 5: a profile of the GEMM-layout design at its default tiling (where the time
#    goes now), the benchmark at float32 and tf32 (float32 was never reached; tf32 ran only
#    the first design), then the tiling sweep, corrected since lease 5 to give each
#    candidate its own bottom-up state. ~7 minutes; carry [".whl"].
if block 0; then
  [ -z "${SMOKE:-}" ] && timeout 100 python3 benchmarks/profile_generation.py \
    --out "$R/profile-fused" --precision bfloat16-activations --kernel fused 2>&1 | head -16
  rm -rf "$R"/profile-fused/trace-* ; snap
  for p in tf32 float32; do
    timeout 150 python3 benchmarks/throughput.py --out "$R/bench-fused-$p" --precision $p \
      --kernel fused $SMALL > "$R/bench-fused-$p.log" 2>&1
    grep -E "seconds / gen|speedup|achieved|fraction|agree|rank" "$R/bench-fused-$p.log"; snap
  done
  timeout 150 python3 benchmarks/fused_step.py --out "$R/fused-step" $SMALL \
    --precision bfloat16-activations 2>&1 | tail -12
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
