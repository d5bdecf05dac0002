r"""Adaptive LIF with learnable per-neuron time constants and thresholds.

The equation is the one of :mod:`neuroplastic.neurons.alif` (Bellec et al. 2018; ``v_leak = 0``,
``R = 1``, subtractive reset by the effective threshold)

.. math::
    v' &= \alpha v + (1 - \alpha) I_t, \qquad \alpha = e^{-dt/\tau_m} \\
    \theta_t &= v_{th} + \beta a_t, \qquad S_t = \Theta(v' - \theta_t) \\
    v_{t+1} &= v' - S_t \theta_t, \qquad a_{t+1} = \rho a_t + S_t, \quad \rho = e^{-dt/\tau_a}

but ``tau_mem``, ``tau_adapt``, ``v_th`` and ``beta`` are tensors (one value per neuron) that
receive gradients. :class:`ALIFParameters` keeps them positive by construction:
``tau = tau_min + exp(log_tau)``, ``v_th = softplus(raw) + v_th_min`` and ``beta = softplus(raw)``, so no
optimizer step can make a time constant or a threshold zero or negative.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic._core.checks import check_positive
from neuroplastic.neurons.alif import ALIFState
from neuroplastic.neurons.surrogate import SurrogateLike, as_surrogate

__all__ = ["ALIFParameters", "ALIFTensors", "alif_tensor_step", "inverse_softplus"]


class ALIFTensors(NamedTuple):
    """Per-neuron decays and thresholds of one step (derived from the parameters, never stored)."""

    alpha: torch.Tensor     # membrane decay e^{-dt/tau_mem}
    rho: torch.Tensor       # adaptation decay e^{-dt/tau_adapt}
    v_th: torch.Tensor      # base threshold (> 0)
    beta: torch.Tensor      # threshold increase per unit of adaptation (>= 0)


def inverse_softplus(y: float) -> float:
    """``x`` with ``softplus(x) = y`` (``y > 0``)."""
    check_positive("softplus target", y)
    return y + math.log(-math.expm1(-y))


def alif_tensor_step(x: torch.Tensor, state: ALIFState, p: ALIFTensors, surrogate=None) -> tuple[torch.Tensor, ALIFState]:
    """One adaptive-LIF step with tensor parameters; ``(spikes, new_state)``, inputs not mutated.

    With scalar parameters this equals :func:`neuroplastic.neurons.alif.alif_step` with
    ``reset="subtract"``, ``v_leak = v_reset = 0``, ``r = 1`` and no refractory period.
    """
    spike = as_surrogate(surrogate)
    v_int = p.alpha * state.v + (1.0 - p.alpha) * x
    theta = p.v_th + p.beta * state.a
    s = spike(v_int - theta)
    v = v_int - s * theta
    a = p.rho * state.a + s
    return s, ALIFState(v, a, state.ref)


class ALIFParameters(nn.Module):
    """Learnable, positive ALIF parameters for ``n`` neurons.

    Args:
        n: number of neurons.
        tau_min: floor of the time constants in seconds (``tau = tau_min + exp(log_tau)``).
        tau_mem, tau_adapt: initial time constants in seconds (scalars; ``tau_mem`` may be a
            ``(low, high)`` pair: log-uniform initialisation per neuron).
        v_th: initial base threshold (> 0); kept above ``v_th_min``.
        beta: initial adaptation strength (> 0; ``0`` gives plain LIF neurons, then not learned).
        learn_tau, learn_threshold, learn_beta: which of them get gradients.
        dt: time step in seconds.
    """

    def __init__(self, n: int, *, tau_mem: float | tuple[float, float] = 20e-3, tau_adapt: float = 200e-3,
                 v_th: float = 1.0, beta: float = 0.2, learn_tau: bool = True, learn_threshold: bool = True,
                 learn_beta: bool = False, v_th_min: float = 1e-3, tau_min: float = 1e-4, dt: float = 1e-3) -> None:
        super().__init__()
        self.dt = check_positive("dt", dt)
        self.tau_min = check_positive("tau_min", tau_min)
        self.v_th_min = check_positive("v_th_min", v_th_min, allow_zero=True)
        if isinstance(tau_mem, (tuple, list)):
            lo, hi = (check_positive("tau_mem", t) for t in tau_mem)
            tm = torch.empty(n, dtype=torch.float64).uniform_(math.log(lo), math.log(hi)).exp()
        else:
            tm = torch.full((n,), check_positive("tau_mem", tau_mem), dtype=torch.float64)
        ta = torch.full((n,), check_positive("tau_adapt", tau_adapt), dtype=torch.float64)
        if tm.min() <= tau_min or ta.min() <= tau_min:
            raise ValueError(f"time constants must exceed tau_min={tau_min} s: raise them or lower tau_min")
        log_tm, log_ta = (tm - tau_min).log().float(), (ta - tau_min).log().float()
        if v_th <= v_th_min:
            raise ValueError(f"v_th={v_th} must exceed v_th_min={v_th_min}: raise v_th or lower v_th_min")
        raw_th = torch.full((n,), inverse_softplus(v_th - v_th_min))
        check_positive("beta", beta, allow_zero=True)
        self.adaptive = beta > 0
        raw_beta = torch.full((n,), inverse_softplus(beta) if beta > 0 else 0.0)
        self.log_tau_mem = nn.Parameter(log_tm, requires_grad=learn_tau)
        self.log_tau_adapt = nn.Parameter(log_ta, requires_grad=learn_tau and self.adaptive)
        self.raw_v_th = nn.Parameter(raw_th, requires_grad=learn_threshold)
        self.raw_beta = nn.Parameter(raw_beta, requires_grad=learn_beta and self.adaptive)

    @property
    def tau_mem(self) -> torch.Tensor:
        return self.tau_min + self.log_tau_mem.exp()

    @property
    def tau_adapt(self) -> torch.Tensor:
        return self.tau_min + self.log_tau_adapt.exp()

    @property
    def v_th(self) -> torch.Tensor:
        return F.softplus(self.raw_v_th) + self.v_th_min

    @property
    def beta(self) -> torch.Tensor:
        return F.softplus(self.raw_beta) if self.adaptive else torch.zeros_like(self.raw_beta)

    def tensors(self) -> ALIFTensors:
        """Decays and thresholds for :func:`alif_tensor_step`."""
        return ALIFTensors(torch.exp(-self.dt / self.tau_mem), torch.exp(-self.dt / self.tau_adapt), self.v_th, self.beta)
