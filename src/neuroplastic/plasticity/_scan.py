"""Vectorised scans over time for traces: the whole ``[T, ...]`` sequence without a Python loop per step.

* :func:`exp_scan`: the linear recurrence :math:`y_t = a\\,y_{t-1} + u_t` (all-to-all traces,
  low-pass filters), computed in chunks of ``C`` steps with one ``[C, C]`` decay-matrix GEMM per
  chunk, so it stays exact in float32 (every factor is a power of ``a <= 1``).
* :func:`nearest_scan`: the reset recurrence :math:`y_t = 1` if :math:`s_t > 0` else
  :math:`a\\,y_{t-1}` (nearest-spike traces), computed from the index of the latest spike.
"""
from __future__ import annotations

import torch

CHUNK = 64


def _decay_matrix(n: int, a: float, like: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(n, device=like.device)
    diff = (idx[:, None] - idx[None, :]).to(like.dtype)
    return torch.where(diff >= 0, torch.full_like(diff, a).pow(diff.clamp_min(0)), torch.zeros_like(diff))


def exp_scan(y0: torch.Tensor, u: torch.Tensor, a: float, *, chunk: int = CHUNK) -> torch.Tensor:
    """All states ``y_1 .. y_T`` of ``y_t = a * y_{t-1} + u_t`` from ``y0`` ``[...]`` and ``u`` ``[T, ...]``."""
    t_len = u.shape[0]
    flat = u.reshape(t_len, -1)
    prev = y0.reshape(-1)
    out = torch.empty_like(flat)
    c = min(chunk, t_len)
    dmat = _decay_matrix(c, a, flat)
    powers = torch.full((c,), a, dtype=flat.dtype, device=flat.device).pow(torch.arange(1, c + 1, device=flat.device))
    for start in range(0, t_len, c):
        stop = min(start + c, t_len)
        n = stop - start
        block = dmat[:n, :n] @ flat[start:stop]
        block.add_(powers[:n, None] * prev[None, :])
        out[start:stop] = block
        prev = block[-1]
    return out.reshape(u.shape)


def nearest_scan(y0: torch.Tensor, s: torch.Tensor, a: float) -> torch.Tensor:
    """All states of ``y_t = 1 if s_t > 0 else a * y_{t-1}`` from ``y0`` ``[...]`` and spikes ``s`` ``[T, ...]``."""
    t_len = s.shape[0]
    idx = torch.arange(t_len, device=s.device).reshape(t_len, *([1] * (s.ndim - 1)))
    last = torch.where(s > 0, idx, torch.full_like(idx, -1)).expand(s.shape).cummax(0).values
    base = torch.full((), a, dtype=s.dtype, device=s.device)
    since_spike = base.pow((idx - last).to(s.dtype))
    from_start = y0.unsqueeze(0) * base.pow((idx + 1).to(s.dtype))
    return torch.where(last >= 0, since_spike, from_start)


def trace_scan(y0: torch.Tensor, s: torch.Tensor, a: float, mode: str) -> torch.Tensor:
    """Sequence version of :func:`~neuroplastic.plasticity.stdp.trace_step`."""
    return exp_scan(y0, s, a) if mode == "all" else nearest_scan(y0, s, a)


def previous(y0: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """``[y_0, y_1, ..., y_{T-1}]``: each step's state before the step."""
    return torch.cat([y0.unsqueeze(0), ys[:-1]], 0)
