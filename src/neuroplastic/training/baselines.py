r"""Backprop baselines every brain-inspired model is measured against.

* :func:`founding_mlp` is the founding document's network, exactly: ``Dense(4, relu) ->
  Dense(4, relu) -> Dense(n_out, sigmoid)``, trained with Keras' binary cross-entropy on one-hot
  targets and Adam with Keras' defaults (``lr=1e-3``, ``beta=(0.9, 0.999)``, ``eps=1e-7``),
  weights initialised like Keras (Glorot-uniform, zero bias). Each layer is the founding rate
  neuron :math:`y = f(W x + b)` (:class:`neuroplastic.Rate`). For 64 inputs and 10 classes it has
  :math:`64\cdot4+4 + 4\cdot4+4 + 4\cdot10+10 = 330` parameters.
* :func:`wide_mlp` is a conventional strong baseline: ``Dense(256, relu) -> Dense(128, relu) ->
  Dense(n_out)`` logits with softmax cross-entropy and Adam (same Keras-style initialisation).

Residual difference from Keras: Keras adds ``eps`` to the un-corrected :math:`\sqrt{v_t}`, torch to
the bias-corrected one, i.e. Keras' effective epsilon is :math:`\epsilon\sqrt{1-\beta_2^t}`
(a difference only visible when gradients are ~1e-7).

Example:
    >>> net = founding_mlp(64, 10)
    >>> sum(p.numel() for p in net.parameters())
    330
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from neuroplastic.network import Sequential
from neuroplastic.neurons.rate import Rate
from neuroplastic.training.architectures import build_model, register_architecture

__all__ = ["founding_mlp", "founding_model", "glorot_uniform_", "wide_mlp", "wide_model"]


def glorot_uniform_(layer: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    r"""Keras' default initialisation of a dense layer, in place.

    :math:`W \sim U(-a, a)`, :math:`a = \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`, bias 0.
    Accepts an ``nn.Linear`` or a :class:`~neuroplastic.Rate` layer.
    """
    lin = layer.linear if isinstance(layer, Rate) else layer
    if not isinstance(lin, nn.Linear):
        raise TypeError(f"glorot_uniform_ needs a Linear or Rate layer, got {type(layer).__name__}")
    fan_out, fan_in = lin.weight.shape
    a = (6.0 / (fan_in + fan_out)) ** 0.5
    with torch.no_grad():
        lin.weight.uniform_(-a, a, generator=generator)
        if lin.bias is not None:
            lin.bias.zero_()
    return layer


def _check_sizes(n_in: int, n_out: int) -> None:
    for name, v in (("n_in", n_in), ("n_out", n_out)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def founding_mlp(n_in: int, n_out: int) -> Sequential:
    """The founding baseline ``Dense(4, relu) -> Dense(4, relu) -> Dense(n_out, sigmoid)``.

    Args:
        n_in: input features.
        n_out: output units (one per class; targets are one-hot for binary cross-entropy).

    Returns:
        A :class:`neuroplastic.Sequential` of three :class:`~neuroplastic.Rate` layers mapping
        ``[B, n_in]`` to probabilities ``[B, n_out]``.
    """
    _check_sizes(n_in, n_out)
    layers = [Rate(n_in, 4, "relu"), Rate(4, 4, "relu"), Rate(4, n_out, "sigmoid")]
    for layer in layers:
        glorot_uniform_(layer)
    return Sequential(*layers)


def wide_mlp(n_in: int, n_out: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> Sequential:
    """A wide ReLU MLP ending in logits (softmax cross-entropy), Keras-style initialisation.

    Args:
        n_in: input features.
        n_out: number of classes.
        hidden: hidden layer widths.
        dropout: dropout probability after each hidden layer (0: none).
    """
    _check_sizes(n_in, n_out)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    prev = int(n_in)
    for h in hidden:
        if int(h) < 1:
            raise ValueError(f"hidden sizes must be positive integers, got {list(hidden)}")
        layers.append(glorot_uniform_(Rate(prev, int(h), "relu")))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = int(h)
    layers.append(glorot_uniform_(Rate(prev, int(n_out), "identity")))
    return Sequential(*layers)


def founding_model(n_in: int, n_out: int, *, device: str = "auto", classes: Sequence[Any] | None = None,
                   seed: int | None = None) -> Any:
    """:func:`founding_mlp` wrapped in a compiled :class:`~neuroplastic.training.Model` (BCE, Adam 1e-3, accuracy)."""
    return build_model("mlp_founding", n_in=n_in, n_out=n_out, device=device, classes=classes, seed=seed)


def wide_model(n_in: int, n_out: int, hidden: Sequence[int] = (256, 128), *, device: str = "auto",
               classes: Sequence[Any] | None = None, seed: int | None = None) -> Any:
    """:func:`wide_mlp` wrapped in a compiled :class:`~neuroplastic.training.Model` (CE, Adam 1e-3, accuracy)."""
    return build_model("mlp_wide", n_in=n_in, n_out=n_out, hidden=list(hidden), device=device,
                       classes=classes, seed=seed)


register_architecture(
    "mlp_founding",
    compile={"optimizer": "adam", "loss": "bce", "metrics": ["accuracy"], "lr": 1e-3},
    fit={"epochs": 200, "batch_size": 32},
)(founding_mlp)

register_architecture(
    "mlp_wide",
    compile={"optimizer": "adam", "loss": "cross_entropy", "metrics": ["accuracy"], "lr": 1e-3},
    fit={"epochs": 50, "batch_size": 32},
)(wide_mlp)
