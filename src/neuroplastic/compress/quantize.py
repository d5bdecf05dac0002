r"""Quantization: symmetric per-channel weights (fake-quant, QAT with a straight-through estimator)
and a fixed-point LIF membrane.

**Weights.** With ``b`` bits, :math:`q_{max} = 2^{b-1} - 1` and one scale per output channel ``c``
(row of a dense weight, filter of a convolution),

.. math::
    s_c = \frac{\max_j |w_{cj}|}{q_{max}}, \qquad
    q_{cj} = \mathrm{clamp}(\mathrm{round}(w_{cj} / s_c), -q_{max}, q_{max}), \qquad
    \hat w_{cj} = s_c\, q_{cj},

so :math:`|\hat w - w| \le s_c / 2` inside the range (an all-zero channel gets :math:`s_c = 1`).
Zero stays exactly zero, so pruned synapses survive quantization. ``bits`` must be an integer in
2..16 (32 means "leave in float"). Quantization-aware training replaces each weight by
:func:`fake_quantize` of a float shadow weight; the straight-through estimator passes the gradient
unchanged where :math:`|w| \le q_{max} s` and blocks it outside (Bengio et al. 2013; Jacob et al.
2018).

**Membrane.** :class:`FixedPointLIF` stores :math:`v` as a signed ``total_bits`` integer
:math:`v_q` with :math:`v = v_q\,2^{-f}` (``f = frac_bits``) and steps in integer arithmetic:

.. math::
    v_q \leftarrow \mathrm{sat}\Big(\big\lfloor ((v_q - \ell_q)\,\beta_q + 2^{f-1}) / 2^f \big\rfloor + \ell_q
    + \mathrm{round}\big((1-\beta) R\,I / 2^{-f}\big)\Big),\qquad \beta_q = \mathrm{round}(\beta\,2^f),

a spike when :math:`v_q \ge \theta_q = \mathrm{round}(v_{th} 2^f)`, then the LIF reset in integers
(``subtract``: :math:`v_q - (\theta_q - r_q)`; ``zero``: :math:`r_q`). ``sat`` clips to the
``total_bits`` range. It is an inference path (no gradient).
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, NamedTuple

import torch
from torch import nn
from torch.nn.utils import parametrize

from neuroplastic._core.checks import check_time_first
from neuroplastic.compress.prune import MASK_SUFFIX, _module, prunable
from neuroplastic.neurons._base import _NeuronBase
from neuroplastic.neurons.lif import LIF, LIFParams

__all__ = [
    "FakeQuant", "FixedPointLIF", "FixedPointLIFState", "check_bits", "convert_qat", "dequantize", "fake_quantize",
    "prepare_qat", "quantize", "quantize_membrane", "quantize_weights", "weight_scales",
]

FLOAT_BITS = 32


def check_bits(bits: int, *, allow_float: bool = True) -> int:
    """Validate a bit width: an integer in 2..16, or 32 (float, no quantization) if allowed."""
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"bits must be an integer, got {bits!r}")
    if bits == FLOAT_BITS and allow_float:
        return bits
    if not 2 <= bits <= 16:
        extra = " or 32 (float)" if allow_float else ""
        raise ValueError(f"unsupported bit width {bits}: choose 2..16{extra} (1 bit leaves no level besides zero "
                         "in a symmetric code)")
    return bits


def _qmax(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def weight_scales(w: torch.Tensor, bits: int, *, per_channel: bool = True) -> torch.Tensor:
    """Symmetric scales ``max|w| / qmax``: one per output channel (dim 0), or one for the tensor.

    Returns a tensor broadcastable against ``w`` (``[C, 1, ...]`` or a scalar).
    """
    check_bits(bits, allow_float=False)
    a = w.detach().abs()
    if per_channel and w.ndim > 1:
        m = a.reshape(w.shape[0], -1).amax(dim=1).reshape(w.shape[0], *([1] * (w.ndim - 1)))
    else:
        m = a.amax()
    m = torch.where(m > 0, m, torch.ones_like(m))
    return m / _qmax(bits)


def quantize(w: torch.Tensor, bits: int, *, scale: torch.Tensor | None = None,
             per_channel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes and scales: ``(q, s)`` with ``q`` int8 (bits <= 8) or int16 and ``w ~ s * q``."""
    check_bits(bits, allow_float=False)
    s = weight_scales(w, bits, per_channel=per_channel) if scale is None else scale
    q = torch.clamp(torch.round(w.detach() / s), -_qmax(bits), _qmax(bits))
    return q.to(torch.int8 if bits <= 8 else torch.int16), s


def dequantize(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``scale * q`` in ``dtype``."""
    return q.to(dtype) * scale.to(dtype)


class _FakeQuantSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, scale: torch.Tensor, qmax: int) -> torch.Tensor:
        inside = w.abs() <= qmax * scale
        ctx.save_for_backward(inside)
        return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (inside,) = ctx.saved_tensors
        return grad * inside.to(grad.dtype), None, None


def fake_quantize(w: torch.Tensor, bits: int, *, scale: torch.Tensor | None = None, per_channel: bool = True) -> torch.Tensor:
    """Quantize-dequantize ``w`` in float with a straight-through gradient (identity within range).

    ``bits=32`` returns ``w`` unchanged. The scale is computed from ``w`` (detached) unless given.
    """
    if check_bits(bits) == FLOAT_BITS:
        return w
    s = weight_scales(w, bits, per_channel=per_channel) if scale is None else scale.detach()
    return _FakeQuantSTE.apply(w, s.to(w.dtype), _qmax(bits))


class FakeQuant(nn.Module):
    """Parametrization ``W = fake_quantize(W_float * mask)`` used by :func:`prepare_qat`."""

    def __init__(self, bits: int, per_channel: bool = True, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.bits, self.per_channel = check_bits(bits), per_channel
        self.register_buffer("mask", None if mask is None else mask.detach().clone().to(torch.bool))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.mask is not None:
            w = w * self.mask.to(w.dtype)
        return fake_quantize(w, self.bits, per_channel=self.per_channel)


def _targets(model: Any, layers: Iterable[str] | None) -> list[tuple[str, nn.Module]]:
    root = _module(model)
    if layers is None:
        return prunable(root)
    return prunable(root, layers)


def quantize_weights(model: Any, bits: int, *, per_channel: bool = True, layers: Iterable[str] | None = None) -> dict[str, float]:
    """Post-training quantization in place: each synaptic weight becomes its quantize-dequantize value.

    Args:
        model: module or ``Model``.
        bits: 2..16, or 32 (no change).
        per_channel: one scale per output channel (default) or per tensor.
        layers: module names (default every ``Linear``/``Conv2d``).

    Returns:
        Max absolute quantization error per weight, keyed ``"<module>.weight"``.
    """
    check_bits(bits)
    errors: dict[str, float] = {}
    for name, m in _targets(model, layers):
        if bits == FLOAT_BITS:
            errors[f"{name}.weight"] = 0.0
            continue
        with torch.no_grad():
            wq = fake_quantize(m.weight.detach(), bits, per_channel=per_channel)
            errors[f"{name}.weight"] = float((wq - m.weight).abs().max())
            m.weight.copy_(wq)
    return errors


def prepare_qat(model: Any, bits: int, *, per_channel: bool = True, layers: Iterable[str] | None = None) -> Any:
    """Quantization-aware training: make every synaptic weight a :class:`FakeQuant` of a float shadow.

    The forward pass sees quantized weights; gradients reach the float shadow through the
    straight-through estimator. The shadow is the same ``nn.Parameter`` as before, so an
    optimizer built earlier keeps working. A pruning mask of the layer is folded into the
    parametrization. Call :func:`convert_qat` after fine-tuning.

    Returns:
        ``model``.
    """
    if check_bits(bits) == FLOAT_BITS:
        return model
    for _, m in _targets(model, layers):
        mask = m._buffers.get("weight" + MASK_SUFFIX)
        parametrize.register_parametrization(m, "weight", FakeQuant(bits, per_channel, mask))
    return model


def convert_qat(model: Any) -> Any:
    """End QAT: bake the quantized weights in (``weight`` becomes a plain parameter again)."""
    for m in _module(model).modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return model


# --------------------------------------------------------------------------- fixed-point membrane


class FixedPointLIFState(NamedTuple):
    """Integer membrane ``v_q`` (int32); the potential is ``v_q * 2**-frac_bits``."""

    v: torch.Tensor


class FixedPointLIF(_NeuronBase):
    """LIF layer whose membrane is a ``total_bits`` fixed-point integer with ``frac_bits`` fraction bits.

    Same parameters as :class:`~neuroplastic.LIF` (no refractory period), plus ``frac_bits`` and
    ``total_bits``. ``forward(x[T, B, ...], state=None) -> (spikes, FixedPointLIFState)``; see the
    module docstring for the integer step. Inference only.
    """

    params_cls = LIFParams
    op = "lif_fixed_sequence"

    def __init__(self, *, frac_bits: int = 8, total_bits: int = 16, dt: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(dt=dt, **kwargs)
        if self.params.t_ref > 0:
            raise ValueError("FixedPointLIF has no refractory period: use t_ref=0")
        if not isinstance(total_bits, int) or not 4 <= total_bits <= 32:
            raise ValueError(f"total_bits must be an integer in 4..32, got {total_bits!r}")
        if not isinstance(frac_bits, int) or not 1 <= frac_bits < total_bits:
            raise ValueError(f"frac_bits must be an integer in 1..total_bits-1, got {frac_bits!r}")
        self.frac_bits, self.total_bits = frac_bits, total_bits
        p, f = self.params, frac_bits
        beta = p.decay(self.dt)
        self.beta_q = round(beta * 2**f)
        self.gain = (1.0 - beta) * p.r * 2**f                 # float current -> integer increments
        self.th_q, self.reset_q, self.leak_q = (round(v * 2**f) for v in (p.v_th, p.v_reset, p.v_leak))
        self.lo, self.hi = -(2 ** (total_bits - 1)), 2 ** (total_bits - 1) - 1
        for name, v in (("v_th", self.th_q), ("v_reset", self.reset_q), ("v_leak", self.leak_q)):
            if not self.lo <= v <= self.hi:
                raise ValueError(f"{name} does not fit in {total_bits} bits with {frac_bits} fraction bits: "
                                 "lower frac_bits or raise total_bits")

    @classmethod
    def from_lif(cls, lif: nn.Module, frac_bits: int = 8, total_bits: int = 16) -> "FixedPointLIF":
        """The fixed-point twin of a :class:`~neuroplastic.LIF` layer (same parameters and ``dt``)."""
        fields = {k: getattr(lif.params, k) for k in ("tau_mem", "v_th", "v_reset", "v_leak", "r", "t_ref", "reset")}
        return cls(frac_bits=frac_bits, total_bits=total_bits, dt=lif.dt, **fields)

    def init_state(self, x: torch.Tensor) -> FixedPointLIFState:
        return FixedPointLIFState(torch.full(x.shape, self.leak_q, dtype=torch.int32, device=x.device))

    def step(self, x: torch.Tensor, state: FixedPointLIFState) -> tuple[torch.Tensor, FixedPointLIFState]:
        """One integer step on ``x[B, ...]`` (float current)."""
        f = self.frac_bits
        v = state.v.to(torch.int64)
        leak = ((v - self.leak_q) * self.beta_q + (1 << (f - 1))) >> f       # floor division by 2^f
        i_q = torch.round(x.detach().double() * self.gain).to(torch.int64)
        v = torch.clamp(leak + self.leak_q + i_q, self.lo, self.hi)
        s = v >= self.th_q
        mode = self.params.reset
        if mode == "subtract":
            v = torch.where(s, v - (self.th_q - self.reset_q), v)
        elif mode == "zero":
            v = torch.where(s, torch.full_like(v, self.reset_q), v)
        return s.to(x.dtype), FixedPointLIFState(torch.clamp(v, self.lo, self.hi).to(torch.int32))

    def forward(self, x: torch.Tensor, state: FixedPointLIFState | None = None) -> tuple[torch.Tensor, FixedPointLIFState]:
        check_time_first("input", x)
        if state is None:
            state = self.init_state(x[0])
        outs = []
        for t in range(x.shape[0]):
            s, state = self.step(x[t], state)
            outs.append(s)
        return torch.stack(outs), state

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, frac_bits={self.frac_bits}, total_bits={self.total_bits}"


def quantize_membrane(model: Any, frac_bits: int = 8, total_bits: int = 16) -> nn.Module:
    """A copy of the network with every :class:`~neuroplastic.LIF` layer replaced by :class:`FixedPointLIF`."""
    net = copy.deepcopy(_module(model))

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if type(child) is LIF:
                setattr(parent, name, FixedPointLIF.from_lif(child, frac_bits, total_bits))
            else:
                swap(child)

    swap(net)
    return net
