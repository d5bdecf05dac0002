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

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from neuroplastic.neurons._base import (
    NeuronCell,
    NeuronSequence,
    ParamLike,
    as_param,
    exp_decay,
    param_full_like,
    param_like,
    register_reference,
)
from neuroplastic.neurons.lif import apply_reset, validate_lif_fields
from neuroplastic.neurons.surrogate import SurrogateLike


@dataclass(frozen=True)
class ALIFParams:
    """Parameters of the adaptive LIF neuron.

    Attributes:
        tau_mem: membrane time constant in seconds.
        tau_adapt: threshold-adaptation time constant in seconds.
        beta: threshold increase per unit of adaptation (>= 0).
        v_th, v_reset, v_leak, r, t_ref, reset, surrogate, detach_reset: as in LIF (``v_th``
            defaults to 0.1 and ``beta`` to 0.02, 1.0 and 0.2 in 0.1.x: see :class:`~neuroplastic.neurons.lif.LIFParams`).

    ``tau_mem``, ``tau_adapt``, ``beta``, ``v_th``, ``v_reset``, ``v_leak`` and ``r`` may be
    per-neuron tensors, as in :class:`~neuroplastic.neurons.lif.LIFParams`.
    """

    tau_mem: ParamLike = 20e-3
    tau_adapt: ParamLike = 200e-3
    beta: ParamLike = 0.02
    v_th: ParamLike = 0.1
    v_reset: ParamLike = 0.0
    v_leak: ParamLike = 0.0
    r: ParamLike = 1.0
    t_ref: float = 0.0
    reset: str = "subtract"
    surrogate: SurrogateLike = field(default=None)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        validate_lif_fields(self)
        object.__setattr__(self, "tau_adapt", as_param("tau_adapt", self.tau_adapt, positive=True))
        object.__setattr__(self, "beta", as_param("beta", self.beta, positive=True, allow_zero=True))


class ALIFState(NamedTuple):
    """Adaptive LIF state: membrane ``v``, adaptation ``a``, remaining refractory time ``ref``."""

    v: torch.Tensor
    a: torch.Tensor
    ref: torch.Tensor


def alif_init(x: torch.Tensor, params: ALIFParams) -> ALIFState:
    """Resting state shaped like one step's input ``x``."""
    return ALIFState(param_full_like(params.v_leak, x), torch.zeros_like(x), torch.zeros_like(x))


def alif_step(x: torch.Tensor, state: ALIFState, params: ALIFParams, dt: float = 1e-3) -> tuple[torch.Tensor, ALIFState]:
    """One adaptive-LIF step. Returns ``(spikes, new_state)``; inputs are not mutated."""
    beta_m = param_like(exp_decay(dt, params.tau_mem), x)
    rho = param_like(exp_decay(dt, params.tau_adapt), x)
    v_leak, v_reset = param_like(params.v_leak, x), param_like(params.v_reset, x)
    v_int = v_leak + (state.v - v_leak) * beta_m + (1.0 - beta_m) * param_like(params.r, x) * x
    if params.t_ref > 0:
        active = state.ref <= 0.5 * dt
        v_int = torch.where(active, v_int, param_full_like(v_reset, v_int))
    theta = param_like(params.v_th, x) + param_like(params.beta, x) * state.a
    s = params.surrogate(v_int - theta)
    if params.t_ref > 0:
        s = s * active
        ref = torch.where(s.detach() > 0, torch.full_like(state.ref, params.t_ref), (state.ref - dt).clamp_min(0.0))
    else:
        ref = state.ref
    v = apply_reset(v_int, s, theta, v_reset, params.reset, params.detach_reset)
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
