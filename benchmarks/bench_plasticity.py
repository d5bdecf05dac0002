"""Networks trained by plasticity: accuracy against their baselines, and speed against BindsNET.

    python benchmarks/bench_plasticity.py --what all --bindsnet-python /tmp/bn_venv/bin/python
    python benchmarks/bench_plasticity.py --what speed --bindsnet-python /tmp/bn_venv/bin/python
    python benchmarks/bench_plasticity.py --what hebbian --fashion

Sections (``--what``):

* ``hebbian``: :class:`HebbianNetwork` (default 2-layer SoftHebb convolutions + softmax readout) on
  digits, MNIST 8k/2k and (``--fashion``) Fashion-MNIST 60k/10k, against the same architecture
  with random filters and against k-means with as many clusters as the layers' units + label
  assignment; the dense SoftHebb winner-take-all layer read out by label assignment against
  k-means of the same size.
* ``dense_wta``: the dense SoftHebb winner-take-all layer read out by label assignment against
  k-means of the same size + label assignment (digits 64 units, 10 seeds; MNIST 8k/2k 400 units, 3
  seeds): the layer before the fix (constant rate 0.1, random starting samples, 3 passes), with only
  k-means++-style starts, with rank-ordered competition (neural gas) over the first half of the
  passes, and the defaults (spread starts + per-unit 1/win-count rate, 10 passes); each variant's
  margin over k-means is paired by seed (mean, standard error, wins).
  k-means baselines: Euclidean on the pixels (MiniBatch as in the other sections, and full) and on
  the standardised input directions (``geometry="cosine"``, the layer's own geometry).
  ``--validation`` scores on 25 % of the training data (stratified; 5 such splits on digits, 1 on
  MNIST) instead of the test split: the selection of the defaults was made there.
  ``--resplits N`` (digits only, defaults and the k-means bar only): N fresh stratified 75/25
  splits of the whole digits set (``random_state`` 1000..1000+N-1, none of them the seed-0 split)
  x 10 seeds, so the margin's standard error is over splits rather than one 450-image test set.
* ``diehl_cook``: :class:`DiehlCook` (400 neurons, default settings) on MNIST 8k/2k, sequential
  (``batch_size=1``) and batched (``batch_size=16``), against k-means with 400 clusters.
* ``speed``: milliseconds to train on one image (350 steps of 1 ms, STDP on, 100 and 400
  excitatory neurons): our fused C presentation, our pure-torch reference, and BindsNET 0.3.4's
  ``DiehlAndCook2015`` run in its own virtual environment (``--bindsnet-python``) in the same
  invocation, on the same images.
* ``hybrid``: :class:`HybridClassifier` on digits against the frozen-Hebbian and random-init runs.
* ``sklearn``: ``SNNClassifier(learning="plasticity")`` with no other argument on MNIST 8k/2k.
* ``tables``: ``HebbianNetwork()`` on iris, wine and breast cancer with and without the population
  code in front of its dense layer (5-fold CV on the training split, then the test split).

BindsNET recipe (no dependency resolution: it pins a newer torch and imports torchvision,
gymnasium and cv2 at package import)::

    python -m venv --system-site-packages /tmp/bn_venv
    /tmp/bn_venv/bin/pip install --no-deps bindsnet==0.3.4

The worker (``--bindsnet-worker``) registers empty stand-ins for the missing optional modules in
``sys.meta_path`` before importing ``bindsnet.models``; only ``bindsnet.network``/``models``/
``learning``/``encoding`` code runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STUBBED = ("torchvision", "gymnasium", "cv2", "pandas", "tensorboardX", "ale_py", "foolbox")


# --------------------------------------------------------------------------- BindsNET worker
def _install_stubs() -> None:
    import importlib.abc
    import importlib.machinery
    import types

    class _Meta(type):
        def __getattr__(cls, name):  # any attribute is another stand-in class
            if name.startswith("__"):
                raise AttributeError(name)
            return _Meta(name, (), {})

    class _Mod(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _Meta(name, (), {})

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname.split(".")[0] in STUBBED:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            return _Mod(spec.name)

        def exec_module(self, module):
            module.__path__ = []

    sys.meta_path.insert(0, _Finder())


def bindsnet_worker(images: str, n_neurons: int, warmup: int) -> None:
    _install_stubs()
    import torch
    from bindsnet.encoding import poisson
    from bindsnet.models import DiehlAndCook2015

    import bindsnet

    x = torch.as_tensor(np.load(images))
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n_neurons, exc=22.5, inh=17.5, dt=1.0, norm=78.4, theta_plus=0.05,
                           inpt_shape=(1, 28, 28))
    wall, cpu = [], []
    for k in range(len(x)):
        spikes = poisson(datum=x[k].reshape(1, 28, 28) * 63.75, time=350, dt=1.0).unsqueeze(1)
        w0, c0 = time.perf_counter(), time.process_time()
        net.run(inputs={"X": spikes}, time=350)
        if k >= warmup:
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        net.reset_state_variables()
    print(json.dumps({"version": getattr(bindsnet, "__version__", "0.3.4"), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "n_neurons": n_neurons, "samples": len(wall),
                      "wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu)}))


# --------------------------------------------------------------------------- sections
def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def section_hebbian(fashion: bool) -> dict:
    from neuroplastic.datasets import load_fashion_mnist, load_split, mnist_split
    from neuroplastic.models import HebbianNetwork
    from neuroplastic.plasticity.networks import kmeans_label_accuracy

    sets = {"digits": lambda: load_split("digits"), "mnist": mnist_split}
    if fashion:
        sets["fashion"] = load_fashion_mnist
    res = {}
    for name, load in sets.items():
        d = load()
        row = {}
        for fl in ("hebbian", "random"):
            clf, wall, cpu = _timed(lambda: HebbianNetwork(feature_learning=fl, hebb_samples=10000,
                                                           random_state=0).fit(d.x_train, d.y_train))
            row[fl] = {"accuracy": clf.score(d.x_test, d.y_test), "fit_wall_s": wall, "fit_cpu_s": cpu,
                       "timings": clf.timings_, "n_features": clf.n_features_out_}
            print(name, fl, row[fl], flush=True)
        for k in (96, 256):
            row[f"kmeans{k}"] = kmeans_label_accuracy(d.x_train, d.y_train, d.x_test, d.y_test, k, seed=0)
            print(name, f"kmeans{k}", row[f"kmeans{k}"], flush=True)
        if name != "fashion":   # dense winner-take-all layer read out by label assignment
            units = 64 if name == "digits" else 400
            for fl in ("hebbian", "random"):
                clf = HebbianNetwork(architecture="dense", n_hidden=(units,), feature_learning=fl,
                                     random_state=0).fit(d.x_train, d.y_train)
                row[f"dense{units}_{fl}"] = {
                    "label_assignment": clf.label_assignment_score(d.x_train, d.y_train, d.x_test, d.y_test),
                    "readout": clf.score(d.x_test, d.y_test)}
                print(name, f"dense{units}_{fl}", row[f"dense{units}_{fl}"], flush=True)
            row[f"kmeans{units}"] = kmeans_label_accuracy(d.x_train, d.y_train, d.x_test, d.y_test, units, seed=0)
            print(name, f"kmeans{units}", row[f"kmeans{units}"], flush=True)
        res[name] = row
    return res


WTA_VARIANTS = {   # HebbianNetwork settings of the dense layer
    "before (constant rate, random starts, 3 passes)": dict(hebb_rate="constant", hebb_init="random", hebb_epochs=3),
    "spread starts only (constant rate, 3 passes)": dict(hebb_rate="constant", hebb_epochs=3),
    "count rate only (random starts, 10 passes)": dict(hebb_init="random"),
    "rank-ordered competition (neural gas, first 5 of 10 passes)": dict(hebb_competition="rank"),
    "default (spread starts, count rate, 10 passes)": {},
}
WTA_SEEDS = {"digits": 10, "mnist": 3}
WTA_VAL_SPLITS = {"digits": 5, "mnist": 1}        # --validation: stratified 75/25 splits, random_state 0..n-1
WTA_BAR = "kmeans (minibatch if > 5000 samples)"   # kmeans_label_accuracy's default: the bar


def _paired(accs: list[float], bar: list[float], splits: int = 1) -> dict:
    """Margin over the k-means bar paired by seed (and split): mean, standard error, wins; with
    several splits also each split's mean margin and the standard error over splits."""
    d = np.asarray(accs) - np.asarray(bar)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    out = {"margin": float(d.mean()), "margin_se": se, "wins": int((d > 0).sum()), "ties": int((d == 0).sum())}
    if splits > 1:
        per = d.reshape(splits, -1).mean(1)
        out.update(split_margins=per.tolist(), margin_se_over_splits=float(per.std(ddof=1) / np.sqrt(splits)))
    return out


def section_dense_wta_resplits(n_splits: int, n_seeds: int = 10) -> dict:
    """Digits, 64 units: the default dense WTA layer against the k-means bar (paired by split and
    seed) over ``n_splits`` fresh stratified 75/25 splits of all 1,797 images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from neuroplastic.models import HebbianNetwork

    from neuroplastic.plasticity.networks import kmeans_label_accuracy

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    layer, bar = [], []
    for k in range(n_splits):
        tr, te = train_test_split(np.arange(len(X)), test_size=0.25, stratify=y, random_state=1000 + k)
        for seed in range(n_seeds):
            bar.append(kmeans_label_accuracy(X[tr], y[tr], X[te], y[te], 64, seed=seed)["test_accuracy"])
            clf = HebbianNetwork(architecture="dense", n_hidden=(64,), readout_epochs=1, random_state=seed).fit(X[tr], y[tr])
            layer.append(clf.label_assignment_score(X[tr], y[tr], X[te], y[te]))
        print(f"split {k}: layer {np.mean(layer):.4f} kmeans {np.mean(bar):.4f}", flush=True)
    res = {"splits": n_splits, "seeds": n_seeds, "layer_mean": float(np.mean(layer)), "kmeans_mean": float(np.mean(bar)),
           "vs_kmeans": _paired(layer, bar, n_splits)}
    print(res["vs_kmeans"] | {"split_margins": "..."}, flush=True)
    return res


def section_dense_wta(validation: bool, seeds: dict[str, int] | None = None) -> dict:
    """Each variant and k-means with the same seeds (10 on digits, 3 on MNIST); every variant's margin
    over the k-means bar is paired by seed. ``validation``: scored on 25 % of the training data,
    over 5 such splits on digits (one split's 337 samples leave +-0.3 points of noise) and 1 on MNIST;
    ``accuracy`` lists split-major, seed-minor."""
    from sklearn.model_selection import train_test_split

    from neuroplastic.datasets import load_split, mnist_split
    from neuroplastic.models import HebbianNetwork
    from neuroplastic.plasticity.networks import kmeans_label_accuracy

    seeds = WTA_SEEDS if seeds is None else seeds
    res = {}
    for name, load, units in (("digits", lambda: load_split("digits"), 64), ("mnist", mnist_split, 400)):
        if seeds.get(name, 0) < 1:
            continue
        d = load()
        splits = []
        for k in range(WTA_VAL_SPLITS[name] if validation else 1):
            if validation:
                tr, va = train_test_split(np.arange(len(d.x_train)), test_size=0.25, stratify=d.y_train, random_state=k)
                splits.append((d.x_train[tr], d.y_train[tr], d.x_train[va], d.y_train[va]))
            else:
                splits.append((d.x_train, d.y_train, d.x_test, d.y_test))
        row = {}
        for tag, mb, geo in ((WTA_BAR, None, "euclidean"), ("kmeans (full)", False, "euclidean"),
                             ("kmeans on directions (full, cosine geometry)", False, "cosine")):
            accs = [kmeans_label_accuracy(x, y, xt, yt, units, seed=s, minibatch=mb, geometry=geo)["test_accuracy"]
                    for x, y, xt, yt in splits for s in range(seeds[name])]
            row[tag] = {"accuracy": accs, "mean": float(np.mean(accs))}
            print(name, units, tag, row[tag], flush=True)
        for tag, kw in WTA_VARIANTS.items():
            accs, walls = [], []
            for x, y, xt, yt in splits:
                for seed in range(seeds[name]):
                    clf, wall, _ = _timed(lambda: HebbianNetwork(architecture="dense", n_hidden=(units,), readout_epochs=1,
                                                                 random_state=seed, **kw).fit(x, y))
                    accs.append(clf.label_assignment_score(x, y, xt, yt))
                    walls.append(wall)
            row[tag] = {"accuracy": accs, "mean": float(np.mean(accs)), "fit_wall_s": float(np.mean(walls)),
                        "vs_kmeans": _paired(accs, row[WTA_BAR]["accuracy"], len(splits))}
            print(name, units, tag, row[tag], flush=True)
        res[name] = row
    return res


def section_diehl_cook(batch_sizes: list[int]) -> dict:
    from neuroplastic.datasets import mnist_split
    from neuroplastic.models import DiehlCook
    from neuroplastic.plasticity.networks import kmeans_label_accuracy

    d = mnist_split()
    res = {}
    for bs in batch_sizes:
        clf, wall, cpu = _timed(lambda: DiehlCook(batch_size=bs, random_state=0).fit(d.x_train, d.y_train))
        res[f"batch{bs}"] = {"accuracy": clf.score(d.x_test, d.y_test), "train_accuracy_2k": clf.score(d.x_train[:2000], d.y_train[:2000]),
                             "fit_wall_s": wall, "fit_cpu_s": cpu, "train_s": clf.fit_seconds_,
                             "presentations": clf.n_presentations_, "retries": clf.n_retries_,
                             "unassigned": int((clf.labels_ < 0).sum()), "epochs": clf.epochs}
        print("diehl_cook", bs, res[f"batch{bs}"], flush=True)
    res["kmeans400"] = kmeans_label_accuracy(d.x_train, d.y_train, d.x_test, d.y_test, 400, seed=0, minibatch=False)
    print("kmeans400", res["kmeans400"], flush=True)
    return res


def section_speed(bindsnet_python: str | None, n_samples: int) -> dict:
    import torch

    from neuroplastic.datasets import mnist_split
    from neuroplastic.plasticity.networks import DiehlCookParams
    from neuroplastic.plasticity.networks._dc_c import present_c
    from neuroplastic.plasticity.networks._dc_engine import normalize_input_major_, present_reference

    x = torch.as_tensor(mnist_split().x_train[:n_samples + 2])
    p = DiehlCookParams()
    res = {"torch_threads": torch.get_num_threads()}
    for n in (100, 400):
        row = {}
        for name, fn, count in (("neuroplastic_c", present_c, n_samples), ("neuroplastic_reference", present_reference, 3)):
            g = torch.Generator().manual_seed(0)
            w = (0.3 * torch.rand(784, n, generator=g)).contiguous()
            normalize_input_major_(w, p.norm)
            theta = torch.zeros(n)
            fn(w, theta, x[:1] * (p.max_rate * p.dt), p, learn=True, generator=g)   # warm-up (and C build)
            wall, cpu = [], []
            for k in range(count):
                w0, c0 = time.perf_counter(), time.process_time()
                fn(w, theta, x[k + 1:k + 2] * (p.max_rate * p.dt), p, learn=True, generator=g)
                normalize_input_major_(w, p.norm)
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
            row[name] = {"wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu), "samples": count}
        if bindsnet_python:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "images.npy")
                np.save(path, x[:min(n_samples, 40) + 2].numpy())
                out = subprocess.run([bindsnet_python, __file__, "--bindsnet-worker", path, str(n), "2"],
                                     capture_output=True, text=True, cwd=tmp)
                if out.returncode != 0:
                    row["bindsnet"] = {"error": out.stderr.strip()[-2000:]}
                else:
                    row["bindsnet"] = json.loads(out.stdout.strip().splitlines()[-1])
            if "wall_ms" in row.get("bindsnet", {}):
                row["speedup_wall"] = row["bindsnet"]["wall_ms"] / row["neuroplastic_c"]["wall_ms"]
                row["speedup_cpu"] = row["bindsnet"]["cpu_ms"] / row["neuroplastic_c"]["cpu_ms"]
        res[f"n{n}"] = row
        print("speed", n, row, flush=True)
    return res


def section_hybrid() -> dict:
    from neuroplastic.datasets import load_split
    from neuroplastic.models import HybridClassifier

    s = load_split("digits")
    res = {}
    for name, kw in (("frozen_hebbian", dict(freeze_hebbian=True)), ("hybrid", {}), ("random_init", dict(hebb_epochs=0))):
        clf, wall, cpu = _timed(lambda: HybridClassifier(random_state=0, **kw).fit(s.x_train, s.y_train))
        res[name] = {"accuracy": clf.score(s.x_test, s.y_test), "fit_wall_s": wall, "fit_cpu_s": cpu}
        print("hybrid", name, res[name], flush=True)
    return res


def section_sklearn() -> dict:
    """The bar as a user meets it: ``SNNClassifier(learning="plasticity")`` with no other argument."""
    from neuroplastic.datasets import mnist_split
    from neuroplastic.models import SNNClassifier

    d = mnist_split()
    clf, wall, cpu = _timed(lambda: SNNClassifier(learning="plasticity").fit(d.x_train, d.y_train))
    res = {"accuracy": clf.score(d.x_test, d.y_test), "fit_wall_s": wall, "fit_cpu_s": cpu,
           "delegate": type(clf.estimator_).__name__, "timings": clf.estimator_.timings_}
    print("SNNClassifier(learning='plasticity') on MNIST 8k/2k", res, flush=True)
    return res


def section_tables() -> dict:
    """``HebbianNetwork()`` on tables with and without the population code in front of its dense layer:
    5-fold CV on the training split (the selection, seeds 0-1), then the test split (seeds 0-2)."""
    from sklearn.model_selection import StratifiedKFold

    from neuroplastic.datasets import load_split
    from neuroplastic.models import HebbianNetwork

    res = {}
    for name in ("iris", "wine", "breast_cancer"):
        d = load_split(name)
        row = {}
        for tag, pop in (("population 6 (default)", None), ("no population code", 0)):
            cv = [HebbianNetwork(population=pop, random_state=s).fit(d.x_train[tr], d.y_train[tr])
                  .score(d.x_train[va], d.y_train[va])
                  for tr, va in StratifiedKFold(5, shuffle=True, random_state=0).split(d.x_train, d.y_train)
                  for s in range(2)]
            test = [HebbianNetwork(population=pop, random_state=s).fit(d.x_train, d.y_train).score(d.x_test, d.y_test)
                    for s in range(3)]
            row[tag] = {"cv_mean": float(np.mean(cv)), "test": test, "test_mean": float(np.mean(test))}
            print("tables", name, tag, row[tag], flush=True)
        res[name] = row
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", default="all", choices=("all", "hebbian", "dense_wta", "diehl_cook", "speed", "hybrid", "sklearn",
                                                        "tables"))
    ap.add_argument("--validation", action="store_true", help="dense_wta: score on 25 %% of the training data")
    ap.add_argument("--resplits", type=int, default=0,
                    help="dense_wta on digits: N fresh 75/25 splits of the whole set x 10 seeds (defaults only)")
    ap.add_argument("--fashion", action="store_true", help="include Fashion-MNIST 60k/10k (about 15 min)")
    ap.add_argument("--bindsnet-python", default=None, help="python of a venv with bindsnet 0.3.4 (see the docstring)")
    ap.add_argument("--speed-samples", type=int, default=50)
    ap.add_argument("--dc-batch-sizes", default="1,16")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for our side")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_plasticity.json"))
    ap.add_argument("--bindsnet-worker", nargs=3, metavar=("IMAGES", "N_NEURONS", "WARMUP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bindsnet_worker:
        images, n, warm = args.bindsnet_worker
        bindsnet_worker(images, int(n), int(warm))
        return
    import torch

    torch.set_num_threads(args.threads)
    res = {"cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()}
    if args.what in ("all", "speed"):
        res["speed"] = section_speed(args.bindsnet_python, args.speed_samples)
    if args.what in ("all", "hybrid"):
        res["hybrid"] = section_hybrid()
    if args.what in ("all", "sklearn"):
        res["sklearn"] = section_sklearn()
    if args.what in ("all", "diehl_cook"):
        res["diehl_cook"] = section_diehl_cook([int(b) for b in args.dc_batch_sizes.split(",")])
    if args.what == "dense_wta" and args.resplits:
        res["dense_wta_resplits"] = section_dense_wta_resplits(args.resplits)
    elif args.what in ("all", "dense_wta"):
        res["dense_wta"] = section_dense_wta(args.validation)
    if args.what in ("all", "hebbian"):
        res["hebbian"] = section_hebbian(args.fashion)
    if args.what in ("all", "tables"):
        res["tables"] = section_tables()
    res["load_avg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(res, indent=1, default=float))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
