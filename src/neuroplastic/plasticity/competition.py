"""Competition between neurons: hard k-winner-take-all, soft winner-take-all, lateral inhibition.

Functions act along one dimension (``dim``, default the last: the neurons of a dense layer; use
``dim=-3`` for the channels of ``[..., C, H, W]`` feature maps). Modules wrap them for use inside
:class:`~neuroplastic.network.Sequential` over time-first tensors (they are stateless).
"""
from __future__ import annotations

import torch
from torch import nn

from neuroplastic.plasticity.base import _check_finite_number


def kwta(x: torch.Tensor, k: int, *, dim: int = -1, values: bool = True) -> torch.Tensor:
    """Hard k-winner-take-all: keep the ``k`` largest entries along ``dim``, zero the rest.

    Args:
        x: activity (currents, membrane potentials, rates).
        k: number of winners, ``1 <= k <= x.shape[dim]``.
        dim: the competing dimension.
        values: return the winners' values (True) or a 0/1 mask (False).

    Ties are broken by :func:`torch.topk` (exactly ``k`` winners). The mask carries no gradient;
    with ``values=True`` gradients flow to the winners only.

    Example:
        >>> kwta(torch.tensor([[1.0, 3.0, 2.0]]), 2).tolist()
        [[0.0, 3.0, 2.0]]
    """
    n = x.shape[dim]
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, {n}] (the size of dim {dim}), got {k!r}")
    idx = x.detach().topk(k, dim=dim).indices
    mask = torch.zeros_like(x).scatter_(dim, idx, 1.0)
    return x * mask if values else mask


def soft_wta(x: torch.Tensor, temperature: float = 1.0, *, dim: int = -1) -> torch.Tensor:
    r"""Soft winner-take-all: :math:`y_k = \mathrm{softmax}(x / \tau)_k` along ``dim``.

    Small temperatures approach a hard winner-take-all (one-hot on the argmax); large ones give
    every unit an equal share.
    """
    t = _check_finite_number("temperature", temperature)
    if t <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}: use a small value (e.g. 0.1) for sharp competition")
    return torch.softmax(x / t, dim=dim)


def lateral_inhibition(spikes: torch.Tensor, strength: float, *, dim: int = -1, self_inhibition: bool = False) -> torch.Tensor:
    r"""Inhibitory current from all other neurons along ``dim``:

    .. math::
        I_i = -g \,\Big(\sum_j s_j - s_i\Big) \quad (\text{or } -g \sum_j s_j \text{ with self-inhibition})

    This is the effective all-to-all inhibition of Diehl & Cook (2015), where each excitatory
    spike drives an inhibitory neuron that inhibits every other excitatory neuron (their
    :math:`w_{ie} = 17`). Add the result to the next step's input current.
    """
    g = _check_finite_number("strength", strength)
    if g < 0:
        raise ValueError(f"strength must be >= 0 (it is subtracted), got {strength}")
    total = spikes.sum(dim=dim, keepdim=True)
    return -g * (total.expand_as(spikes) if self_inhibition else total - spikes)


class KWTA(nn.Module):
    """Module form of :func:`kwta` (stateless)."""

    stateful = False

    def __init__(self, k: int, *, dim: int = -1, values: bool = True) -> None:
        super().__init__()
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.k, self.dim, self.values = k, dim, values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kwta(x, self.k, dim=self.dim, values=self.values)

    def extra_repr(self) -> str:
        return f"k={self.k}, dim={self.dim}, values={self.values}"


class SoftWTA(nn.Module):
    """Module form of :func:`soft_wta` (stateless)."""

    stateful = False

    def __init__(self, temperature: float = 1.0, *, dim: int = -1) -> None:
        super().__init__()
        soft_wta(torch.zeros(1), temperature)  # validate now
        self.temperature, self.dim = float(temperature), dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_wta(x, self.temperature, dim=self.dim)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, dim={self.dim}"


class LateralInhibition(nn.Module):
    """Module form of :func:`lateral_inhibition`: ``forward(spikes) -> inhibitory current``."""

    stateful = False

    def __init__(self, strength: float, *, dim: int = -1, self_inhibition: bool = False) -> None:
        super().__init__()
        lateral_inhibition(torch.zeros(1), strength)  # validate now
        self.strength, self.dim, self.self_inhibition = float(strength), dim, self_inhibition

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return lateral_inhibition(spikes, self.strength, dim=self.dim, self_inhibition=self.self_inhibition)

    def extra_repr(self) -> str:
        return f"strength={self.strength}, dim={self.dim}, self_inhibition={self.self_inhibition}"
