#!/usr/bin/env bash
# GPU lease 5 (H200), calls 4 and 5 (each run as one command of the device tool, carry
# [".whl"]): the benchmark at bf16-activations with the fused kernel at the tiling of one
# sub-tile of 64 rows, 4 warps (call 4), then that tiling and call 2's 1,024-row tiling back
# to back as a second check (call 5). Call 5 named its output folders with commas, which
# the tool does not bring back: its numbers are what it printed, kept verbatim in
# lease5/call5/output.txt.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
if [ "${CALL:-4}" = 4 ]; then
  timeout 100 python3 benchmarks/throughput.py --out $OUT/bench-fused-bf16act-t64 --precision bfloat16-activations --kernel fused --tiling 64,64,4,0 > $OUT/bench-t64.log 2>&1; grep -E "seconds / gen|speedup|achieved|fraction" $OUT/bench-t64.log
else
  for t in 1024,64,4,1 64,64,4,0; do timeout 75 python3 benchmarks/throughput.py --out $OUT/b-$t --precision bfloat16-activations --kernel fused --tiling $t > $OUT/b-$t.log 2>&1; echo $t; grep -E "seconds / gen|fraction" $OUT/b-$t.log; done
fi
