r"""Adaptive LIF neuron: LIF with a spike-triggered, decaying threshold (Bellec et al. 2018).

.. math::
    v_{t+1} &= v_{leak} + (v_t - v_{leak}) e^{-dt/\tau_m} + (1 - e^{-dt/\tau_m}) R I_t \\
    \theta_t &= v_{th} + \beta\, a_t, \qquad S_t = \Theta(v_{t+1} - \theta_t) \\
    a_{t+1} &= a_t\, e^{-dt/\tau_a} + S_t

The adaptation variable ``a`` counts recent spikes with time constant ``tau_adapt``; each spike
raises the threshold by ``beta``. Reset and refractoriness are as in :mod:`.lif`; a subtractive
reset subtracts the current effective threshold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.neurons._base import NeuronCell, NeuronSequence, register_reference
from neuroplastic.neurons.lif import apply_reset, validate_lif_fields
from neuroplastic.neurons.surrogate import SurrogateLike


@dataclass(frozen=True)
class ALIFParams:
    """Parameters of the adaptive LIF neuron.

    Attributes:
        tau_mem: membrane time constant in seconds.
        tau_adapt: threshold-adaptation time constant in seconds.
        beta: threshold increase per unit of adaptation (>= 0).
        v_th, v_reset, v_leak, r, t_ref, reset, surrogate, detach_reset: as in LIF.
    """

    tau_mem: float = 20e-3
    tau_adapt: float = 200e-3
    beta: float = 0.2
    v_th: float = 1.0
    v_reset: float = 0.0
    v_leak: float = 0.0
    r: float = 1.0
    t_ref: float = 0.0
    reset: str = "subtract"
    surrogate: SurrogateLike = field(default=None)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        validate_lif_fields(self)
        check_positive("tau_adapt", self.tau_adapt)
        check_positive("beta", self.beta, allow_zero=True)


class ALIFState(NamedTuple):
    """Adaptive LIF state: membrane ``v``, adaptation ``a``, remaining refractory time ``ref``."""

    v: torch.Tensor
    a: torch.Tensor
    ref: torch.Tensor


def alif_init(x: torch.Tensor, params: ALIFParams) -> ALIFState:
    """Resting state shaped like one step's input ``x``."""
    return ALIFState(torch.full_like(x, params.v_leak), torch.zeros_like(x), torch.zeros_like(x))


def alif_step(x: torch.Tensor, state: ALIFState, params: ALIFParams, dt: float = 1e-3) -> tuple[torch.Tensor, ALIFState]:
    """One adaptive-LIF step. Returns ``(spikes, new_state)``; inputs are not mutated."""
    beta_m = math.exp(-dt / params.tau_mem)
    rho = math.exp(-dt / params.tau_adapt)
    v_int = params.v_leak + (state.v - params.v_leak) * beta_m + (1.0 - beta_m) * params.r * x
    if params.t_ref > 0:
        active = state.ref <= 0.5 * dt
        v_int = torch.where(active, v_int, torch.full_like(v_int, params.v_reset))
    theta = params.v_th + params.beta * state.a
    s = params.surrogate(v_int - theta)
    if params.t_ref > 0:
        s = s * active
        ref = torch.where(s.detach() > 0, torch.full_like(state.ref, params.t_ref), (state.ref - dt).clamp_min(0.0))
    else:
        ref = state.ref
    v = apply_reset(v_int, s, theta, params.v_reset, params.reset, params.detach_reset)
    a = state.a * rho + s
    return s, ALIFState(v, a, ref)


register_reference("alif_sequence", alif_step, alif_init)


class ALIFCell(NeuronCell):
    """Single-step adaptive LIF: ``forward(x[B, ...], state=None) -> (spikes, ALIFState)``."""

    params_cls = ALIFParams
    step_fn = staticmethod(alif_step)
    init_fn = staticmethod(alif_init)
    op = "alif_sequence"


class ALIF(NeuronSequence):
    """Whole-sequence adaptive LIF over ``[T, B, ...]`` (backend ``"alif_sequence"``)."""

    params_cls = ALIFParams
    step_fn = staticmethod(alif_step)
    init_fn = staticmethod(alif_init)
    op = "alif_sequence"
    nonfinite_reaches_state = True  # NaN/inf input ends in the final v (resets give inf * 0 = NaN)
