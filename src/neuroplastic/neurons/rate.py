r"""The founding document's rate neuron :math:`y = f(W x + b)`.

``f`` is the logistic sigmoid by default; any name in :data:`ACTIVATIONS` or a callable works.
Applied to time-first input ``[T, B, in]`` it acts on every step at once.
"""
from __future__ import annotations

from typing import Callable, Union

import torch
from torch import nn
import torch.nn.functional as F

from neuroplastic._core.checks import check_in_choices

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "identity": lambda x: x,
}

ActivationLike = Union[str, Callable[[torch.Tensor], torch.Tensor]]


def get_activation(f: ActivationLike) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resolve an activation name or callable."""
    if callable(f):
        return f
    check_in_choices("activation", f, ACTIVATIONS)
    return ACTIVATIONS[f]


def rate_step(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
              activation: ActivationLike = "sigmoid") -> torch.Tensor:
    """Rate neuron output :math:`f(x W^T + b)` for ``x[..., in]``, ``weight[out, in]``."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"input features {x.shape[-1]} != weight in_features {weight.shape[1]}: check the layer sizes")
    return get_activation(activation)(F.linear(x, weight, bias))


class Rate(nn.Module):
    """Layer of rate neurons ``y = f(W x + b)`` (stateless).

    Args:
        in_features: input size.
        out_features: number of neurons.
        activation: name in :data:`ACTIVATIONS` or a callable (default sigmoid).
        bias: learn a bias.
    """

    stateful = False

    def __init__(self, in_features: int, out_features: int, activation: ActivationLike = "sigmoid", bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation = activation
        get_activation(activation)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rate_step(x, self.linear.weight, self.linear.bias, self.activation)
