"""Constants and support checks shared by the fused LIF / adaptive-LIF kernels (CPU and Triton).

The constants are the Python floats the reference step functions compute from their parameters
(``beta = exp(-dt / tau_mem)``, ``c = (1 - beta) r`` ...), so that each kernel rounds them to the
tensor dtype exactly as torch rounds the reference's scalar operands.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from neuroplastic.neurons.alif import ALIFParams
from neuroplastic.neurons.lif import RESETS, LIFParams
from neuroplastic.neurons.surrogate import Surrogate

RESET_IDS = {name: i for i, name in enumerate(RESETS)}  # subtract 0, zero 1, none 2
SURROGATE_IDS = {"fast_sigmoid": 0, "arctan": 1, "triangle": 2, "sigmoid": 3}
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

assert RESET_IDS == {"subtract": 0, "zero": 1, "none": 2}, "kernels assume this reset numbering"


class LIFConsts(NamedTuple):
    """Per-call constants of the LIF kernels (derived from :class:`LIFParams` and ``dt``)."""

    vl: float
    beta: float
    c: float
    vth: float
    k: float
    vr: float
    reset: int
    detach: bool
    surrogate: Surrogate


class ALIFConsts(NamedTuple):
    """Per-call constants of the adaptive-LIF kernels (derived from :class:`ALIFParams` and ``dt``)."""

    vl: float
    beta: float
    c: float
    vth: float
    b: float
    rho: float
    vr: float
    reset: int
    detach: bool
    surrogate: Surrogate


def lif_consts(p: LIFParams, dt: float) -> LIFConsts:
    beta = p.decay(dt)
    return LIFConsts(
        float(p.v_leak), beta, (1.0 - beta) * p.r, float(p.v_th), p.v_th - p.v_reset, float(p.v_reset),
        RESET_IDS[p.reset], bool(p.detach_reset), p.surrogate,
    )


def alif_consts(p: ALIFParams, dt: float) -> ALIFConsts:
    beta = math.exp(-dt / p.tau_mem)
    return ALIFConsts(
        float(p.v_leak), beta, (1.0 - beta) * p.r, float(p.v_th), float(p.beta), math.exp(-dt / p.tau_adapt),
        float(p.v_reset), RESET_IDS[p.reset], bool(p.detach_reset), p.surrogate,
    )


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Kernels compute in float64 for float64 input and in float32 otherwise (half types included)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def unsupported(x: torch.Tensor, state: Any, params: Any) -> str | None:
    """Why a fused kernel cannot run this call (the caller then delegates to the reference), or None.

    Unsupported: refractoriness (``t_ref > 0``), empty or non-floating input, and a state whose
    tensors differ from one input step in shape, dtype or device (the reference broadcasts or
    promotes those; the kernels do not).
    """
    if getattr(params, "t_ref", 0.0) > 0:
        return "t_ref > 0 (refractoriness is only in the reference)"
    if x.dtype not in FLOAT_DTYPES:
        return f"dtype {x.dtype}"
    if x.ndim < 2 or x.numel() == 0:
        return "empty input"
    if state is not None:
        for t in state:
            if not isinstance(t, torch.Tensor) or t.shape != x.shape[1:] or t.dtype != x.dtype or t.device != x.device:
                return "state does not match one input step in shape, dtype or device"
    return None
