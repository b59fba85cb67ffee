#!/usr/bin/env bash
# The small-scale (CPU) reproductions whose outputs are committed under results/small,
# in the order they were run. Evolutions and baselines are shared through results/small/cache.
# Usage: TDCA_DATA_DIR=/path/to/data bash results/run_small.sh
set -euo pipefail
cd "$(dirname "$0")/.."
C=results/small/cache
tdca reproduce table1 --scale small --cache $C --out results/small/table1 --no-progress
tdca evolve --dataset mnist --seed 1 --out results/small/checks/evolve-mnist-seed1 --no-progress
tdca reproduce tableS4 --scale small --out results/small/tableS4 --no-progress
tdca reproduce tableS1 --scale small --cache $C --out results/small/tableS1 --no-progress
tdca reproduce tableS2 --scale small --datasets mnist,fashion-mnist,cifar10 --cache $C --out results/small/tableS2 --no-progress
# Later sessions widened tableS2 (above, cifar10 added), table2, tableS3 and figS2 (same cache; earlier cells are reused):
tdca reproduce table2 --scale small --datasets mnist,fashion-mnist,cifar10 --archs deep-fc,cnn --cache $C --out results/small/table2 --no-progress
tdca reproduce tableS3 --scale small --datasets mnist --archs mlp-100,mlp-1000,mlp-900 --cache $C --out results/small/tableS3 --no-progress
tdca reproduce figS2 --scale small --datasets mnist,fashion-mnist,cifar10 --cache $C --out results/small/figS2 --no-progress
tdca report results/small/* results/small/checks/* --out docs/results.md
