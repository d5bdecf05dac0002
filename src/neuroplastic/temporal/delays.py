r"""Synaptic delays: each synapse delivers its input ``d`` steps late.

.. math:: y_t[o] = b_o + \sum_i W_{oi}\, x_{t - d_{oi}}[i] \qquad (x_{t<0} = 0)

:class:`DelayedDense` has fixed integer delays per synapse (a buffer, exact). 
:class:`LearnableDelayDense` learns them with a continuous relaxation in the style of DCLS
(Hammouamri et al. 2023, dilated convolutions with learnable spacings): the synapse becomes a
temporal kernel over ``max_delay + 1`` taps with weight ``W_{oi} \max(0, 1 - |k - d_{oi}|)`` at tap
``k`` (linear interpolation between the two nearest integer delays). At an integer ``d`` it is
exactly the fixed delay; between integers the output and its gradient in ``d`` are those of the
interpolation. Between integers the loss can have local minima (a mixture of two taps); a
wider triangle (``width > 1`` steps, normalised to unit mass, DCLS's annealed-kernel trick)
smooths the landscape: set ``width`` large early in training and anneal it to 1 (exact
interpolation) with ``layer.width = ...``. ``round_delays()`` snaps the learned delays to integers for deployment.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic._core.checks import check_time_first

__all__ = ["DelayedDense", "LearnableDelayDense", "delay_shift", "delayed_linear"]


def delay_shift(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x`` delayed by ``d >= 0`` steps along dim 0 (zeros enter at the start)."""
    if d < 0:
        raise ValueError(f"delay must be >= 0 steps, got {d}")
    if d == 0:
        return x
    if d >= x.shape[0]:
        return torch.zeros_like(x)
    return torch.cat([x.new_zeros((d, *x.shape[1:])), x[:-d]], dim=0)


def delayed_linear(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor,
                   bias: torch.Tensor | None = None) -> torch.Tensor:
    """``y_t[o] = b_o + sum_i W[o, i] x_{t - delays[o, i]}[i]`` for ``x[T, ..., in]``.

    One matrix product per distinct delay value (the weights masked to the synapses with it).
    """
    if delays.shape != weight.shape:
        raise ValueError(f"delays shape {tuple(delays.shape)} must match weight {tuple(weight.shape)}")
    y = None
    for d in torch.unique(delays).tolist():
        w = weight * (delays == d).to(weight.dtype)
        part = F.linear(delay_shift(x, int(d)), w)
        y = part if y is None else y + part
    return y if bias is None else y + bias


class DelayedDense(nn.Module):
    """Dense synapses with fixed integer delays per synapse over ``[T, B, in]``.

    Args:
        in_features, out_features: sizes.
        max_delay: delays are drawn uniformly from ``0..max_delay`` (unless ``delays`` is given).
        delays: explicit ``int [out, in]`` delays in steps.
        bias: learn a bias.
    """

    def __init__(self, in_features: int, out_features: int, max_delay: int = 0, *, delays: torch.Tensor | None = None,
                 bias: bool = True, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        if delays is None:
            if max_delay < 0:
                raise ValueError(f"max_delay must be >= 0, got {max_delay}")
            delays = torch.randint(0, int(max_delay) + 1, (out_features, in_features), generator=generator)
        delays = torch.as_tensor(delays, dtype=torch.long)
        if delays.shape != (out_features, in_features) or (delays < 0).any():
            raise ValueError(f"delays must be non-negative integers of shape ({out_features}, {in_features})")
        self.register_buffer("delays", delays)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_first("input", x, min_ndim=2)
        return delayed_linear(x, self.linear.weight, self.delays, self.linear.bias)


class LearnableDelayDense(nn.Module):
    """Dense synapses with learnable real-valued delays in ``[0, max_delay]`` steps.

    ``forward(x[T, B, in]) -> y[T, B, out]``: a causal temporal convolution whose kernel holds
    each synapse's weight spread over the two taps around its delay (see the module docstring).
    """

    def __init__(self, in_features: int, out_features: int, max_delay: int, *, bias: bool = True,
                 init_delay: float | None = None, width: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not width >= 1.0:
            raise ValueError(f"width must be >= 1 step (1 = linear interpolation), got {width}")
        self.width = float(width)
        if max_delay < 1:
            raise ValueError(f"learnable delays need max_delay >= 1 step, got {max_delay}: use DelayedDense for none")
        self.max_delay = int(max_delay)
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        if init_delay is None:
            d = torch.rand(out_features, in_features, generator=generator) * max_delay
        else:
            d = torch.full((out_features, in_features), float(init_delay))
        self.delay = nn.Parameter(d)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    def kernel(self) -> torch.Tensor:
        """Temporal kernel ``[out, in, max_delay + 1]``; tap ``k`` acts on ``x_{t-k}``."""
        d = self.delay.clamp(0.0, float(self.max_delay))
        taps = torch.arange(self.max_delay + 1, dtype=d.dtype, device=d.device)
        interp = (1.0 - (taps - d.unsqueeze(-1)).abs() / self.width).clamp_min(0.0)
        if self.width != 1.0:
            interp = interp / interp.sum(-1, keepdim=True)
        return self.linear.weight.unsqueeze(-1) * interp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_first("input", x, min_ndim=2)
        T, lead = x.shape[0], x.shape[1:-1]
        xb = x.reshape(T, -1, x.shape[-1]).permute(1, 2, 0)                  # [N, in, T]
        xb = F.pad(xb, (self.max_delay, 0))
        y = F.conv1d(xb, self.kernel().flip(-1), self.linear.bias)           # [N, out, T]
        return y.permute(2, 0, 1).reshape(T, *lead, -1)

    def round_delays(self) -> DelayedDense:
        """A :class:`DelayedDense` with the same weights and the delays rounded to integers."""
        out = DelayedDense(self.linear.in_features, self.linear.out_features, delays=self.integer_delays(),
                           bias=self.linear.bias is not None)
        out.linear.load_state_dict(self.linear.state_dict())
        return out

    def integer_delays(self) -> torch.Tensor:
        return self.delay.detach().clamp(0, self.max_delay).round().long()

    def extra_repr(self) -> str:
        return f"max_delay={self.max_delay}, width={self.width}"


