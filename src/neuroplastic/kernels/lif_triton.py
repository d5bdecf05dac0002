"""Triton kernels for whole-sequence LIF and adaptive LIF on CUDA (backend ``"triton"``).

Registered for ``"lif_sequence"`` / ``"alif_sequence"`` on ``"cuda"`` with priority 20 and an
availability check (Triton importable and CUDA available); without Triton this module still
imports and the registry falls back to the reference on CUDA.

Layout: the input ``[T, B, ...]`` is viewed as ``[T, N]``; each program owns ``BLOCK`` neurons
and walks all ``T`` steps with the membrane (and adaptation) in registers, writing spikes and,
when a gradient is needed, the pre-reset membrane ``h`` (and the adaptation before the step) in
the compute dtype. Backward walks ``T`` in reverse with the same analytic recursion as
:mod:`.lif_cpu` (equations there). Compute dtype: float64 for float64 input, float32 otherwise
(bfloat16/float16 inputs are loaded to float32 and spikes/gradients stored back in the input
dtype), so a bfloat16 run equals the float32 reference on the same (bf16-representable) input.
Constants are passed as a small device tensor in the compute dtype (rounded like torch rounds
the reference's Python scalars), and fp fusion is disabled, so float32 spikes are bit-identical
to the reference loop (whose CUDA ops do not fuse across ops either).

Delegated to the reference: ``t_ref > 0``, surrogates other than the four built-in ones, and the
cases listed in :func:`neuroplastic.kernels._common.unsupported`. Backward is once-differentiable.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from neuroplastic._core.registry import get_backend, register_backend
from neuroplastic.kernels._common import (
    SURROGATE_IDS,
    ALIFConsts,
    LIFConsts,
    alif_consts,
    compute_dtype,
    lif_consts,
    unsupported,
)
from neuroplastic.neurons.alif import ALIFParams, ALIFState
from neuroplastic.neurons.lif import LIFParams, LIFState

try:  # Triton is optional: the module must import (and register) cleanly without it.
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001 - ImportError, or a broken install raising something else
    triton = None
    tl = None

PRIORITY = 20


@functools.lru_cache(maxsize=1)
def triton_available() -> bool:
    """True when Triton imports and a CUDA device is present."""
    return triton is not None and torch.cuda.is_available()


if triton is not None:

    @triton.jit
    def _surrogate(d, alpha, a1, a2, KIND: tl.constexpr):
        # derivatives of neuroplastic.neurons.surrogate; a1 = alpha / 2, a2 = pi / 2 * alpha
        if KIND == 0:  # fast_sigmoid
            q = 1.0 + alpha * tl.abs(d)
            r = 1.0 / (q * q)
        elif KIND == 1:  # arctan
            z = a2 * d
            r = a1 / (1.0 + z * z)
        elif KIND == 2:  # triangle
            r = alpha * tl.maximum(1.0 - alpha * tl.abs(d), 0.0)
        else:  # sigmoid
            e = 1.0 / (1.0 + tl.exp(-(alpha * d)))
            r = alpha * e * (1.0 - e)
        return r

    @triton.jit
    def _lif_fwd_kernel(x_ptr, v0_ptr, s_ptr, h_ptr, vT_ptr, cst_ptr, T, N,
                        RESET: tl.constexpr, SAVE: tl.constexpr, BLOCK: tl.constexpr):
        # cst: vl, beta, c, vth, k, vr
        vl = tl.load(cst_ptr + 0)
        beta = tl.load(cst_ptr + 1)
        c = tl.load(cst_ptr + 2)
        vth = tl.load(cst_ptr + 3)
        k = tl.load(cst_ptr + 4)
        vr = tl.load(cst_ptr + 5)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(vl.dtype)
        xp, sp, hp = x_ptr + offs, s_ptr + offs, h_ptr + offs  # pointers advance by N per step (64-bit)
        for _ in range(T):
            x = tl.load(xp, mask=mask, other=0.0).to(vl.dtype)
            h = (vl + (v - vl) * beta) + c * x
            s = tl.where((h - vth) >= 0.0, 1.0, 0.0).to(vl.dtype)
            tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
            if SAVE:
                tl.store(hp, h, mask=mask)
            xp += N
            sp += N
            hp += N
            if RESET == 0:
                v = h - s * k
            elif RESET == 1:
                v = h * (1.0 - s) + s * vr
            else:
                v = h
        tl.store(vT_ptr + offs, v, mask=mask)

    @triton.jit
    def _lif_bwd_kernel(gs_ptr, h_ptr, gvT_ptr, gx_ptr, gv0_ptr, cst_ptr, T, N, LAST,
                        RESET: tl.constexpr, DETACH: tl.constexpr, KIND: tl.constexpr,
                        HAS_GVT: tl.constexpr, HAS_GV0: tl.constexpr, BLOCK: tl.constexpr):
        # cst: vl, beta, c, vth, k, vr, alpha, alpha / 2, pi / 2 * alpha
        beta = tl.load(cst_ptr + 1)
        c = tl.load(cst_ptr + 2)
        vth = tl.load(cst_ptr + 3)
        k = tl.load(cst_ptr + 4)
        vr = tl.load(cst_ptr + 5)
        alpha = tl.load(cst_ptr + 6)
        a1 = tl.load(cst_ptr + 7)
        a2 = tl.load(cst_ptr + 8)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        if HAS_GVT:
            gv = tl.load(gvT_ptr + offs, mask=mask, other=0.0).to(beta.dtype)
        else:
            gv = tl.zeros([BLOCK], dtype=beta.dtype)
        # walk t = T-1 .. 0; LAST = (T - 1) * N is computed on the host (may exceed int32)
        gsp, hp, gxp = gs_ptr + LAST + offs, h_ptr + LAST + offs, gx_ptr + LAST + offs
        for _ in range(T):
            h = tl.load(hp, mask=mask, other=0.0)
            g = tl.load(gsp, mask=mask, other=0.0).to(beta.dtype)
            d = h - vth
            direct = gv
            if RESET == 0:
                if not DETACH:
                    g = g + gv * (-k)
            elif RESET == 1:
                if not DETACH:
                    g = g + gv * (vr - h)
                direct = gv * (1.0 - tl.where(d >= 0.0, 1.0, 0.0).to(beta.dtype))
            gh = g * _surrogate(d, alpha, a1, a2, KIND) + direct
            tl.store(gxp, (gh * c).to(gx_ptr.dtype.element_ty), mask=mask)
            gv = gh * beta
            gsp -= N
            hp -= N
            gxp -= N
        if HAS_GV0:
            tl.store(gv0_ptr + offs, gv, mask=mask)

    @triton.jit
    def _alif_fwd_kernel(x_ptr, v0_ptr, a0_ptr, s_ptr, h_ptr, ah_ptr, vT_ptr, aT_ptr, cst_ptr, T, N,
                         RESET: tl.constexpr, SAVE: tl.constexpr, BLOCK: tl.constexpr):
        # cst: vl, beta, c, vth, b, rho, vr
        vl = tl.load(cst_ptr + 0)
        beta = tl.load(cst_ptr + 1)
        c = tl.load(cst_ptr + 2)
        vth = tl.load(cst_ptr + 3)
        b = tl.load(cst_ptr + 4)
        rho = tl.load(cst_ptr + 5)
        vr = tl.load(cst_ptr + 6)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(vl.dtype)
        a = tl.load(a0_ptr + offs, mask=mask, other=0.0).to(vl.dtype)
        xp, sp, hp, ahp = x_ptr + offs, s_ptr + offs, h_ptr + offs, ah_ptr + offs
        for _ in range(T):
            x = tl.load(xp, mask=mask, other=0.0).to(vl.dtype)
            h = (vl + (v - vl) * beta) + c * x
            th = b * a + vth
            s = tl.where((h - th) >= 0.0, 1.0, 0.0).to(vl.dtype)
            tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
            if SAVE:
                tl.store(hp, h, mask=mask)
                tl.store(ahp, a, mask=mask)
            xp += N
            sp += N
            hp += N
            ahp += N
            if RESET == 0:
                v = h - s * (th - vr)
            elif RESET == 1:
                v = h * (1.0 - s) + s * vr
            else:
                v = h
            a = a * rho + s
        tl.store(vT_ptr + offs, v, mask=mask)
        tl.store(aT_ptr + offs, a, mask=mask)

    @triton.jit
    def _alif_bwd_kernel(gs_ptr, h_ptr, ah_ptr, gvT_ptr, gaT_ptr, gx_ptr, gv0_ptr, ga0_ptr, cst_ptr, T, N, LAST,
                         RESET: tl.constexpr, DETACH: tl.constexpr, KIND: tl.constexpr,
                         HAS_GVT: tl.constexpr, HAS_GAT: tl.constexpr, HAS_GV0: tl.constexpr,
                         HAS_GA0: tl.constexpr, BLOCK: tl.constexpr):
        # cst: vl, beta, c, vth, b, rho, vr, alpha, alpha / 2, pi / 2 * alpha
        beta = tl.load(cst_ptr + 1)
        c = tl.load(cst_ptr + 2)
        vth = tl.load(cst_ptr + 3)
        b = tl.load(cst_ptr + 4)
        rho = tl.load(cst_ptr + 5)
        vr = tl.load(cst_ptr + 6)
        alpha = tl.load(cst_ptr + 7)
        a1 = tl.load(cst_ptr + 8)
        a2 = tl.load(cst_ptr + 9)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        if HAS_GVT:
            gv = tl.load(gvT_ptr + offs, mask=mask, other=0.0).to(beta.dtype)
        else:
            gv = tl.zeros([BLOCK], dtype=beta.dtype)
        if HAS_GAT:
            ga = tl.load(gaT_ptr + offs, mask=mask, other=0.0).to(beta.dtype)
        else:
            ga = tl.zeros([BLOCK], dtype=beta.dtype)
        gsp, hp, ahp, gxp = gs_ptr + LAST + offs, h_ptr + LAST + offs, ah_ptr + LAST + offs, gx_ptr + LAST + offs
        for _ in range(T):
            h = tl.load(hp, mask=mask, other=0.0)
            a = tl.load(ahp, mask=mask, other=0.0)
            th = b * a + vth
            d = h - th
            s = tl.where(d >= 0.0, 1.0, 0.0).to(beta.dtype)
            g = tl.load(gsp, mask=mask, other=0.0).to(beta.dtype) + ga
            direct = gv
            gth = tl.zeros([BLOCK], dtype=beta.dtype)
            if RESET == 0:
                if not DETACH:
                    g = g + gv * (-(th - vr))
                gth = -(gv * s)
            elif RESET == 1:
                if not DETACH:
                    g = g + gv * (vr - h)
                direct = gv * (1.0 - s)
            gd = g * _surrogate(d, alpha, a1, a2, KIND)
            gh = gd + direct
            gth = gth - gd
            tl.store(gxp, (gh * c).to(gx_ptr.dtype.element_ty), mask=mask)
            gv = gh * beta
            ga = ga * rho + gth * b
            gsp -= N
            hp -= N
            ahp -= N
            gxp -= N
        if HAS_GV0:
            tl.store(gv0_ptr + offs, gv, mask=mask)
        if HAS_GA0:
            tl.store(ga0_ptr + offs, ga, mask=mask)


_LAUNCH = {"num_warps": 4, "enable_fp_fusion": False}


def _block(n: int) -> int:
    return 1024 if n >= (1 << 18) else 256


def _grid(n: int, block: int) -> tuple[int]:
    return ((n + block - 1) // block,)


@functools.lru_cache(maxsize=64)
def _consts_tensor(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def _cst(k: LIFConsts | ALIFConsts, device: torch.device, dtype: torch.dtype, grad: bool) -> torch.Tensor:
    vals = tuple(float(v) for v in k[: len(k) - 3])  # drop reset, detach, surrogate
    if grad:
        a = float(k.surrogate.alpha)
        vals += (a, a / 2.0, math.pi / 2.0 * a)
    return _consts_tensor(vals, device, dtype)


def _flat(t: torch.Tensor, T: int | None) -> torch.Tensor:
    t = t.contiguous()
    return t.view(T, -1) if T is not None else t.view(-1)


def _lif_forward(x: torch.Tensor, v0: torch.Tensor, k: LIFConsts, save: bool):
    T, cd = x.shape[0], compute_dtype(x.dtype)
    xf, v0f = _flat(x, T), _flat(v0, None)
    n = xf.shape[1]
    s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    h = torch.empty((T, n), dtype=cd, device=x.device) if save else None
    vT = torch.empty(v0.shape, dtype=cd, device=x.device)
    block = _block(n)
    _lif_fwd_kernel[_grid(n, block)](
        xf, v0f, s, h if save else s, vT, _cst(k, x.device, cd, False), T, n,
        RESET=k.reset, SAVE=save, BLOCK=block, **_LAUNCH,
    )
    return s, h, vT


def _alif_forward(x, v0, a0, k: ALIFConsts, save: bool):
    T, cd = x.shape[0], compute_dtype(x.dtype)
    xf, v0f, a0f = _flat(x, T), _flat(v0, None), _flat(a0, None)
    n = xf.shape[1]
    s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    h = torch.empty((T, n), dtype=cd, device=x.device) if save else None
    ah = torch.empty_like(h) if save else None
    vT = torch.empty(v0.shape, dtype=cd, device=x.device)
    aT = torch.empty(a0.shape, dtype=cd, device=x.device)
    block = _block(n)
    _alif_fwd_kernel[_grid(n, block)](
        xf, v0f, a0f, s, h if save else s, ah if save else s, vT, aT, _cst(k, x.device, cd, False), T, n,
        RESET=k.reset, SAVE=save, BLOCK=block, **_LAUNCH,
    )
    return s, h, ah, vT, aT


class _LIFTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, k: LIFConsts):  # type: ignore[override]
        s, h, vT = _lif_forward(x, v0, k, save=True)
        ctx.save_for_backward(h)
        ctx.k, ctx.meta = k, (x.shape, x.dtype, v0.dtype)
        ctx.set_materialize_grads(False)
        return s, vT.to(v0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, gs, gvT):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        shape, xdt, vdt = ctx.meta
        T, n = h.shape
        gsf = torch.zeros_like(h) if gs is None else _flat(gs, T)
        gx = torch.empty(shape, dtype=xdt, device=h.device)
        gv0 = torch.empty(n, dtype=h.dtype, device=h.device) if ctx.needs_input_grad[1] else None
        block = _block(n)
        _lif_bwd_kernel[_grid(n, block)](
            gsf, h, gx if gvT is None else _flat(gvT, None), gx, gx if gv0 is None else gv0,
            _cst(ctx.k, h.device, h.dtype, True), T, n, (T - 1) * n,
            RESET=ctx.k.reset, DETACH=ctx.k.detach, KIND=SURROGATE_IDS[ctx.k.surrogate.name],
            HAS_GVT=gvT is not None, HAS_GV0=gv0 is not None, BLOCK=block, **_LAUNCH,
        )
        gv0 = None if gv0 is None else gv0.view(shape[1:]).to(vdt)
        return (gx if ctx.needs_input_grad[0] else None), gv0, None


class _ALIFTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, a0, k: ALIFConsts):  # type: ignore[override]
        s, h, ah, vT, aT = _alif_forward(x, v0, a0, k, save=True)
        ctx.save_for_backward(h, ah)
        ctx.k, ctx.meta = k, (x.shape, x.dtype, v0.dtype, a0.dtype)
        ctx.set_materialize_grads(False)
        return s, vT.to(v0.dtype), aT.to(a0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        h, ah = ctx.saved_tensors
        shape, xdt, vdt, adt = ctx.meta
        T, n = h.shape
        gsf = torch.zeros_like(h) if gs is None else _flat(gs, T)
        gx = torch.empty(shape, dtype=xdt, device=h.device)
        gv0 = torch.empty(n, dtype=h.dtype, device=h.device) if ctx.needs_input_grad[1] else None
        ga0 = torch.empty(n, dtype=h.dtype, device=h.device) if ctx.needs_input_grad[2] else None
        block = _block(n)
        _alif_bwd_kernel[_grid(n, block)](
            gsf, h, ah, gx if gvT is None else _flat(gvT, None), gx if gaT is None else _flat(gaT, None), gx,
            gx if gv0 is None else gv0, gx if ga0 is None else ga0, _cst(ctx.k, h.device, h.dtype, True), T, n,
            (T - 1) * n, RESET=ctx.k.reset, DETACH=ctx.k.detach, KIND=SURROGATE_IDS[ctx.k.surrogate.name],
            HAS_GVT=gvT is not None, HAS_GAT=gaT is not None, HAS_GV0=gv0 is not None, HAS_GA0=ga0 is not None,
            BLOCK=block, **_LAUNCH,
        )
        gv0 = None if gv0 is None else gv0.view(shape[1:]).to(vdt)
        ga0 = None if ga0 is None else ga0.view(shape[1:]).to(adt)
        return (gx if ctx.needs_input_grad[0] else None), gv0, ga0, None


def _delegate(x: torch.Tensor, state: Any, params: Any) -> bool:
    return unsupported(x, state, params) is not None or params.surrogate.name not in SURROGATE_IDS or not x.is_cuda


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def run_lif(x: torch.Tensor, state: LIFState | None, params: LIFParams, dt: float):
    """The Triton LIF sequence without the support checks (``gpu_check.py --interpret`` calls it on CPU)."""
    k = lif_consts(params, dt)
    v0 = torch.full_like(x[0], params.v_leak) if state is None else state.v
    ref = torch.zeros_like(x[0]) if state is None else state.ref
    if _needs_grad(x, v0):
        s, vT = _LIFTriton.apply(x, v0, k)
        return s, LIFState(vT, ref)
    s, _, vT = _lif_forward(x, v0, k, save=False)
    return s, LIFState(vT.to(v0.dtype), ref)


def run_alif(x: torch.Tensor, state: ALIFState | None, params: ALIFParams, dt: float):
    """The Triton adaptive-LIF sequence without the support checks."""
    k = alif_consts(params, dt)
    if state is None:
        v0, a0, ref = torch.full_like(x[0], params.v_leak), torch.zeros_like(x[0]), torch.zeros_like(x[0])
    else:
        v0, a0, ref = state.v, state.a, state.ref
    if _needs_grad(x, v0, a0):
        s, vT, aT = _ALIFTriton.apply(x, v0, a0, k)
        return s, ALIFState(vT, aT, ref)
    s, _, _, vT, aT = _alif_forward(x, v0, a0, k, save=False)
    return s, ALIFState(vT.to(v0.dtype), aT.to(a0.dtype), ref)


@register_backend("lif_sequence", "triton", device_types=("cuda",), priority=PRIORITY, available=triton_available)
def lif_sequence_triton(x: torch.Tensor, state: LIFState | None, params: LIFParams, dt: float):
    """Whole-sequence LIF on CUDA with Triton; same contract as the reference ``lif_sequence``."""
    if _delegate(x, state, params):
        return get_backend("lif_sequence", x.device, name="reference")(x, state, params, dt)
    with torch.cuda.device(x.device):
        return run_lif(x, state, params, dt)


@register_backend("alif_sequence", "triton", device_types=("cuda",), priority=PRIORITY, available=triton_available)
def alif_sequence_triton(x: torch.Tensor, state: ALIFState | None, params: ALIFParams, dt: float):
    """Whole-sequence adaptive LIF on CUDA with Triton; same contract as the reference."""
    if _delegate(x, state, params):
        return get_backend("alif_sequence", x.device, name="reference")(x, state, params, dt)
    with torch.cuda.device(x.device):
        return run_alif(x, state, params, dt)
