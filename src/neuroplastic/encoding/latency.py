r"""Latency (time-to-first-spike) coding: stronger inputs spike earlier, each at most once."""
from __future__ import annotations

import torch
from torch import nn

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic.encoding.rate import _check_unit


def latency_times(x: torch.Tensor, num_steps: int, *, method: str = "linear", tau: float = 5.0,
                  threshold: float = 0.01) -> torch.Tensor:
    r"""Spike step of each input (float; ``num_steps`` means "no spike").

    ``"linear"``: :math:`t = (1 - x)(T - 1)`. ``"log"``: the time an RC circuit charged by ``x``
    reaches ``threshold``: :math:`t = \tau \ln(x / (x - \theta))` for :math:`x > \theta` (in steps,
    clipped to ``T - 1``). Inputs below ``threshold`` never spike.
    """
    _check_unit(x)
    check_in_choices("latency method", method, ("linear", "log"))
    if method == "linear":
        t = (1.0 - x) * (num_steps - 1)
    else:
        check_positive("tau", tau)
        safe = torch.clamp(x, min=threshold + 1e-12)
        t = tau * torch.log(safe / (safe - threshold))
        t = torch.clamp(t, max=num_steps - 1)
    return torch.where(x < threshold, torch.full_like(t, float(num_steps)), t)


def latency_encode(x: torch.Tensor, num_steps: int, *, method: str = "linear", tau: float = 5.0,
                   threshold: float = 0.01) -> torch.Tensor:
    """Spikes ``[T, B, ...]`` with one spike per input at :func:`latency_times` (rounded)."""
    t = torch.round(latency_times(x, num_steps, method=method, tau=tau, threshold=threshold)).long()
    steps = torch.arange(num_steps, device=x.device).view(-1, *([1] * x.ndim))
    return (steps == t.unsqueeze(0)).to(x.dtype if x.is_floating_point() else torch.float32)


class LatencyEncoder(nn.Module):
    """Module form of :func:`latency_encode`."""

    stateful = False

    def __init__(self, num_steps: int, method: str = "linear", tau: float = 5.0, threshold: float = 0.01) -> None:
        super().__init__()
        self.num_steps, self.method, self.tau, self.threshold = int(num_steps), method, tau, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return latency_encode(x, self.num_steps, method=self.method, tau=self.tau, threshold=self.threshold)
