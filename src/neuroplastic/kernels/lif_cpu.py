r"""Fused whole-sequence LIF and adaptive LIF for the CPU (backend ``"cpu_fused"``).

Registered for ``"lif_sequence"`` and ``"alif_sequence"`` on device ``"cpu"`` with priority 10,
so :class:`~neuroplastic.neurons.LIF` / :class:`~neuroplastic.neurons.ALIF` use it by default on
CPU; ``LIF(..., backend="reference")`` or ``NEUROPLASTIC_BACKEND=reference`` select the loop
over :func:`~neuroplastic.neurons.lif.lif_step` instead.

One :class:`torch.autograd.Function` covers the whole sequence. Forward runs all ``T`` steps in
one C call (or a buffered torch loop) and saves only what backward needs: in C, its input and the
state at every 8th step (backward recomputes the pre-reset membranes :math:`h_t`, and for adaptive
LIF the adaptation :math:`a_t`, 8 steps at a time in cache, bit for bit: one ``[T, N]`` store less
per training step, two for adaptive LIF); in the torch engine :math:`h_t` (and :math:`a_t`).
Backward runs the analytic backpropagation through time in reverse, e.g. for LIF with :math:`v'_t = \mathrm{reset}(h_t, S_t)`
and :math:`h_{t+1} = v_l + (v'_t - v_l)\beta + (1-\beta) R\,I_{t+1}`:

.. math::
    \bar h_t = \big(\bar S_t + \bar v'_t\,\partial_S v'_t\big)\,\sigma'(h_t - v_{th})
               + \bar v'_t\,\partial_h v'_t, \qquad
    \bar I_t = (1-\beta) R\, \bar h_t, \qquad \bar v'_{t-1} = \beta\, \bar h_t ,

with :math:`\partial_S v'_t` dropped under ``detach_reset``. Spikes and final states equal the
reference bit for bit in float32/float64; gradients agree to float rounding.

Engines (``NEUROPLASTIC_CPU_KERNEL``): ``auto`` (default: C when a compiler is found, else
torch), ``c`` (error if the C build fails), ``torch``. Half-precision inputs are computed in
float32 and returned in their dtype.

Delegated to the reference (same results, its speed): ``t_ref > 0``, a state whose tensors do
not match one input step in shape/dtype/device, empty input. Not supported here: double
backward (the backward is once-differentiable; use ``backend="reference"`` for higher-order
gradients).
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from neuroplastic._core.registry import get_backend, register_backend
from neuroplastic.kernels import _lif_c, _lif_torch
from neuroplastic.kernels._common import (
    ALIFConsts,
    LIFConsts,
    alif_consts,
    compute_dtype,
    lif_consts,
    unsupported,
)
from neuroplastic.neurons.alif import ALIFParams, ALIFState
from neuroplastic.neurons.lif import LIFParams, LIFState
from neuroplastic.neurons.surrogate import Surrogate

ENGINE_ENV = "NEUROPLASTIC_CPU_KERNEL"
PRIORITY = 10


def cpu_engine(surrogate: Surrogate) -> ModuleType:
    """The engine module used for this call: :mod:`._lif_c` or :mod:`._lif_torch`."""
    mode = os.environ.get(ENGINE_ENV, "auto").lower()
    if mode not in ("auto", "c", "torch"):
        raise ValueError(f"{ENGINE_ENV}={mode!r}: choose auto, c or torch")
    if mode == "torch":
        return _lif_torch
    if _lif_c.supports(surrogate) and _lif_c.available():
        return _lif_c
    if mode == "c":
        raise RuntimeError(
            f"{ENGINE_ENV}=c but the C kernel is unavailable (no compiler, a failed build or surrogate "
            f"{surrogate.name!r}): install gcc/clang or set {ENGINE_ENV}=auto"
        )
    return _lif_torch


def _flat(t: torch.Tensor, T: int | None, dtype: torch.dtype) -> torch.Tensor:
    t = t.to(dtype).contiguous()
    return t.view(T, -1) if T is not None else t.view(-1)


def _out(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if t is None else t.to(dtype)


class _LIFSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, v0: torch.Tensor, k: LIFConsts, engine: ModuleType):  # type: ignore[override]
        T, cd = x.shape[0], compute_dtype(x.dtype)
        xf, v0f = _flat(x, T, cd), _flat(v0, None, cd)
        s = torch.empty(x.shape, dtype=cd)
        vT = torch.empty(v0.shape, dtype=cd)
        ctx.save_for_backward(*engine.lif_forward_train(xf, v0f, s.view(T, -1), vT.view(-1), k))
        ctx.k, ctx.engine, ctx.meta = k, engine, (x.shape, x.dtype, v0.dtype)
        ctx.set_materialize_grads(False)
        return s.to(x.dtype), vT.to(v0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, gs: torch.Tensor | None, gvT: torch.Tensor | None):  # type: ignore[override]
        saved = ctx.saved_tensors
        shape, xdt, vdt = ctx.meta
        T, cd = shape[0], saved[0].dtype
        gsf = torch.zeros((T, saved[0].shape[1]), dtype=cd) if gs is None else _flat(gs, T, cd)
        gvTf = None if gvT is None else _flat(gvT, None, cd)
        gx = torch.empty(shape, dtype=cd)
        gv0 = torch.empty(shape[1:], dtype=cd) if ctx.needs_input_grad[1] else None
        ctx.engine.lif_backward_saved(saved, gsf, gvTf, gx.view(T, -1), None if gv0 is None else gv0.view(-1), ctx.k)
        return (_out(gx, xdt) if ctx.needs_input_grad[0] else None), _out(gv0, vdt), None, None


class _ALIFSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, a0, k: ALIFConsts, engine: ModuleType):  # type: ignore[override]
        T, cd = x.shape[0], compute_dtype(x.dtype)
        xf, v0f, a0f = _flat(x, T, cd), _flat(v0, None, cd), _flat(a0, None, cd)
        s = torch.empty(x.shape, dtype=cd)
        vT, aT = torch.empty(v0.shape, dtype=cd), torch.empty(a0.shape, dtype=cd)
        ctx.save_for_backward(*engine.alif_forward_train(xf, v0f, a0f, s.view(T, -1), vT.view(-1), aT.view(-1), k))
        ctx.k, ctx.engine, ctx.meta = k, engine, (x.shape, x.dtype, v0.dtype, a0.dtype)
        ctx.set_materialize_grads(False)
        return s.to(x.dtype), vT.to(v0.dtype), aT.to(a0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        saved = ctx.saved_tensors
        shape, xdt, vdt, adt = ctx.meta
        T, cd = shape[0], saved[0].dtype
        gsf = torch.zeros((T, saved[0].shape[1]), dtype=cd) if gs is None else _flat(gs, T, cd)
        gvTf = None if gvT is None else _flat(gvT, None, cd)
        gaTf = None if gaT is None else _flat(gaT, None, cd)
        gx = torch.empty(shape, dtype=cd)
        gv0 = torch.empty(shape[1:], dtype=cd) if ctx.needs_input_grad[1] else None
        ga0 = torch.empty(shape[1:], dtype=cd) if ctx.needs_input_grad[2] else None
        ctx.engine.alif_backward_saved(
            saved, gsf, gvTf, gaTf, gx.view(T, -1),
            None if gv0 is None else gv0.view(-1), None if ga0 is None else ga0.view(-1), ctx.k,
        )
        return (_out(gx, xdt) if ctx.needs_input_grad[0] else None), _out(gv0, vdt), _out(ga0, adt), None, None


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _reference(op: str):
    return get_backend(op, "cpu", name="reference")


@register_backend("lif_sequence", "cpu_fused", device_types=("cpu",), priority=PRIORITY)
def lif_sequence_cpu(x: torch.Tensor, state: LIFState | None, params: LIFParams, dt: float) -> tuple[torch.Tensor, Any]:
    """Whole-sequence LIF on CPU; same contract as the reference ``lif_sequence``."""
    if unsupported(x, state, params) is not None:
        return _reference("lif_sequence")(x, state, params, dt)
    k, engine = lif_consts(params, dt), cpu_engine(params.surrogate)
    v0 = torch.full_like(x[0], params.v_leak) if state is None else state.v
    ref = torch.zeros_like(x[0]) if state is None else state.ref
    if _needs_grad(x, v0):
        s, vT = _LIFSequence.apply(x, v0, k, engine)
        return s, LIFState(vT, ref)
    T, cd = x.shape[0], compute_dtype(x.dtype)
    s, vT = torch.empty(x.shape, dtype=cd), torch.empty(v0.shape, dtype=cd)
    engine.lif_forward(_flat(x, T, cd), _flat(v0, None, cd), s.view(T, -1), None, vT.view(-1), k)
    return s.to(x.dtype), LIFState(vT.to(v0.dtype), ref)


@register_backend("alif_sequence", "cpu_fused", device_types=("cpu",), priority=PRIORITY)
def alif_sequence_cpu(
    x: torch.Tensor, state: ALIFState | None, params: ALIFParams, dt: float
) -> tuple[torch.Tensor, Any]:
    """Whole-sequence adaptive LIF on CPU; same contract as the reference ``alif_sequence``."""
    if unsupported(x, state, params) is not None:
        return _reference("alif_sequence")(x, state, params, dt)
    k, engine = alif_consts(params, dt), cpu_engine(params.surrogate)
    if state is None:
        v0, a0, ref = torch.full_like(x[0], params.v_leak), torch.zeros_like(x[0]), torch.zeros_like(x[0])
    else:
        v0, a0, ref = state.v, state.a, state.ref
    if _needs_grad(x, v0, a0):
        s, vT, aT = _ALIFSequence.apply(x, v0, a0, k, engine)
        return s, ALIFState(vT, aT, ref)
    T, cd = x.shape[0], compute_dtype(x.dtype)
    s = torch.empty(x.shape, dtype=cd)
    vT, aT = torch.empty(v0.shape, dtype=cd), torch.empty(a0.shape, dtype=cd)
    engine.alif_forward(
        _flat(x, T, cd), _flat(v0, None, cd), _flat(a0, None, cd), s.view(T, -1), None, None,
        vT.view(-1), aT.view(-1), k,
    )
    return s.to(x.dtype), ALIFState(vT.to(v0.dtype), aT.to(a0.dtype), ref)
