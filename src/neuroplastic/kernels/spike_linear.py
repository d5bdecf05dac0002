r"""Event-driven dense synapses for spike input: operation ``"spike_linear"``.

:class:`~neuroplastic.synapses.Dense` with ``spike_input=True`` computes ``y = x W^T + b`` through
this operation. Backends:

* ``"reference"`` (any device): :func:`torch.nn.functional.linear`;
* ``"cpu_event"`` (CPU, float32, priority 10): when every entry of ``x`` is 0 or 1, the product
  adds only the weight rows of the inputs that spiked (cost: spikes x outputs additions, not
  rows x inputs x outputs multiply-adds; see :mod:`neuroplastic.kernels._spike_c`), and backward
  computes :math:`\nabla_W = g^T x` the same way from 64-row bit masks, the only thing it keeps
  of ``x`` (one bit per entry). :math:`\nabla_x = g W` (when ``x`` needs a gradient) and
  :math:`\nabla_b` are ordinary products. Any other value in ``x`` (or another dtype or device,
  or no C compiler) gives the reference result instead.

Results equal the reference up to float rounding (the additions run in another order).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from neuroplastic._core.registry import register_backend
from neuroplastic.kernels import _spike_c

OP = "spike_linear"


@register_backend(OP, "reference", device_types=("any",), priority=0)
def spike_linear_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x W^T + b`` for any ``x`` (the dense product)."""
    return F.linear(x, weight, bias)


class _SpikeLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, masks):  # type: ignore[override]
        R = x.numel() // x.shape[-1]
        y = _spike_c.forward(masks, weight, bias, R)
        ctx.save_for_backward(masks, weight)
        ctx.K, ctx.has_bias = x.shape[-1], bias is not None
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, g):  # type: ignore[override]
        masks, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1]).contiguous().float()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g2 @ weight).reshape(*g.shape[:-1], ctx.K)
        if ctx.needs_input_grad[1]:
            gw = _spike_c.grad_weight(masks, g2, ctx.K)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g2.sum(0)
        return gx, gw, gb, None


@register_backend(OP, "cpu_event", device_types=("cpu",), priority=10, available=_spike_c.available)
def spike_linear_cpu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Event-driven ``x W^T + b`` for binary float32 ``x`` on the CPU (else the reference)."""
    if (x.dtype != torch.float32 or weight.dtype != torch.float32 or x.device.type != "cpu"
            or (bias is not None and bias.dtype != torch.float32) or x.numel() == 0 or x.ndim < 1):
        return F.linear(x, weight, bias)
    x2 = x.detach().reshape(-1, x.shape[-1])
    if not x2.is_contiguous():
        x2 = x2.contiguous()
    masks = _spike_c.masks(x2)
    if masks is None:   # graded values: the event-driven sum would be wrong
        return F.linear(x, weight, bias)
    return _SpikeLinear.apply(x, weight, bias, masks)
