"""Perturbations for robustness tests: input noise and dropout, synapse lesions, neuron death.

Model-side perturbations are context managers that change a model *in place* and restore it on
exit (weights from a copy, hooks removed), so they work on an ``nn.Module``, a neuroplastic
``Model`` or a scikit-learn estimator without copying it.

* :func:`lesion_synapses`: in every synaptic layer (``Linear``/``Conv2d``) a random fraction of
  the weights is set to zero (exactly ``round(f * n)`` per layer).
* :func:`silence_neurons`: a random fraction of the *hidden* neurons of every hidden layer emits
  nothing (spikes or activations forced to zero). Hidden neuron layers are the neuron modules
  (LIF/ALIF/LI/Izhikevich/recurrent LIF, rate layers, activation modules) that run before the
  last synaptic layer; the output layer is never silenced. A neuron is one unit of the last
  dimension (dense) or one channel-position (convolutional ``[..., C, H, W]`` outputs).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from neuroplastic.neurons._base import _NeuronBase
from neuroplastic.neurons.rate import Rate
from neuroplastic.plasticity.networks._hebb_layers import HebbianConv2d, HebbianDense
from neuroplastic.synapses.recurrent import RecurrentLIF

__all__ = [
    "accuracy", "add_noise", "drop_features", "hidden_neuron_layers", "lesion_synapses", "module_of",
    "predict_labels", "silence_neurons", "synaptic_layers",
]

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                nn.Softplus, nn.Hardtanh, nn.Mish)
# Hebbian feature layers apply their activation inside forward: their outputs are the hidden units
_NEURONS = (_NeuronBase, RecurrentLIF, Rate, HebbianDense, HebbianConv2d, *_ACTIVATIONS)


def module_of(model: Any) -> nn.Module:
    """The ``nn.Module`` inside a module, a neuroplastic ``Model`` or a fitted estimator (``model_``, or the
    delegate ``estimator_`` of ``SNNClassifier(learning="hybrid" | "plasticity")``)."""
    if isinstance(model, nn.Module):
        return model
    for attr in ("module", "model_", "estimator_"):
        inner = getattr(model, attr, None)
        if inner is not None:
            return module_of(inner)
    layers = getattr(model, "layers_", None)   # HebbianNetwork: its feature layers and readout
    if isinstance(layers, nn.Module):
        readout = getattr(model, "readout_", None)
        return nn.ModuleList([layers] + ([readout] if isinstance(readout, nn.Module) else []))
    raise TypeError(f"expected an nn.Module, a neuroplastic Model or a fitted estimator, got {type(model).__name__}")


def predict_labels(model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class predictions: ``model.predict`` for ``Model``/estimators; argmax of the output for a module.

    A module's time-first output ``[T, B, C]`` is summed over time before the argmax.
    """
    if not isinstance(model, nn.Module) and hasattr(model, "predict"):
        return np.asarray(model.predict(x))
    module = module_of(model)
    p = next(module.parameters(), None)
    dtype = p.dtype if p is not None else torch.float32
    device = p.device if p is not None else torch.device("cpu")
    out = []
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                y = module(torch.as_tensor(x[i:i + batch_size], dtype=dtype, device=device))
                y = y[0] if isinstance(y, (tuple, list)) else y
                if y.ndim == 3:
                    y = y.sum(0)
                out.append(y.argmax(-1).cpu().numpy())
    finally:
        module.train(was)
    return np.concatenate(out)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions."""
    return float(np.mean(predict_labels(model, x) == np.asarray(y)))


def _check_level(name: str, v: float, upper: float | None = 1.0) -> float:
    v = float(v)
    if not np.isfinite(v) or v < 0 or (upper is not None and v > upper):
        rng = "[0, 1]" if upper is not None else ">= 0"
        raise ValueError(f"{name} level must be in {rng}, got {v!r}")
    return v


def add_noise(x: np.ndarray, sigma: float, rng: np.random.Generator, *, clip: tuple[float, float] | None = None) -> np.ndarray:
    """``x + sigma * N(0, 1)``, clipped to ``clip`` (e.g. the data range, so rate encoders accept it)."""
    _check_level("noise", sigma, None)
    out = x + sigma * rng.standard_normal(x.shape).astype(x.dtype)
    if clip is not None:
        out = np.clip(out, clip[0], clip[1])
    return out.astype(x.dtype)


def drop_features(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Zero each feature of each sample independently with probability ``p``."""
    _check_level("dropout", p)
    return np.where(rng.random(x.shape) < p, 0, x).astype(x.dtype)


def synaptic_layers(model: Any) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every ``Linear``/``Conv2d`` with a plain weight parameter."""
    return [(n, m) for n, m in module_of(model).named_modules()
            if isinstance(m, (nn.Linear, nn.Conv2d)) and isinstance(m._parameters.get("weight"), torch.Tensor)]


def hidden_neuron_layers(model: Any) -> list[tuple[str, nn.Module]]:
    """Neuron modules that run before the last synaptic layer (see the module docstring)."""
    mods = list(module_of(model).named_modules())
    syn = [i for i, (_, m) in enumerate(mods) if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not syn:
        return []
    last_i = syn[-1]
    last_name = mods[last_i][0]
    out = []
    for i, (name, m) in enumerate(mods[:last_i]):
        if not isinstance(m, _NEURONS):
            continue
        if name and last_name.startswith(name + "."):    # the output layer's own neurons (e.g. a Rate layer)
            continue
        if any(name.startswith(o + ".") for o, _ in out):  # already inside a counted neuron module
            continue
        out.append((name, m))
    return out


@contextlib.contextmanager
def lesion_synapses(model: Any, fraction: float, generator: torch.Generator) -> Iterator[int]:
    """Zero ``round(fraction * n)`` random weights of every synaptic layer; restore them on exit.

    Yields the number of synapses lesioned.
    """
    f = _check_level("lesion", fraction)
    layers = synaptic_layers(model)
    saved = [m.weight.detach().clone() for _, m in layers]
    total = 0
    try:
        with torch.no_grad():
            for _, m in layers:
                n = m.weight.numel()
                k = round(f * n)
                idx = torch.randperm(n, generator=generator)[:k].to(m.weight.device)
                m.weight.view(-1)[idx] = 0.0
                total += k
        yield total
    finally:
        with torch.no_grad():
            for (_, m), w in zip(layers, saved):
                m.weight.copy_(w)


def _unit_shape(y: torch.Tensor) -> tuple[int, ...]:
    return tuple(y.shape[-3:]) if y.ndim >= 4 else tuple(y.shape[-1:])


@contextlib.contextmanager
def silence_neurons(model: Any, fraction: float, generator: torch.Generator) -> Iterator[int]:
    """Silence ``round(fraction * n)`` random hidden neurons of every hidden layer until exit.

    Yields the number of neurons silenced (known after the first forward pass for layers whose
    size is only known from their output; counted then).
    """
    f = _check_level("neuron death", fraction)
    layers = hidden_neuron_layers(model)
    alive: dict[int, torch.Tensor] = {}
    count = [0]

    def hook(mod: nn.Module, args: Any, out: Any) -> Any:
        y = out[0] if isinstance(out, tuple) else out
        key = id(mod)
        if key not in alive:
            shape = _unit_shape(y)
            n = int(np.prod(shape))
            k = round(f * n)
            keep = torch.ones(n, dtype=y.dtype)
            keep[torch.randperm(n, generator=generator)[:k]] = 0
            alive[key] = keep.reshape(shape).to(y.device)
            count[0] += k
        y = y * alive[key]
        return (y, *out[1:]) if isinstance(out, tuple) else y

    handles = [m.register_forward_hook(hook) for _, m in layers]
    try:
        yield count[0]
    finally:
        for h in handles:
            h.remove()
