#!/usr/bin/env bash
# Minka's main job, for now: sets up a Debian machine if needed, builds into
# ./build, trains the Fashion-MNIST MLP (784-256-128-10, 15 epochs) with
# `minka train-local` and prints its test accuracy.
# Usage: scripts/run.sh [extra train-local options, e.g. --epochs 5]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build

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
