#!/usr/bin/env bash
# GPU lease 4 (H200), call 4: two XLA options against the separate bias-add/convert and pad
# passes that the bfloat16-activations profile shows (call 3): cuBLASLt, whose epilogue can
# fuse the bias add, and Triton for every GEMM (its fusions take prologues and epilogues).
# Kernel time of one generation, the papers' protocol, population 64 (call 3: 894.1 ms).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
for v in enable_cublaslt triton_gemm_any; do
  XLA_FLAGS="--xla_gpu_$v=true" timeout 80 python3 benchmarks/profile_generation.py \
    --out $R/profile-$v --precision bfloat16-activations > $R/profile-bf16act-$v.log 2>&1
  sed -i 's/^/  /' $R/profile-bf16act-$v.log; echo "XLA_FLAGS=--xla_gpu_$v=true"; head -10 $R/profile-bf16act-$v.log
  rm -rf $R/profile-$v/trace-*
done
