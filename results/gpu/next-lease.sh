#!/usr/bin/env bash
# Prepared for a GPU lease; what is still to run (the other blocks ran on 2026-11-26, below).
# A task that draws a GPU now gets 15 minutes of device time in all (the machine's start
# included), so a lease is ONE call of at most ~9 minutes: pick one block, in the order of
# the table in README.md (block 7 first), and give the machine back after it:
#   BLOCK=7 bash results/gpu/next-lease.sh   (carry .whl and the data, made as below)
# Before a lease, here in the repository root (the folders are not in git; each session's
# sandbox starts without them). The device image has JAX, optax, flax and the rest; it
# lacks evosax and its dependency dotmap (the versions of the venv these results used):
#   printf '/.whl/\n/.gpudata/\n/.gpudata-cifar/\n' >> .git/info/exclude
#   python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp -d .whl evosax==0.3.2 dotmap==1.3.30
#   mkdir -p .gpudata && cp -r ../shared/data/mnist .gpudata/           # blocks 7 and 0
#   mkdir -p .gpudata-cifar/cifar10-jpeg &&
#     cp ../shared/data/cifar10-jpeg/*.tar.gz .gpudata-cifar/cifar10-jpeg/   # blocks 5, 8
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
block() { [ "${BLOCK:-all}" = all ] || [[ " ${BLOCK} " == *" $1 "* ]]; }  # BLOCK="5 8": both

# Blocks 1, 2, 3, 4 and 6 (benchmarks, the bf16 accuracy comparison, the MNIST 1,000/20 cell
# with the papers' fitness and with the held-out fifth) ran on the H200 lease of 2026-11-26,
# in a reworked form: results/gpu/h200/session4.sh to session7.sh, docs/gpu-h200.md.
# Lease 5 (results/gpu/h200/session9.sh to session12.sh) ran the fused kernel's first
# block 0 and the MNIST 1,000/20 cell at 5,000 generations.
# What is left for a lease: block 7 (the MNIST zoo entry at the papers' scale, plain and anchored),
# block 0 (what lease 5 did not reach), then block 5 (with block 8 beside it: BLOCK="5 8");
# block 9 (automatic chunking on a GPU, ~2 minutes) fits beside 8 instead (BLOCK="8 9").

# 7. The MNIST zoo entry at the papers' own scale (issue 4: >= 96.5% test at 60,000 x 150),
#    evolved at that scale (the old entry was evolved at 10,000 x 150 and fell below DFA at
#    60,000), plain and with --anchor-credits side by side, ~170 s each (docs/credit-rules.md:
#    anchoring makes PGPE's perturbations straddle the centre instead of all hurting, but
#    at 2,000 x 50 on a CPU the plain evolution improved faster; this checks which is better
#    at the papers' scale). Fused kernel (0.80 s a generation on the H200 at
#    bfloat16-activations; XLA's step 0.88 s) after a 2-generation check that its anchored
#    form compiles (never run on a GPU yet), else XLA's step for the anchored run.
#    ~9 minutes (one call, timeout_s 600); carry [".whl", ".gpudata"] (MNIST only). Later leases continue the better
#    one: put it back under results/gpu/ and `tdca evolve --resume DIR --time-limit 420`.
if block 7; then
  if [ -n "${SMOKE:-}" ]; then N=2000; S=5; P=4; T=20; else N=60000; S=150; P=64; T=170; fi
  K=fused
  timeout 90 python3 -m tdca.cli evolve --dataset mnist --train-size $N --steps 3 \
    --optimizer adam --lr 0.01 --anchor-credits --population $P --generations 2 \
    --precision bfloat16-activations --kernel fused --out "$R/fused-anchored-check" \
    --no-progress > "$R/fused-anchored-check.log" 2>&1 || K=xla
  echo "block 7: anchored kernel $K"; tail -3 "$R/fused-anchored-check.log" | cut -c1-300
  for v in plain anchored; do
    if [ $v = anchored ]; then F="--anchor-credits --kernel $K"; else F="--kernel fused"; fi
    # shellcheck disable=SC2086
    timeout 280 python3 -m tdca.cli evolve --dataset mnist --train-size $N --steps $S \
      --optimizer adam --lr 0.01 $F --population $P --es-lr 0.0002 \
      --precision bfloat16-activations --keep-every 50 --generations 5000 --time-limit $T \
      --out "$R/zoo-mnist-60000-$v" --no-progress > "$R/zoo-mnist-60000-$v.log" 2>&1
    echo "block 7 $v rc $?"; tail -3 "$R/zoo-mnist-60000-$v.log" | cut -c1-300
    snap
  done
fi

# 0. The fused Pallas step (issue 4's speed target; src/tdca/kernels/fused_tdca.py), after
#    lease 5: a profile of the GEMM-layout design at its default tiling (where the time
#    goes now), the benchmark at float32 and tf32 (float32 was never reached; tf32 ran only
#    the first design), then the tiling sweep, corrected since lease 5 to give each
#    candidate its own bottom-up state. ~8 minutes; carry [".whl"]. First, compile-only,
#    the plan's memory analysis on the GPU (what fits 80 GB: docs/performance.md's
#    bench:fits-80gb table is XLA:CPU's estimate).
if block 0; then
  timeout 60 python3 benchmarks/throughput.py --plan $SMALL --out "$R/plan-gpu-float32" \
    > "$R/plan-gpu-float32.log" 2>&1; grep '"largest' "$R/plan-gpu-float32/plan.json"; snap
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

# 8. Does the XLA:CPU bug tdca works around (README: "An XLA:CPU bug that tdca works
#    around"; jaxlib 0.10.2 computes a dot with a broadcast-constant operand wrongly when a
#    reduction follows) remain in the device machine's newer jaxlib? On its CPU, ~1 minute;
#    run it beside a shorter block (BLOCK="5 8"). Output: r/xla-cpu-zero-dot.txt.
if block 8; then
  if [ -n "${SMOKE:-}" ]; then C=3; else C=10; fi
  JAX_PLATFORMS=cpu timeout 150 python3 benchmarks/xla_cpu_zero_dot.py --compilations $C \
    > "$R/xla-cpu-zero-dot.txt" 2>&1
  echo "block 8 rc $?"; grep -E "jaxlib|wrong|same" "$R/xla-cpu-zero-dot.txt" | cut -c1-120
  snap
fi

# 9. Automatic chunking on a GPU (docs/performance.md, "Memory and chunking": chosen from
#    the allocator's free memory; measured only on a CPU so far). A population far past one
#    vmap's memory at the papers' training set, one inner step and one generation: the
#    log says which chunk was chosen, and the run must finish without running out of
#    memory. Then results/cpu/chunking_drift.py on the GPU (results/cpu/chunking-drift.txt
#    has the CPU's answer: the search centre the same in all 300 generations, fitness stats
#    differing in the last bit in about half), and results/gpu/chunk_memory.py: the
#    plan's bytes per candidate against the allocator's peak at two chunk sizes (never
#    checked on a GPU; XLA:CPU's analysis fell short by up to 1.6 times). ~4 minutes;
#    carry [".whl", ".gpudata"]; beside block 8 (BLOCK="8 9").
if block 9; then
  if [ -n "${SMOKE:-}" ]; then N=2000; P=8; else N=60000; P=8192; fi
  timeout 240 python3 -m tdca.cli evolve --dataset mnist --train-size $N --steps 1 --lr 0.1 \
    --population $P --generations 1 --out "$R/auto-chunk-$P" --no-progress \
    > "$R/auto-chunk-$P.log" 2>&1
  echo "block 9 rc $?"; grep -h "chunk_size\|finished" "$R/auto-chunk-$P/log.txt" | cut -c1-200
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['evolution']['chunk_size'])" \
    "$R/auto-chunk-$P/metrics.json"
  timeout 120 python3 results/cpu/chunking_drift.py > "$R/chunking-drift-gpu.txt" 2>&1
  echo "block 9 drift rc $?"; tail -1 "$R/chunking-drift-gpu.txt" | cut -c1-400
  if [ -n "${SMOKE:-}" ]; then M="--examples 2000 --population 64 --budget-gib 0.05"; else M=; fi
  timeout 240 python3 results/gpu/chunk_memory.py $M > "$R/chunk-memory.json" 2> "$R/chunk-memory.err"
  echo "block 9 memory rc $?"; tail -c 600 "$R/chunk-memory.json"; tail -3 "$R/chunk-memory.err"
  snap
fi
