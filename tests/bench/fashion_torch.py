#!/usr/bin/env python3
"""fashion_torch.py — the PyTorch baseline for bench-fashion: the same MLP
(784-256-128-10, ReLU, Adam lr 1e-3, batch 128, inputs scaled to [0, 1],
the learning rate decayed to 0 along a cosine per step with
--lr-schedule cosine, as Minka's trainer does by default) on
the same Fashion-MNIST IDX files, read with gzip and numpy.

Prints name=value lines: samples_per_s (best epoch), threads, with
--epochs 15 or so a meaningful test_accuracy, and the prediction figures
bench-fashion measures for our engine (single-sample latency, batch-1024
throughput). bench-fashion runs it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset and OMP_WAIT_POLICY=PASSIVE.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(directory, prefix):
    images = load_idx(os.path.join(directory, prefix + "-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(directory, prefix + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, y = load_split(args.data, "train")
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(x)
    steps = args.epochs * ((n + 127) // 128)
    scheduler = None
    if args.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    best = 0.0
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        start = time.perf_counter()
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        best = max(best, n / (time.perf_counter() - start))

    xt, yt = load_split(args.data, "t10k")
    with torch.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    latency_us, batch_sps = measure_predict(model, xt)
    print("threads=%d" % args.threads)
    print("samples_per_s=%.0f" % best)
    print("test_accuracy=%.4f" % accuracy)
    print("predict_single_latency_us=%.2f" % latency_us)
    print("predict_batch1024_samples_per_s=%.0f" % batch_sps)


def measure_predict(model, xt):
    """The same measurements as bench-fashion's own: the median over groups
    of 100 single-sample calls, and the median of 31 batches of 1024."""
    model.eval()
    with torch.no_grad():
        for i in range(200):
            model(xt[i:i + 1])
        groups = []
        for g in range(301):
            start = time.perf_counter()
            for i in range(100):
                j = (g * 100 + i) % 1024
                model(xt[j:j + 1])
            groups.append((time.perf_counter() - start) / 100 * 1e6)
        batch = xt[:1024].contiguous()
        model(batch)
        rates = []
        for _ in range(31):
            start = time.perf_counter()
            model(batch)
            rates.append(1024 / (time.perf_counter() - start))
    groups.sort()
    rates.sort()
    return groups[len(groups) // 2], rates[len(rates) // 2]


if __name__ == "__main__":
    main()
