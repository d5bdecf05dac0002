"""ANN-to-SNN conversion: accuracy lost at T steps, and energy per sample beside the ANN's.

Trains a ReLU MLP on scikit-learn's digits (64-256-256-10, Adam, the seed-0 stratified 75/25
split) and a small CNN on Fashion-MNIST (60k/10k, Debian package ``dataset-fashion-mnist``),
converts each with :func:`neuroplastic.convert` (calibration: 2,048 training images, 99.9th
percentile), and reports test accuracy of the ANN and of the SNN at several T, plus energy per
sample from :func:`neuroplastic.profile` for both (same cost model).

    python benchmarks/bench_convert.py --what digits
    python benchmarks/bench_convert.py --what fashion --epochs 4
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch
from torch import nn

import neuroplastic as npl
from neuroplastic.datasets import load_fashion_mnist, load_split


def train(ann: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y).long()
    opt = torch.optim.Adam(ann.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + batch - 1) // batch))
    ann.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(ann(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
    ann.eval()


@torch.no_grad()
def accuracy_ann(ann: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((ann(torch.as_tensor(x)).argmax(1).numpy() == y).mean())


@torch.no_grad()
def accuracy_snn(snn: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    hits = 0
    for i in range(0, len(x), batch):
        out, _ = snn(torch.as_tensor(x[i:i + batch]))
        hits += int((out.sum(0).argmax(1).numpy() == y[i:i + batch]).sum())
    return hits / len(x)


def run(name: str, ann: nn.Module, split, ts: list[int], epochs: int, lr: float, batch: int, seed: int,
        eval_batch: int = 1000) -> dict:
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    train(ann, split.x_train, split.y_train, epochs, lr, batch, seed)
    train_s = time.perf_counter() - t0
    acc_ann = accuracy_ann(ann, split.x_test, split.y_test)
    probe = torch.as_tensor(split.x_test[:256])
    rows = {"model": name, "ann_accuracy": acc_ann, "train_seconds": round(train_s, 1), "snn": []}
    rep_ann = npl.profile(ann, probe)
    rows["ann_energy_nj"] = _energy_nj(rep_ann)
    for t in ts:
        t0 = time.perf_counter()
        snn = npl.convert(ann, split.x_train[:2048], T=t)
        acc = accuracy_snn(snn, split.x_test, split.y_test, eval_batch)
        rep = npl.profile(snn, probe[:64])
        rows["snn"].append({"T": t, "accuracy": acc, "loss_points": round(100 * (acc_ann - acc), 2),
                            "energy_nj": _energy_nj(rep), "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps({"model": name, **rows["snn"][-1]}), flush=True)
    return rows


def _energy_nj(rep) -> float:
    return round(float(rep.energy_pj) / 1000.0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=["digits", "fashion"], default="digits")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--T", type=int, nargs="*", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--eval-batch", type=int, default=None,
                    help="test images per SNN pass (memory grows with T x batch; default 1000, CNN 200)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    if a.what == "digits":
        split = load_split("digits")
        ann = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
        res = run("digits-mlp", ann, split, a.T or [32, 64, 128, 256], a.epochs or 60, 1e-3, 32, a.seed,
                  a.eval_batch or 1000)
    else:
        split = load_fashion_mnist(flatten=False)
        if split.x_train.ndim == 3:  # [N, 28, 28] -> [N, 1, 28, 28] for Conv2d
            split = dataclasses.replace(split, x_train=split.x_train[:, None], x_test=split.x_test[:, None])
        ann = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                            nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
        res = run("fashion-cnn", ann, split, a.T or [64, 128, 256], a.epochs or 4, 2e-3, 128, a.seed,
                  a.eval_batch or 200)  # [T, 1000, 32, 28, 28] at T = 128 is 12.8 GB
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
