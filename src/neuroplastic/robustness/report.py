"""``robustness_report``: accuracy of several models under the same perturbations, and its plot."""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from neuroplastic.robustness.perturb import (
    accuracy,
    add_noise,
    drop_features,
    hidden_neuron_layers,
    lesion_synapses,
    silence_neurons,
    synaptic_layers,
)

__all__ = ["DEFAULT_LEVELS", "plot_robustness", "robustness_report"]

#: Perturbation levels used when none are given.
DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "noise": (0.0, 0.1, 0.2, 0.3, 0.5),
    "dropout": (0.0, 0.1, 0.2, 0.3, 0.5),
    "lesion": (0.0, 0.1, 0.3, 0.5, 0.7),
    "death": (0.0, 0.1, 0.3, 0.5, 0.7),
}
_TITLES = {"noise": "Gaussian input noise (sigma)", "dropout": "input feature dropout (p)",
           "lesion": "synapses lesioned (fraction)", "death": "hidden neurons silenced (fraction)"}


def _test_data(split: Any) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(split, "x_test") and hasattr(split, "y_test"):
        return np.asarray(split.x_test), np.asarray(split.y_test)
    if isinstance(split, (tuple, list)) and len(split) == 2:
        return np.asarray(split[0]), np.asarray(split[1])
    raise TypeError("split must be a neuroplastic Split (x_test/y_test are used) or an (x, y) pair")


def _seed_for(seed: int, kind: str, level_index: int, repeat: int) -> int:
    return int(seed) * 1_000_003 + {"noise": 1, "dropout": 2, "lesion": 3, "death": 4}[kind] * 10_007 \
        + level_index * 101 + repeat


def _evaluate(model: Any, x: np.ndarray, y: np.ndarray, torch_seed: int) -> float:
    """Accuracy with the global torch RNG seeded (stochastic encoders) and restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return accuracy(model, x, y)


def robustness_report(models: Mapping[str, Any], split: Any, *, noise: Sequence[float] | None = None,
                      dropout: Sequence[float] | None = None, lesion: Sequence[float] | None = None,
                      death: Sequence[float] | None = None, repeats: int = 1, seed: int = 0,
                      max_samples: int | None = None) -> dict[str, Any]:
    """Test accuracy of each model under input noise, input dropout, synapse lesions and neuron death.

    Every model sees exactly the same perturbed inputs, and the same random generator state for
    its lesions and silenced neurons, at each level; the same ``seed`` gives the same report.
    Models are perturbed in place and restored.

    Args:
        models: ``{name: model}``; a model is a neuroplastic ``Model``, a fitted estimator
            (``predict``) or an ``nn.Module`` (argmax of its output, summed over time if
            time-first).
        split: a :class:`~neuroplastic.datasets.Split` (its test part is used) or ``(x, y)``;
            or ``{name: split}`` giving each model its own encoding of the same rows (models
            trained with different feature encoders): the labels must then agree, and each
            model's inputs are perturbed with the same random draws.
        noise: standard deviations of additive Gaussian noise (inputs are then clipped to the
            clean data's range, so rate/latency encoders still accept them).
        dropout: probabilities of zeroing each input feature.
        lesion: fractions of synapses set to zero in every synaptic layer.
        death: fractions of hidden neurons silenced in every hidden layer.
        repeats: independent draws per level (accuracies are averaged; ``std`` is reported too).
        seed: seed of every random draw.
        max_samples: evaluate on the first ``max_samples`` test samples only (quick runs).

    Returns:
        JSON-able dict: ``{"seed", "repeats", "n_samples", "levels": {kind: [...]},
        "models": {name: {"clean": acc, kind: [mean acc per level], kind + "_std": [...]}}}``; a
        perturbation that cannot act on a model (no synaptic layers, no hidden neurons, no torch
        module) gets ``None`` and the reason under ``"not_applicable"``.
    """
    if not models:
        raise ValueError("pass at least one model: robustness_report({'snn': snn, 'mlp': mlp}, split)")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    per_model = isinstance(split, Mapping)
    if per_model:
        missing = [str(n) for n in models if n not in split]
        if missing:
            raise ValueError(f"split has no data for model(s) {', '.join(missing)}: give {{name: (x, y)}} for every "
                             "model, or one split for all")
        data = {n: _test_data(split[n]) for n in models}
    else:
        xy = _test_data(split)
        data = {n: xy for n in models}
    if max_samples is not None:
        data = {n: (x[:max_samples], y[:max_samples]) for n, (x, y) in data.items()}
    y = next(iter(data.values()))[1]
    for n, (xn, yn) in data.items():
        if len(xn) != len(y) or not np.array_equal(yn, y):
            raise ValueError(f"model {n!r} is given other labels than the first model: compare models on the same rows")
    levels = {"noise": noise, "dropout": dropout, "lesion": lesion, "death": death}
    levels = {k: [float(v) for v in (DEFAULT_LEVELS[k] if vals is None else vals)] for k, vals in levels.items()}
    out: dict[str, Any] = {"seed": int(seed), "repeats": int(repeats), "n_samples": int(len(y)), "levels": levels,
                           "models": {}}

    def perturbed(x: np.ndarray) -> dict[tuple[str, int, int], np.ndarray]:
        """Inputs drawn once per (kind, level, repeat) from fixed seeds: the same draws for every model."""
        lo, hi = float(x.min()), float(x.max())
        drawn: dict[tuple[str, int, int], np.ndarray] = {}
        for kind in ("noise", "dropout"):
            for li, v in enumerate(levels[kind]):
                for r in range(repeats):
                    rng = np.random.default_rng(_seed_for(seed, kind, li, r))
                    drawn[kind, li, r] = (add_noise(x, v, rng, clip=(lo, hi)) if kind == "noise"
                                          else drop_features(x, v, rng))
        return drawn

    shared = None if per_model else perturbed(data[next(iter(models))][0])
    for name, model in models.items():
        x = data[name][0]
        inputs = shared if shared is not None else perturbed(x)
        res: dict[str, Any] = {"clean": _evaluate(model, x, y, seed)}
        for kind in ("noise", "dropout", "lesion", "death"):
            why = _not_applicable(model, kind)
            if why is not None:   # reported as missing, never as an unchanged accuracy
                res[kind] = res[kind + "_std"] = None
                res.setdefault("not_applicable", {})[kind] = why
                continue
            per_level = []
            for li, v in enumerate(levels[kind]):
                accs = []
                for r in range(repeats):
                    # common random numbers: a stochastic model (rate encoder) sees the same
                    # torch draws in every condition, so only the perturbation differs
                    if kind in ("noise", "dropout"):
                        accs.append(_evaluate(model, inputs[kind, li, r], y, seed + r))
                    else:
                        ctx = lesion_synapses if kind == "lesion" else silence_neurons
                        with ctx(model, v, torch.Generator().manual_seed(_seed_for(seed, kind, li, r))):
                            accs.append(_evaluate(model, x, y, seed + r))
                per_level.append(accs)
            res[kind] = [float(np.mean(a)) for a in per_level]
            res[kind + "_std"] = [float(np.std(a)) for a in per_level]
        out["models"][str(name)] = res
    json.dumps(out)  # fail here, not in the caller, if something is not JSON-able
    return out


def _not_applicable(model: Any, kind: str) -> str | None:
    """Why a perturbation cannot act on ``model`` (None: it can)."""
    if kind not in ("lesion", "death"):
        return None
    try:
        found = synaptic_layers(model) if kind == "lesion" else hidden_neuron_layers(model)
    except TypeError:
        return "the model exposes no torch module to perturb"
    if not found:
        return "no synaptic layers" if kind == "lesion" else "no hidden neuron layers before the output layer"
    return None


def plot_robustness(report: Mapping[str, Any], path: str | None = None) -> Any:
    """Four panels (noise, dropout, lesion, death): accuracy vs level, one line per model.

    Args:
        report: the dict from :func:`robustness_report`.
        path: if given, the figure is saved there (format from the extension).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
    for ax, kind in zip(axes, ("noise", "dropout", "lesion", "death")):
        lv = report["levels"][kind]
        for name, res in report["models"].items():
            if res[kind] is None:   # not applicable to this model (see res["not_applicable"])
                continue
            mean = np.asarray(res[kind])
            std = np.asarray(res.get(kind + "_std", np.zeros_like(mean)))
            ax.plot(lv, mean, marker="o", label=name)
            if report.get("repeats", 1) > 1:
                ax.fill_between(lv, mean - std, mean + std, alpha=0.2)
        ax.set_title(_TITLES[kind], fontsize=10)
        ax.set_xlabel("level")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
