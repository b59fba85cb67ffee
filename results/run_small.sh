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
tdca reproduce tableS2 --scale small --datasets mnist,fashion-mnist --cache $C --out results/small/tableS2 --no-progress
# Later sessions widened table2 and tableS3 and reran the tables with baselines at 5 seeds (same cache; evolutions are reused):
tdca reproduce table2 --scale small --datasets mnist,fashion-mnist,cifar10 --archs deep-fc --cache $C --out results/small/table2 --no-progress
tdca reproduce table2 --scale small --datasets mnist --archs cnn --cache $C --out results/small/table2-cnn --no-progress
tdca reproduce tableS3 --scale small --datasets mnist --archs mlp-100,mlp-1000,mlp-900 --cache $C --out results/small/tableS3 --no-progress
tdca reproduce figS2 --scale small --datasets mnist --cache $C --out results/small/figS2 --no-progress
# Not run yet at small scale, with the measured CPU cost (2 cores) of each evolution:
#   table2 CNN on fashion-mnist and cifar10 (MNIST: 13 s/generation, 34 min for 150);
#   (tableS3's two mlp-900 columns took ~13-22 s/generation, 34-38 min each)
#   figS2 and tableS2 on the other data sets (~5-10 min per extra mlp-100 evolution).
tdca report results/small/* results/small/checks/* --out docs/results.md
