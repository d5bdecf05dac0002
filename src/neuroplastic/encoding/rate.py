r"""Rate coding: intensities in [0, 1] become spike trains whose rate follows the intensity."""
from __future__ import annotations

import torch
from torch import nn

from neuroplastic._core.checks import check_finite, check_positive


def _check_unit(x: torch.Tensor, name: str = "x") -> None:
    check_finite(name, x)
    if x.numel() and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError(
            f"{name} must lie in [0, 1] for rate coding (got [{float(x.min()):.3g}, {float(x.max()):.3g}]): "
            "scale it first, e.g. with MinMaxScaler or x / x.max()"
        )


def rate_encode(x: torch.Tensor, num_steps: int, *, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Bernoulli rate code: :math:`S_{t} \sim \text{Bernoulli}(\text{gain} \cdot x)` i.i.d. over ``t``.

    Args:
        x: intensities in [0, 1], any shape ``[B, ...]``.
        num_steps: number of time steps ``T``.
        gain: scales the spike probability (``gain * x`` must stay <= 1).
        generator: optional ``torch.Generator`` for reproducibility.

    Returns:
        Spikes ``[T, B, ...]`` of ``x``'s dtype.
    """
    _check_unit(x)
    p = x * gain
    if gain > 1 and float(p.max()) > 1:
        raise ValueError(f"gain {gain} pushes spike probabilities above 1: use gain <= 1 / x.max()")
    u = torch.rand((num_steps, *x.shape), generator=generator, device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    return (u < p.unsqueeze(0)).to(u.dtype)


def poisson_encode(x: torch.Tensor, num_steps: int, *, max_rate: float = 100.0, dt: float = 1e-3,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Poisson rate code: a Poisson process of rate ``max_rate * x`` Hz sampled in bins of ``dt``.

    A bin holds a spike with probability :math:`1 - e^{-r\,dt}` (the exact probability of at
    least one event of a Poisson process in the bin).
    """
    _check_unit(x)
    check_positive("max_rate", max_rate)
    check_positive("dt", dt)
    p = 1.0 - torch.exp(-x * max_rate * dt)
    u = torch.rand((num_steps, *x.shape), generator=generator, device=x.device, dtype=p.dtype)
    return (u < p.unsqueeze(0)).to(p.dtype)


class RateEncoder(nn.Module):
    """Module form of :func:`rate_encode` (or :func:`poisson_encode` with ``max_rate``)."""

    stateful = False

    def __init__(self, num_steps: int, gain: float = 1.0, max_rate: float | None = None, dt: float = 1e-3) -> None:
        super().__init__()
        self.num_steps, self.gain, self.max_rate, self.dt = int(num_steps), gain, max_rate, dt

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.max_rate is not None:
            return poisson_encode(x, self.num_steps, max_rate=self.max_rate, dt=self.dt)
        return rate_encode(x, self.num_steps, gain=self.gain)


class ConstantEncoder(nn.Module):
    """Direct (current) coding: repeat the analog input at each of ``num_steps`` steps."""

    stateful = False

    def __init__(self, num_steps: int) -> None:
        super().__init__()
        self.num_steps = int(num_steps)
        if self.num_steps < 1:
            raise ValueError("num_steps must be >= 1")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_finite("input", x)
        return x.unsqueeze(0).expand(self.num_steps, *x.shape)
