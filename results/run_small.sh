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
# Not run yet at small scale, with the measured CPU cost (2 cores) of each evolution:
#   table2 CNN on fashion-mnist and cifar10 (MNIST: 13 s/generation, 34 min for 150);
#   tableS3's 6x6-to-30x30 column (mlp-900, grid:6x6; the 36-to-900 column took ~14-22 s/gen);
#   figS2 and tableS2 on the other data sets (~5-10 min per extra mlp-100 evolution).
# (until tableS3's mlp-900 columns are both finished, the 36-to-900 evolution is listed as a single run)
tdca report results/small/* results/small/checks/* results/small/cache/evolutions/mnist_mlp-900_line-36_1000x20 --out docs/results.md
