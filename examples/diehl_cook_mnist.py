"""Diehl & Cook (2015): unsupervised STDP digit prototypes in a spiking winner-take-all layer.

    python examples/diehl_cook_mnist.py --out runs/diehl_cook          # 400 neurons, MNIST 8k/2k
    python examples/diehl_cook_mnist.py --n-neurons 100 --epochs 1 --n-train 2000 --out /tmp/dc

Trains on the first ``--n-train`` images of our MNIST split (pixels in [0, 1] -> Poisson rates
pixel * 63.75 Hz, 350 ms each), assigns every neuron the class it responds to most, and reports
validation accuracy next to k-means with as many clusters (``--kmeans``). Saves the receptive
fields and the weight histogram of every epoch under ``--out``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neuroplastic.datasets import mnist_split
from neuroplastic.models import DiehlCook
from neuroplastic.plasticity.networks import kmeans_label_accuracy
from neuroplastic.plasticity.plot import WeightHistogramRecorder, plot_receptive_fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-neurons", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=None, help="passes over the training images (default: DiehlCook's)")
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--batch-size", type=int, default=1, help="images simulated in lock step (1 = sequential, as the paper)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kmeans", action="store_true", help="also run k-means with as many clusters")
    ap.add_argument("--out", type=Path, default=Path("runs/diehl_cook"))
    args = ap.parse_args()

    data = mnist_split()
    x, y = data.x_train[:args.n_train], data.y_train[:args.n_train]
    clf = DiehlCook(n_neurons=args.n_neurons, batch_size=args.batch_size, random_state=args.seed)
    epochs = clf.epochs if args.epochs is None else args.epochs
    hist = WeightHistogramRecorder(bins=50, range=(0.0, 1.0))
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):                      # fit() does the same, without the per-epoch record
        order = rng.permutation(len(x))
        clf.partial_fit(x[order], y[order], classes=np.arange(10))
        hist.record(clf.weight_, epoch=epoch + 1)
        print(f"epoch {epoch + 1}/{epochs}: {time.perf_counter() - t0:.0f} s, "
              f"{clf.n_retries_} re-presentations so far", flush=True)
    train_s = time.perf_counter() - t0
    clf.assign(x, y)                                 # labels from a frozen pass, as in the paper
    acc = clf.score(data.x_test, data.y_test)
    print(f"DiehlCook({args.n_neurons}) validation accuracy {acc:.4f}; training {train_s:.0f} s "
          f"({1e3 * train_s / (epochs * len(x)):.2f} ms per image)")
    if args.kmeans:
        km = kmeans_label_accuracy(x, y, data.x_test, data.y_test, args.n_neurons, seed=args.seed)
        print(f"k-means ({args.n_neurons} clusters) + label assignment: {km['test_accuracy']:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    plot_receptive_fields(clf.receptive_fields_, args.out / "receptive_fields.png", shape=(28, 28),
                          title=f"Diehl & Cook, {args.n_neurons} neurons, {acc:.1%}")
    hist.plot(args.out / "weight_histogram.png", title="input -> excitatory weights per epoch")
    print(f"figures saved under {args.out}/")


if __name__ == "__main__":
    main()
