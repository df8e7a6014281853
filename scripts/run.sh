#!/usr/bin/env bash
# Minka's main job: sets up a Debian machine if needed, builds into ./build
# and starts a local cluster of 3 workers (minka local-cluster) until Ctrl-C.
# The desktop app joins it once it exists.
#
# Usage:
#   scripts/run.sh                 the local 3-worker cluster (ports 7001-7003,
#                                  monitors on http://127.0.0.1:7101-7103/)
#   scripts/run.sh fashion [OPTS]  train the Fashion-MNIST MLP (784-256-128-10,
#                                  15 epochs) and print its test accuracy
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build

if [ "${1:-}" = fashion ]; then
  shift
  data=/usr/share/datasets/fashion-mnist
  if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
    echo "Fashion-MNIST is missing: install the dataset-fashion-mnist package" >&2
    exit 1
  fi
  metrics=$(build/cli/minka train-local \
    --data "$data/train-images-idx3-ubyte.gz" --labels "$data/train-labels-idx1-ubyte.gz" \
    --test "$data/t10k-images-idx3-ubyte.gz" --test-labels "$data/t10k-labels-idx1-ubyte.gz" \
    --layers 256,128 --activation relu --optimizer adam --lr 0.001 --batch 128 \
    --epochs 15 --out build/fashion-mnist.minka "$@")
  echo "$metrics"
  accuracy=$(echo "$metrics" | sed -n 's/^test_accuracy=//p')
  echo "Fashion-MNIST test accuracy: $accuracy (model saved to build/fashion-mnist.minka)"
  exit 0
fi

echo "Starting 3 workers; in another terminal try:"
echo "  build/cli/minka status --config local-cluster/cluster.ini"
echo "  build/cli/minka put README.md --config local-cluster/cluster.ini"
exec build/cli/minka local-cluster --workers 3 --dir local-cluster --base-port 7000
