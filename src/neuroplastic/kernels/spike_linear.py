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

* ``"cuda_bf16x3"`` (CUDA, float32, priority 10): when every entry of ``x`` is exactly a bfloat16
  number (spikes are), the float32 weight is split exactly into three bfloat16 parts,
  :math:`W = W_1 + W_2 + W_3` (8 + 8 + 8 significant bits), and
  :math:`x W^T = [x, x, x]\,[W_1, W_2, W_3]^T` runs as one bfloat16 tensor-core product with float32
  accumulation and output (``torch.mm(..., out_dtype=torch.float32)``, torch >= 2.8): every
  product is exact and only the accumulation order differs from a float32 GEMM. Backward splits
  ``g`` the same way for :math:`\nabla_W = g^T x` (three products summed in float32);
  :math:`\nabla_x = g W` stays a float32 product. The backend checks itself once on the device
  (a small product against float32); if ``out_dtype`` is missing or the check fails it reports
  itself unavailable and the reference runs.

Results equal the reference up to float rounding (the additions run in another order). Both
backends run eagerly under :func:`torch.compile` (``torch.compiler.disable``): the C kernel writes
through raw pointers, which a traced graph would not see.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from neuroplastic._core.registry import register_backend, run_eagerly
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
@run_eagerly   # ctypes writes into buffers a traced graph would not see
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


# --------------------------------------------------------------------------- CUDA: exact bf16x3 split

Mm = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Rows of the output gradient split at a time in the backward (float32 bytes per block).
_SPLIT_BLOCK_BYTES = 64 * 2**20


def split3(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``t`` (float32) as three bfloat16 tensors whose float32 sum is ``t`` (exactly for normal
    numbers: each part carries the next 8 significant bits of the remainder)."""
    p1 = t.to(torch.bfloat16)
    r = t - p1.float()
    p2 = r.to(torch.bfloat16)
    p3 = (r - p2.float()).to(torch.bfloat16)
    return p1, p2, p3


def _mm_f32_out(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """bfloat16 x bfloat16 -> float32 product with float32 accumulation (cuBLAS)."""
    return torch.mm(a, b, out_dtype=torch.float32)


class _Bf16x3Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, xb, mm):  # type: ignore[override]
        K = x.shape[-1]
        w1, w2, w3 = split3(weight.detach())
        y = mm(torch.cat([xb, xb, xb], dim=1), torch.cat([w1, w2, w3], dim=1).t())
        if bias is not None:
            y = y + bias
        ctx.save_for_backward(xb, weight)
        ctx.K, ctx.has_bias, ctx.mm = K, bias is not None, mm
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, g):  # type: ignore[override]
        xb, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1]).float()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g2 @ weight).reshape(*g.shape[:-1], ctx.K)
        if ctx.needs_input_grad[1]:
            # grad_W = g^T x with g split exactly into three bfloat16 parts (as split3), one part at a
            # time and in row blocks: the split's temporaries stay ~1.5x _SPLIT_BLOCK_BYTES instead of
            # ~2x the size of g, for a few more kernel launches (H100, workload A-GPU: 16 MiB blocks
            # cost 0.9 ms of a 3.4 ms step; one block cost 420 MB of peak memory).
            rows = max(1, _SPLIT_BLOCK_BYTES // max(1, 4 * g2.shape[1]))
            for i in range(0, g2.shape[0], rows):
                gi, xi = g2[i:i + rows], xb[i:i + rows]
                part = gi.to(torch.bfloat16)
                gw = ctx.mm(part.t(), xi) if gw is None else gw.add_(ctx.mm(part.t(), xi))
                rest = gi - part                      # float32, exact: what bfloat16 rounding dropped
                part = rest.to(torch.bfloat16)
                gw.add_(ctx.mm(part.t(), xi))
                rest.sub_(part)                       # exact again
                gw.add_(ctx.mm(rest.to(torch.bfloat16).t(), xi))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g2.sum(0)
        return gx, gw, gb, None, None


def bf16x3_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mm: Mm = _mm_f32_out) -> torch.Tensor:
    """``x W^T + b`` by the exact bfloat16 split when ``x`` holds bfloat16 numbers (else F.linear).

    ``mm`` computes a bfloat16 product with float32 output; tests pass an emulation of it.
    """
    if x.dtype != torch.float32 or weight.dtype != torch.float32 or x.numel() == 0:
        return F.linear(x, weight, bias)
    x2 = x.detach().reshape(-1, x.shape[-1])
    xb = x2.to(torch.bfloat16)
    if not torch.equal(xb.float(), x2):   # one device sync: graded float32 values are not exact in bf16
        return F.linear(x, weight, bias)
    return _Bf16x3Linear.apply(x, weight, bias, xb, mm)


@functools.cache
def _cuda_bf16x3_ok() -> bool:
    """Whether this CUDA build has ``mm(..., out_dtype)`` and the split product matches float32."""
    if not torch.cuda.is_available():
        return False
    try:
        g = torch.Generator(device="cuda").manual_seed(0)
        x = (torch.rand(96, 200, device="cuda", generator=g) < 0.3).float()
        w = torch.randn(70, 200, device="cuda", generator=g)
        got = bf16x3_linear(x, w, None)
        want = (x.double() @ w.double().t()).float()
        return bool(torch.allclose(got, want, rtol=1e-5, atol=1e-5))
    except Exception:  # noqa: BLE001 - an older torch (no out_dtype) or driver: use the reference
        return False


@register_backend(OP, "cuda_bf16x3", device_types=("cuda",), priority=10, available=_cuda_bf16x3_ok)
@run_eagerly   # a data-dependent choice of path; checked eagerly, never traced
def spike_linear_cuda(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Exact bfloat16-split ``x W^T + b`` on tensor cores for bfloat16-exact float32 ``x`` (else F.linear)."""
    return bf16x3_linear(x, weight, bias)
