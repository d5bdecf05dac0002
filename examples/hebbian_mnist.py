"""Hebbian features + linear readout: SoftHebb convolutions learned without labels, then a softmax.

    python examples/hebbian_mnist.py --out runs/hebbian                  # MNIST 8k/2k
    python examples/hebbian_mnist.py --dataset fashion --out runs/hebb_f # Fashion-MNIST 60k/10k
    python examples/hebbian_mnist.py --dataset digits --baselines --out /tmp/hebb

Layer by layer, each convolution learns its filters with SoftHebb (soft winner-take-all,
anti-Hebbian losers, Journé et al. 2023); the frozen features then feed a softmax readout trained
with Adam. ``--baselines`` also trains the same architecture with random filters (a random
projection of the same size) and k-means with as many clusters as first-layer filters + label
assignment. Saves the first layer's filters and a weight histogram under ``--out``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from neuroplastic.datasets import load_fashion_mnist, load_split, mnist_split
from neuroplastic.models import HebbianNetwork
from neuroplastic.plasticity.networks import kmeans_label_accuracy
from neuroplastic.plasticity.plot import WeightHistogramRecorder, plot_receptive_fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=("mnist", "fashion", "digits"), default="mnist")
    ap.add_argument("--hebb-samples", type=int, default=10000, help="images used for plasticity (all for the readout)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("runs/hebbian"))
    args = ap.parse_args()

    data = {"mnist": mnist_split, "fashion": load_fashion_mnist, "digits": lambda: load_split("digits")}[args.dataset]()
    t0 = time.perf_counter()
    clf = HebbianNetwork(hebb_samples=args.hebb_samples, random_state=args.seed, verbose=1).fit(data.x_train, data.y_train)
    print(f"HebbianNetwork on {args.dataset}: test accuracy {clf.score(data.x_test, data.y_test):.4f}, "
          f"trained in {time.perf_counter() - t0:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in clf.timings_.items())})")
    if args.baselines:
        rnd = HebbianNetwork(hebb_samples=args.hebb_samples, feature_learning="random", random_state=args.seed)
        rnd.fit(data.x_train, data.y_train)
        print(f"same architecture, random filters: {rnd.score(data.x_test, data.y_test):.4f}")
        k = clf.layers_[0].weight.shape[0]
        km = kmeans_label_accuracy(data.x_train, data.y_train, data.x_test, data.y_test, k, seed=args.seed)
        print(f"k-means ({k} clusters) + label assignment: {km['test_accuracy']:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    plot_receptive_fields(clf.layers_[0].weight, args.out / "filters_layer1.png", title="SoftHebb filters, layer 1")
    hist = WeightHistogramRecorder(bins=60)
    for i, layer in enumerate(clf.layers_):
        hist.record(layer.weight, epoch=i + 1)
    hist.plot(args.out / "weight_histogram.png", title="weights per layer (1 = first)")
    print(f"figures saved under {args.out}/")


if __name__ == "__main__":
    main()
