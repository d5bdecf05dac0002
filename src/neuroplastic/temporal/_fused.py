r"""Fused CPU path of one recurrent ALIF layer: TorchScript forward and hand-written BPTT.

Same equations, outputs and gradients as :func:`neuroplastic.temporal.rsnn.alif_recurrent_reference`
(checked by ``tests/temporal/test_fused.py``). The forward loop runs without autograd and saves
the membrane, adaptation, current and threshold distance of every step; the backward loop runs
the adjoint equations step by step (derivation in the comments of ``_backward``) and forms the
recurrent-weight gradient in one matrix product at the end.
"""
from __future__ import annotations

import warnings
from typing import Optional

import torch

from neuroplastic.neurons.surrogate import Surrogate
from neuroplastic.temporal.alif import ALIFTensors

__all__ = ["alif_recurrent_fused"]

def _script(fn):
    """TorchScript-compile ``fn`` (its deprecation warning in torch >= 2.10 is silenced: the
    scripted loops are what makes this path fast on CPU, torch.compile is not available everywhere)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(fn)


_CODES = {"fast_sigmoid": 0, "arctan": 1, "triangle": 2, "sigmoid": 3}


@_script
def _dsurrogate(x: torch.Tensor, code: int, k: float) -> torch.Tensor:
    if code == 0:
        return 1.0 / (1.0 + k * x.abs()) ** 2
    if code == 1:
        return (k / 2.0) / (1.0 + (1.5707963267948966 * k * x) ** 2)
    if code == 2:
        return k * torch.clamp(1.0 - k * x.abs(), min=0.0)
    s = torch.sigmoid(k * x)
    return k * s * (1.0 - s)


@_script
def _forward(i_ff: torch.Tensor, w: Optional[torch.Tensor], alpha: torch.Tensor, rho: torch.Tensor,
             v_th: torch.Tensor, beta: torch.Tensor, mask: torch.Tensor, mode: int):
    T, B, H = i_ff.shape[0], i_ff.shape[1], i_ff.shape[2]
    v = i_ff.new_zeros(B, H)
    a = i_ff.new_zeros(B, H)
    s = i_ff.new_zeros(B, H)
    out = torch.empty_like(i_ff)
    vmi = torch.empty_like(i_ff)   # v_t - I_t (for the gradient in alpha)
    as_ = torch.empty_like(i_ff)   # a_t
    xs = torch.empty_like(i_ff)    # v_int - theta
    one_m_alpha = 1.0 - alpha
    wt = w.t() if w is not None else w
    for t in range(T):
        if wt is None:
            i = i_ff[t]
        else:
            i = torch.addmm(i_ff[t], s, wt)
        v_int = alpha * v + one_m_alpha * i
        theta = v_th + beta * a
        x = v_int - theta
        sr = (x >= 0).to(i.dtype)
        torch.sub(v, i, out=vmi[t])
        as_[t] = a
        xs[t] = x
        if mode == 2:
            m = mask[t].unsqueeze(-1)
            v = torch.where(m, v_int - sr * theta, v)
            a = torch.where(m, rho * a + sr, a)
            s = sr * m.to(i.dtype)
        elif mode == 1:
            v = v_int - sr * theta
            a = rho * a + sr
            s = sr * mask[t].unsqueeze(-1).to(i.dtype)
        else:
            v = v_int - sr * theta
            a = rho * a + sr
            s = sr
        out[t] = s
    return out, vmi, as_, xs


@_script
def _backward(grad_out: torch.Tensor, out: torch.Tensor, vmi: torch.Tensor, as_: torch.Tensor,
              xs: torch.Tensor, w: Optional[torch.Tensor], alpha: torch.Tensor, rho: torch.Tensor, v_th: torch.Tensor,
              beta: torch.Tensor, mask: torch.Tensor, mode: int, code: int, k: float):
    T, B, H = grad_out.shape[0], grad_out.shape[1], grad_out.shape[2]
    gv = grad_out.new_zeros(B, H)       # dL/dv_{t+1}
    ga = grad_out.new_zeros(B, H)       # dL/da_{t+1}
    g_i_next = grad_out.new_zeros(B, H)  # dL/dI_{t+1}
    g_i = torch.empty_like(grad_out)
    g_vint_all = torch.empty_like(grad_out)
    g_theta_all = torch.empty_like(grad_out)
    mga_all = torch.empty_like(grad_out)
    one_m_alpha = 1.0 - alpha
    dsg = _dsurrogate(xs, code, k)
    srs = (xs >= 0).to(xs.dtype)
    thetas = v_th + beta * as_
    mf = mask.unsqueeze(-1).to(grad_out.dtype)
    for tt in range(T):
        t = T - 1 - tt
        g_s = grad_out[t]
        if w is not None:
            g_s = torch.addmm(g_s, g_i_next, w)          # s_t enters I_{t+1} = i_ff + s_t W^T
        # s_t = m sr; v_{t+1} = m (v_int - sr theta) + (1-m) v_t; a_{t+1} = m (rho a_t + sr) + (1-m) a_t
        if mode == 2:
            m = mf[t]
            mgv = m * gv
            mga = m * ga
            g_sr = m * g_s - mgv * thetas[t] + mga
        elif mode == 1:
            mgv = gv
            mga = ga
            g_sr = mf[t] * g_s - gv * thetas[t] + ga
        else:
            mgv = gv
            mga = ga
            g_sr = g_s - gv * thetas[t] + ga
        gx = g_sr * dsg[t]
        g_vint = mgv + gx
        g_theta = -gx - mgv * srs[t]
        gi = g_vint * one_m_alpha
        if mode == 2:
            m = mf[t]
            gv = g_vint * alpha + (1.0 - m) * gv
            ga = g_theta * beta + mga * rho + (1.0 - m) * ga
        else:
            gv = g_vint * alpha
            ga = g_theta * beta + ga * rho
        g_i[t] = gi
        g_vint_all[t] = g_vint
        g_theta_all[t] = g_theta
        mga_all[t] = mga
        g_i_next = gi
    g_alpha = (g_vint_all * vmi).sum((0, 1))
    g_rho = (mga_all * as_).sum((0, 1))
    g_th = g_theta_all.sum((0, 1))
    g_beta = (g_theta_all * as_).sum((0, 1))
    g_w: Optional[torch.Tensor] = None
    if w is not None:
        s_prev = torch.cat([out.new_zeros(1, B, H), out[:-1]], 0)
        g_w = g_i.reshape(T * B, H).t().mm(s_prev.reshape(T * B, H))
    return g_i, g_w, g_alpha, g_rho, g_th, g_beta


class _FusedALIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i_ff, w, alpha, rho, v_th, beta, mask, code, k):  # type: ignore[override]
        if bool(mask.all()):
            mode = 0
        elif bool((mask[1:] <= mask[:-1]).all()):
            # trailing padding: the state after a sample's end reaches no real output, so only
            # the spikes need masking (outputs and gradients equal the state-freezing reference)
            mode = 1
        else:
            mode = 2
        out, vmi, as_, xs = _forward(i_ff, w, alpha, rho, v_th, beta, mask, mode)
        ctx.save_for_backward(out, vmi, as_, xs, w, alpha, rho, v_th, beta, mask)
        ctx.code, ctx.k, ctx.has_w, ctx.mode = code, k, w is not None, mode
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        out, vmi, as_, xs, w, alpha, rho, v_th, beta, mask = ctx.saved_tensors
        g_i, g_w, ga, gr, gt, gb = _backward(grad_out.contiguous(), out, vmi, as_, xs, w if ctx.has_w else None,
                                             alpha, rho, v_th, beta, mask, ctx.mode, ctx.code, ctx.k)
        return g_i, g_w, ga, gr, gt, gb, None, None, None


def alif_recurrent_fused(i_ff: torch.Tensor, rec_weight: torch.Tensor | None, p: ALIFTensors,
                         mask: torch.Tensor | None, surrogate: Surrogate) -> torch.Tensor:
    """Spikes ``[T, B, H]`` of one recurrent ALIF layer (fused; see the module docstring)."""
    if surrogate.name not in _CODES:
        raise ValueError(f"the fused path knows surrogates {sorted(_CODES)}, not {surrogate.name!r}: "
                         "use backend='reference'")
    H = i_ff.shape[-1]
    m = torch.ones(i_ff.shape[:2], dtype=torch.bool, device=i_ff.device) if mask is None else mask.to(torch.bool)
    vec = [t.expand(H).contiguous() if t.ndim == 0 else t for t in p]
    return _FusedALIF.apply(i_ff.contiguous(), rec_weight, *vec, m, _CODES[surrogate.name], float(surrogate.alpha))
