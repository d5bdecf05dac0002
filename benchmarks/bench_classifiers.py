"""Test accuracy and training time of the founding MLP, the wide MLP and the default SNN.

Standard protocol: stratified 75/25 split with ``random_state=0`` (``neuroplastic.datasets.load_split``),
features standardised with training statistics, every model with its default settings
(``MLPClassifier(architecture="founding")``, ``MLPClassifier(architecture="wide")``,
``SNNClassifier()``); the estimators standardise again internally, which is the identity here.
Nothing here was tuned on the test split.

Usage::

    python benchmarks/bench_classifiers.py                    # digits + breast-cancer, seed 0
    python benchmarks/bench_classifiers.py --seeds 0 1 2 --threads 2 --json out.json
    python benchmarks/bench_classifiers.py --models snn hybrid --datasets breast-cancer --seeds 0 1 2

Prints one row per (dataset, model): test accuracy, wall-clock and CPU seconds of ``fit``.
"""
from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch

from neuroplastic.models.compare import compare_classifiers, default_classifiers
from neuroplastic.models import SNNClassifier

MODELS = list(default_classifiers())
#: Optional rows (``--models ... hybrid``): Hebbian-pretrained spiking net fine-tuned by BPTT.
EXTRA = {"hybrid": lambda seed, device: SNNClassifier(learning="hybrid", random_state=seed, device=device)}


def split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 75/25 split (random_state 0), z-scored with training statistics."""
    try:
        from neuroplastic.datasets import load_split

        s = load_split(name, test_size=0.25, seed=0, standardize=True)
        return s.x_train, s.y_train, s.x_test, s.y_test
    except ImportError:  # datasets package not available: the same protocol with sklearn directly
        from sklearn import datasets
        from sklearn.model_selection import train_test_split

        loader = {"digits": datasets.load_digits, "breast-cancer": datasets.load_breast_cancer}[name]
        x, y = loader(return_X_y=True)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
        mu, sd = xtr.mean(0), xtr.std(0)
        sd[sd == 0] = 1.0
        return ((xtr - mu) / sd).astype(np.float32), ytr, ((xte - mu) / sd).astype(np.float32), yte


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["digits", "breast-cancer"])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS + list(EXTRA))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        import neuroplastic.kernels  # noqa: F401  (registers fused CPU kernels where present)
    except ImportError:
        pass
    from neuroplastic._core.registry import available_backends

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, device {device}, LIF backend {available_backends('lif_sequence', device)[0]}")
    print(f"{'dataset':<14}{'model':<14}{'seed':>5}{'test_acc':>10}{'fit_s':>8}{'cpu_s':>8}")
    rows = []
    for name in args.datasets:
        xtr, ytr, xte, yte = split(name)
        for seed in args.seeds:
            models = {k: v for k, v in default_classifiers(random_state=seed, device=device).items() if k in args.models}
            models.update({k: make(seed, device) for k, make in EXTRA.items() if k in args.models})

            def show(row, name=name, seed=seed):
                row.update(dataset=name, seed=seed)
                print(f"{name:<14}{row['model']:<14}{seed:>5}{row['test_accuracy']:>10.4f}"
                      f"{row['fit_seconds']:>8.1f}{row['cpu_seconds']:>8.1f}", flush=True)

            rows += compare_classifiers(xtr, ytr, xte, yte, models=models, on_result=show)
    if len(args.seeds) > 1:
        for name in args.datasets:
            for model in args.models:
                a = [r["test_accuracy"] for r in rows if r["dataset"] == name and r["model"] == model]
                print(f"{name:<14}{model:<14} mean {np.mean(a):.4f} +- {np.std(a):.4f} over {len(a)} seeds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
