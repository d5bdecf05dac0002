"""Plasticity then gradients on digits: Hebbian-pretrained spiking network fine-tuned by BPTT.

    python examples/hybrid_digits.py --out runs/hybrid

Compares, on the same 75/25 split of the 8x8 digits:

* Hebbian layer frozen, only the readout trained by BPTT (``freeze_hebbian=True``);
* hybrid: Hebbian-pretrained first layer, then the whole spiking network trained by BPTT;
* the same spiking network from a random initialisation, same BPTT budget.

Saves the Hebbian prototypes before and after fine-tuning and the first-layer weight histograms.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from neuroplastic.datasets import load_split
from neuroplastic.models import HybridClassifier
from neuroplastic.plasticity.plot import WeightHistogramRecorder, plot_receptive_fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20, help="BPTT epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/hybrid"))
    args = ap.parse_args()

    s = load_split("digits")
    runs = {
        "Hebbian frozen + BPTT readout": dict(freeze_hebbian=True),
        "hybrid (Hebbian init + BPTT all)": dict(),
        "random init + BPTT all": dict(hebb_epochs=0),
    }
    models = {}
    for name, kw in runs.items():
        t0 = time.perf_counter()
        clf = HybridClassifier(n_hidden=args.n_hidden, finetune_epochs=args.epochs, random_state=args.seed, **kw)
        clf.fit(s.x_train, s.y_train)
        models[name] = clf
        print(f"{name:34s} test accuracy {clf.score(s.x_test, s.y_test):.4f} ({time.perf_counter() - t0:.0f} s)")
    hyb = models["hybrid (Hebbian init + BPTT all)"]
    args.out.mkdir(parents=True, exist_ok=True)
    plot_receptive_fields(hyb.hebbian_.weight, args.out / "hebbian_prototypes.png", shape=(8, 8),
                          title="SoftHebb prototypes (before BPTT)")
    plot_receptive_fields(hyb.model_.module[1].weight, args.out / "after_bptt.png", shape=(8, 8),
                          title="first layer after BPTT")
    hist = WeightHistogramRecorder(bins=60)
    hist.record(hyb.hebbian_.weight / hyb.hebbian_.weight.std(), epoch=0)
    hist.record(hyb.model_.module[1].weight / hyb.model_.module[1].weight.std(), epoch=args.epochs)
    hist.plot(args.out / "weight_histogram.png", title="first-layer weights (standardised): Hebbian vs after BPTT")
    print(f"figures saved under {args.out}/")


if __name__ == "__main__":
    main()
