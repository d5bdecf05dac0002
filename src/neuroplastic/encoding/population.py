r"""Population coding with Gaussian receptive fields.

Each scalar feature is seen by ``n_neurons`` neurons with centres :math:`\mu_j` evenly spaced over
``[low, high]`` and width :math:`\sigma` (default: the centre spacing). Neuron ``j`` responds with
:math:`\exp(-(x - \mu_j)^2 / (2\sigma^2))` in [0, 1], which can then be rate- or latency-coded.
"""
from __future__ import annotations

import torch
from torch import nn

from neuroplastic._core.checks import check_finite


def population_encode(x: torch.Tensor, n_neurons: int, low: float = 0.0, high: float = 1.0,
                      sigma: float | None = None) -> torch.Tensor:
    """Responses ``[..., F * n_neurons]`` (feature-major) of Gaussian receptive fields."""
    check_finite("x", x)
    if n_neurons < 2:
        raise ValueError("n_neurons must be >= 2 for population coding")
    if not high > low:
        raise ValueError(f"high ({high}) must exceed low ({low})")
    centres = torch.linspace(low, high, n_neurons, device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    if sigma is None:
        sigma = (high - low) / (n_neurons - 1)
    if sigma <= 0:
        raise ValueError("sigma must be > 0")
    r = torch.exp(-((x.unsqueeze(-1) - centres) ** 2) / (2 * sigma**2))
    return r.flatten(-2)


class PopulationEncoder(nn.Module):
    """Module form of :func:`population_encode`."""

    stateful = False

    def __init__(self, n_neurons: int, low: float = 0.0, high: float = 1.0, sigma: float | None = None) -> None:
        super().__init__()
        self.n_neurons, self.low, self.high, self.sigma = n_neurons, low, high, sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return population_encode(x, self.n_neurons, self.low, self.high, self.sigma)
