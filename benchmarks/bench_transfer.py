"""Transfer of plasticity-learned features between tasks, against training from scratch (issue 16).

    python benchmarks/bench_transfer.py --task mnist-fashion --labels 100 1000 --repeats 5
    python benchmarks/bench_transfer.py --task mnist04-59 --labels 100 1000 --repeats 5 [--architecture dense]

Source: a :class:`neuroplastic.HebbianNetwork` (default conv features, learned by SoftHebb
plasticity without labels) fitted on the source task (MNIST's first 10,000 training images, or
their digits 0-4). Target: ``n`` labelled images of Fashion-MNIST (or of MNIST digits 5-9),
drawn stratified at random, ``--repeats`` draws.

* ``transfer``: the source network's features, frozen, with a softmax readout trained on the n
  target labels (:func:`neuroplastic.plasticity.networks.readout.train_linear_readout`, the
  estimator's own readout, same settings);
* ``scratch-hebbian``: the same estimator fitted from scratch on the n target images;
* ``scratch-mlp``: ``neuroplastic.MLPClassifier()`` on the n target images.

Test sets: Fashion-MNIST's 10,000 test images; for digits 5-9 the MNIST 5-9 images left out of
every target draw (the last 2,000 of them). Prints one JSON line per (method, n) with the mean and
standard deviation of test accuracy over the draws.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import neuroplastic as npl
from neuroplastic.datasets import load_fashion_mnist, load_mnist
from neuroplastic.plasticity.networks.readout import train_linear_readout


def _draw(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices, as equal per class as n allows, at random."""
    classes = np.unique(y)
    per = np.full(len(classes), n // len(classes))
    per[: n % len(classes)] += 1
    return np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c, k in zip(classes, per)])


def _tasks(task: str):
    mn = load_mnist(kind="train")
    x, y = np.asarray(mn.x, dtype=np.float32), np.asarray(mn.y)
    if task == "mnist-fashion":
        fm = load_fashion_mnist()
        return (x, y), (fm.x_train, fm.y_train), (fm.x_test, fm.y_test)
    src = y < 5
    xt, yt = x[~src], y[~src]
    return (x[src], y[src]), (xt[:-2000], yt[:-2000]), (xt[-2000:], yt[-2000:])


def _readout_accuracy(est, f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray,
                      seed: int) -> float:
    classes, codes = np.unique(y_train, return_inverse=True)
    ft = torch.as_tensor(f_train)
    scale = float(ft.std()) or 1.0
    head = train_linear_readout(ft, torch.as_tensor(codes), len(classes), epochs=int(est.readout_epochs),
                                batch_size=int(est.readout_batch_size), lr=float(est.readout_lr),
                                generator=torch.Generator().manual_seed(seed), feature_scale=scale)
    with torch.no_grad():
        pred = head(torch.as_tensor(f_test) / scale).argmax(1).numpy()
    return float((classes[pred] == y_test).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["mnist-fashion", "mnist04-59"], default="mnist-fashion")
    ap.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--architecture", choices=["auto", "conv", "dense"], default="auto",
                    help="HebbianNetwork architecture for source and scratch (auto: conv for images)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    (xs, ys), (xt, yt), (xe, ye) = _tasks(a.task)
    t0 = time.perf_counter()
    source = npl.HebbianNetwork(architecture=a.architecture, random_state=a.seed).fit(xs, ys)
    src_s = time.perf_counter() - t0
    f_test = source.transform(xe)
    rows = []
    for n in a.labels:
        acc: dict[str, list[float]] = {"transfer": [], "scratch-hebbian": [], "scratch-mlp": []}
        for r in range(a.repeats):
            idx = _draw(yt, n, np.random.default_rng(a.seed * 1000 + r))
            acc["transfer"].append(_readout_accuracy(source, source.transform(xt[idx]), yt[idx], f_test, ye, r))
            acc["scratch-hebbian"].append(float((npl.HebbianNetwork(architecture=a.architecture, random_state=r)
                                                 .fit(xt[idx], yt[idx])
                                                 .predict(xe) == ye).mean()))
            acc["scratch-mlp"].append(float((npl.MLPClassifier(random_state=r).fit(xt[idx], yt[idx])
                                             .predict(xe) == ye).mean()))
        for method, v in acc.items():
            row = {"task": a.task, "architecture": a.architecture, "labels": n, "method": method, "mean": round(100 * float(np.mean(v)), 2),
                   "std": round(100 * float(np.std(v)), 2), "runs": [round(100 * u, 2) for u in v]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"task": a.task, "source_fit_seconds": round(src_s, 1), "source_images": len(xs)}))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
