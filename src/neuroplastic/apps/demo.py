"""``neuroplastic demo``: bio-inspired models beside the founding document's backprop baseline.

On one embedded dataset (stratified 75/25 split, seed 0) it trains the founding MLP
(``Dense(4, relu) -> Dense(4, relu) -> Dense(n_out, sigmoid)``, binary cross-entropy, Adam), a
wider MLP, a spiking network trained with surrogate gradients and, where available, a network
trained by synaptic plasticity; it prints one comparison table, and writes learning curves, a
spike raster and the figures as JSON.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from neuroplastic._core.atomic import atomic_savefig, atomic_write_text
from neuroplastic._core.seed import seed_everything

DEMO_DATASETS = ("digits", "breast-cancer", "iris", "wine")


@dataclass
class DemoRow:
    """One model's line of the comparison table."""

    model: str
    kind: str
    test_accuracy: float
    train_seconds: float
    parameters: int | None
    spikes_per_sample: float | None = None
    synaptic_ops_per_sample: float | None = None
    energy_nj_per_sample: float | None = None
    history: dict[str, list[float]] = field(default_factory=dict)


def _spiking_layers(module: torch.nn.Module) -> list[int]:
    from neuroplastic.neurons._base import _NeuronBase
    from neuroplastic.neurons.li import LI

    return [i for i, layer in enumerate(module) if isinstance(layer, _NeuronBase) and not isinstance(layer, LI)]


@torch.no_grad()
def spike_record(model: Any, x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Mean spikes per sample over all spiking layers, and the first sample's raster ``[T, N]``."""
    module = model.module
    if not hasattr(module, "forward_record"):
        return float("nan"), None
    idx = _spiking_layers(module)
    if not idx:
        return float("nan"), None
    module.eval()
    xt = torch.as_tensor(x, dtype=torch.float32, device=model.device)
    _, _, outs = module.forward_record(xt)
    total = sum(float(outs[i].sum()) for i in idx)
    raster = outs[idx[0]][:, 0].reshape(outs[idx[0]].shape[0], -1).cpu().numpy()
    return total / len(x), raster


def _energy(model: Any, x: np.ndarray) -> tuple[float | None, float | None]:
    """Synaptic operations and energy (nJ) per sample, if the energy profiler is available."""
    try:
        from neuroplastic.compress.energy import profile
    except ImportError:
        return None, None
    try:
        rep = profile(model.module, torch.as_tensor(x, dtype=torch.float32, device=model.device))
    except (TypeError, ValueError, NotImplementedError):  # an unknown layer: leave the column empty
        return None, None
    return float(rep.synaptic_ops), float(rep.energy_pj) / 1e3


def _train_gradient(name: str, label: str, kind: str, split: Any, quick: bool, seed: int, verbose: int) -> tuple[DemoRow, Any]:
    from neuroplastic.training import build_model

    n_in, n_out = split.x_train.shape[1], int(split.y_train.max()) + 1
    model = build_model(name, n_in=n_in, n_out=n_out, seed=seed, device="cpu")
    fit_kw = dict(model.fit_defaults)
    if quick:
        fit_kw["epochs"] = max(3, fit_kw.get("epochs", 10) // 4)
    t0 = time.perf_counter()
    hist = model.fit(split.x_train, split.y_train, verbose=verbose, seed=seed, **fit_kw)
    secs = time.perf_counter() - t0
    acc = float(np.mean(model.predict(split.x_test) == split.y_test))
    spikes, _ = spike_record(model, split.x_test)
    synops, energy = _energy(model, split.x_test)
    row = DemoRow(label, kind, acc, secs, model.count_params(),
                  None if math.isnan(spikes) else spikes, synops, energy,
                  {k: [float(v) for v in vals] for k, vals in hist.history.items()})
    return row, model


def _train_plasticity(split: Any, quick: bool, seed: int, verbose: int) -> tuple[DemoRow, Any] | None:
    """Plasticity-trained row, if the plasticity networks are available."""
    try:
        from neuroplastic.models import SNNClassifier

        clf = SNNClassifier(learning="plasticity", random_state=seed)
        t0 = time.perf_counter()
        clf.fit(split.x_train, split.y_train)
    except (ImportError, NotImplementedError):
        return None
    secs = time.perf_counter() - t0
    acc = float(clf.score(split.x_test, split.y_test))
    n_params = _count_parameters(clf)
    return DemoRow("plasticity network + readout", "plasticity", acc, secs, n_params), clf


def _count_parameters(obj: Any) -> int | None:
    """Learned tensor elements of a fitted estimator (its modules and tensors), None if unknown."""
    seen: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, torch.nn.Module):
            total += sum(p.numel() for p in o.parameters()) + sum(b.numel() for b in o.buffers())
        elif isinstance(o, torch.Tensor):
            total += o.numel()
        elif hasattr(o, "__dict__") and type(o).__module__.startswith("neuroplastic"):
            stack.extend(v for k, v in vars(o).items() if k.endswith("_") or isinstance(v, (torch.nn.Module, torch.Tensor)))
    return total or None


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_table(dataset: str, rows: list[DemoRow]) -> str:
    """The comparison table as text."""
    head = f"{'model':<34} {'test acc':>8} {'train s':>8} {'params':>8} {'spikes/sample':>13} {'syn-ops/sample':>14} {'nJ/sample':>9}"
    lines = [f"neuroplastic demo: {dataset} (stratified 75/25 split, seed 0)", head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.model:<34} {r.test_accuracy * 100:>7.2f}% {r.train_seconds:>8.1f} {_fmt(r.parameters, '>8d')} "
            f"{_fmt(r.spikes_per_sample, '>13.1f')} {_fmt(r.synaptic_ops_per_sample, '>14.3g')} {_fmt(r.energy_nj_per_sample, '>9.2f')}"
        )
    return "\n".join(lines)


def _plots(out: Path, dataset: str, rows: list[DemoRow], raster: np.ndarray | None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        if "loss" in r.history:
            axes[0].plot(np.arange(1, len(r.history["loss"]) + 1), r.history["loss"], label=r.model)
        if "accuracy" in r.history:
            axes[1].plot(np.arange(1, len(r.history["accuracy"]) + 1), r.history["accuracy"], label=r.model)
    axes[0].set(title=f"{dataset}: training loss", xlabel="epoch", ylabel="loss", yscale="log")
    axes[1].set(title=f"{dataset}: training accuracy", xlabel="epoch", ylabel="accuracy")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    paths.append(atomic_savefig(fig, out / "learning_curves.png", dpi=110))
    plt.close(fig)
    if raster is not None:
        t, n = np.nonzero(raster)
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.scatter(t, n, s=4, marker="|", color="k")
        ax.set(title=f"{dataset}: hidden-layer spike raster, first test sample", xlabel="time step",
               ylabel="neuron", xlim=(-0.5, raster.shape[0] - 0.5), ylim=(-0.5, raster.shape[1] - 0.5))
        fig.tight_layout()
        paths.append(atomic_savefig(fig, out / "spike_raster.png", dpi=110))
        plt.close(fig)
    return paths


def run_demo(dataset: str = "digits", *, quick: bool = False, out: str | Path | None = "demo_out",
             json_path: str | Path | None = None, seed: int = 0, verbose: int = 0,
             include_plasticity: bool = True, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and compare the demo models; returns the JSON-able results.

    Args:
        dataset: one of ``digits``, ``breast-cancer``, ``iris``, ``wine``.
        quick: about a quarter of the epochs (a smoke run, within a minute).
        out: folder for plots and ``results.json`` (None: write nothing there).
        json_path: also write ``{"dataset": ..., "results": [...]}`` here.
        seed: seed for the weights and shuffling (the split is always seed 0).
        verbose: passed to ``fit`` (0 silent, 1 progress bars).
        include_plasticity: add the plasticity-trained row when available.
        echo: where progress lines and the table go.
    """
    from neuroplastic.datasets import load_split

    if dataset not in DEMO_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DEMO_DATASETS)}")
    # One thread: these small models gain nothing from a second one, and two threads fighting over
    # a busy 2-core machine slowed training 4-30x in our measurements.
    torch.set_num_threads(1)
    # z-scores from the training rows for every model (the defaults were tuned on them)
    split = load_split(dataset, test_size=0.25, seed=0, standardize=True)
    rows: list[DemoRow] = []
    raster = None
    plan = [("mlp_founding", "founding MLP (4-4, sigmoid, BCE)", "backprop"),
            ("mlp_wide", "wide MLP (256-128)", "backprop"),
            ("snn", "spiking net (surrogate gradient)", "spiking")]
    for name, label, kind in plan:
        echo(f"training {label} ...")
        seed_everything(seed)
        row, model = _train_gradient(name, label, kind, split, quick, seed, verbose)
        rows.append(row)
        if name == "snn":
            _, raster = spike_record(model, split.x_test[:1])
    if include_plasticity and not quick:
        echo("training plasticity network ...")
        seed_everything(seed)
        # the plasticity network standardises its input itself (per image or per feature), so it gets
        # the unstandardised split: z-scored pixels cost its convolutions 2.7 points on digits
        raw = load_split(dataset, test_size=0.25, seed=0)
        res = _train_plasticity(raw, quick, seed, verbose)
        if res is not None:
            rows.append(res[0])
    table = format_table(dataset, rows)
    echo(table)
    result = {"dataset": dataset, "quick": quick, "seed": seed,
              "results": [{k: v for k, v in asdict(r).items() if k != "history"} for r in rows]}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        full = {**result, "histories": {r.model: r.history for r in rows}}
        atomic_write_text(out / "results.json", json.dumps(full, indent=2))
        for p in _plots(out, dataset, rows, raster):
            echo(f"wrote {p}")
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(result, indent=2))
    return result
