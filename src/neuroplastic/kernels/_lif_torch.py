"""Pure-torch engine of the fused CPU LIF / adaptive-LIF kernels (fallback when no C compiler).

Same interface and arithmetic as :mod:`._lif_c`: a Python loop over ``T`` with preallocated
buffers and in-place ops, run without autograd; the analytic backward replaces the reference's
per-step autograd graph. Any surrogate works here (it calls ``Surrogate.derivative``).
"""
from __future__ import annotations

import torch

from neuroplastic.kernels._common import ALIFConsts, LIFConsts


def _reset_into(v, h, s, th_minus_vr, k_reset: int, vr: float, tmp) -> None:
    """``v <- reset(h, s)`` with the reference's operation order (``tmp`` is scratch)."""
    if k_reset == 0:  # h - s * (v_th - v_reset)
        torch.mul(s, th_minus_vr, out=tmp)
        torch.sub(h, tmp, out=v)
    elif k_reset == 1:  # h * (1 - s) + s * v_reset
        torch.neg(s, out=tmp)
        tmp.add_(1.0)
        torch.mul(h, tmp, out=v)
        torch.mul(s, vr, out=tmp)
        v.add_(tmp)
    else:
        v.copy_(h)


def _integrate_into(h, v, x, k, tmp) -> None:
    """``h <- (v_leak + (v - v_leak) beta) + c x`` (the reference's order)."""
    torch.sub(v, k.vl, out=tmp)
    tmp.mul_(k.beta)
    tmp.add_(k.vl)
    torch.mul(x, k.c, out=h)
    h.add_(tmp)


@torch.no_grad()
def lif_forward(x, v0, s, h, vT, k: LIFConsts) -> None:
    v = vT
    v.copy_(v0)
    tmp = torch.empty_like(v)
    scratch = torch.empty_like(v) if h is None else None
    for t in range(x.shape[0]):
        ht = scratch if h is None else h[t]
        _integrate_into(ht, v, x[t], k, tmp)
        torch.sub(ht, k.vth, out=tmp)
        torch.ge(tmp, 0.0, out=s[t])
        _reset_into(v, ht, s[t], k.k, k.reset, k.vr, tmp)


def lif_forward_train(x, v0, s, vT, k: LIFConsts) -> tuple[torch.Tensor, ...]:
    """Forward that keeps the pre-reset membranes ``h`` for :func:`lif_backward_saved`."""
    h = torch.empty_like(x)
    lif_forward(x, v0, s, h, vT, k)
    return (h,)


def lif_backward_saved(saved, gs, gvT, gx, gv0, k: LIFConsts) -> None:
    lif_backward(gs, saved[0], gvT, gx, gv0, k)


@torch.no_grad()
def lif_backward(gs, h, gvT, gx, gv0, k: LIFConsts) -> None:
    gv = torch.zeros_like(h[0]) if gvT is None else gvT.clone()
    for t in range(h.shape[0] - 1, -1, -1):
        d = h[t] - k.vth
        g = gs[t]
        direct = gv
        if k.reset == 0:
            if not k.detach:
                g = g + gv * (-k.k)
        elif k.reset == 1:
            if not k.detach:
                g = g + gv * (k.vr - h[t])
            direct = gv * (1.0 - (d >= 0).to(d.dtype))
        gh = g * k.surrogate.derivative(d) + direct
        torch.mul(gh, k.c, out=gx[t])
        gv = gh * k.beta
    if gv0 is not None:
        gv0.copy_(gv)


@torch.no_grad()
def alif_forward(x, v0, a0, s, h, ah, vT, aT, k: ALIFConsts) -> None:
    v, a = vT, aT
    v.copy_(v0)
    a.copy_(a0)
    tmp, th = torch.empty_like(v), torch.empty_like(v)
    scratch = torch.empty_like(v) if h is None else None
    for t in range(x.shape[0]):
        ht = scratch if h is None else h[t]
        if ah is not None:
            ah[t].copy_(a)
        _integrate_into(ht, v, x[t], k, tmp)
        torch.mul(a, k.b, out=th)
        th.add_(k.vth)
        torch.sub(ht, th, out=tmp)
        torch.ge(tmp, 0.0, out=s[t])
        if k.reset == 0:
            th.sub_(k.vr)
        _reset_into(v, ht, s[t], th, k.reset, k.vr, tmp)
        a.mul_(k.rho)
        a.add_(s[t])


def alif_forward_train(x, v0, a0, s, vT, aT, k: ALIFConsts) -> tuple[torch.Tensor, ...]:
    """Forward keeping ``(h, ah)`` for :func:`alif_backward_saved`."""
    h, ah = torch.empty_like(x), torch.empty_like(x)
    alif_forward(x, v0, a0, s, h, ah, vT, aT, k)
    return h, ah


def alif_backward_saved(saved, gs, gvT, gaT, gx, gv0, ga0, k: ALIFConsts) -> None:
    alif_backward(gs, saved[0], saved[1], gvT, gaT, gx, gv0, ga0, k)


@torch.no_grad()
def alif_backward(gs, h, ah, gvT, gaT, gx, gv0, ga0, k: ALIFConsts) -> None:
    gv = torch.zeros_like(h[0]) if gvT is None else gvT.clone()
    ga = torch.zeros_like(h[0]) if gaT is None else gaT.clone()
    for t in range(h.shape[0] - 1, -1, -1):
        th = ah[t] * k.b + k.vth
        d = h[t] - th
        s = (d >= 0).to(d.dtype)
        g = gs[t] + ga
        direct = gv
        gth = None
        if k.reset == 0:
            if not k.detach:
                g = g + gv * (-(th - k.vr))
            gth = -(gv * s)
        elif k.reset == 1:
            if not k.detach:
                g = g + gv * (k.vr - h[t])
            direct = gv * (1.0 - s)
        gd = g * k.surrogate.derivative(d)
        gh = gd + direct
        gth = -gd if gth is None else gth - gd
        torch.mul(gh, k.c, out=gx[t])
        gv = gh * k.beta
        ga = ga * k.rho + gth * k.b
    if gv0 is not None:
        gv0.copy_(gv)
    if ga0 is not None:
        ga0.copy_(ga)
