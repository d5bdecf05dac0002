"""Three-factor learning: reward-modulated STDP with an eligibility trace."""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic.plasticity.base import Rule, _check_finite_number, _check_nonneg, _check_time, decay, register_rule
from neuroplastic.plasticity.stdp import STDP, TRACES, STDPState, _WeightDependence


class RSTDPState(NamedTuple):
    """Spike traces ``x_pre`` ``[B, n_in]``, ``x_post`` ``[B, n_out]`` and the per-sample
    eligibility ``eligibility`` ``[B, n_out, n_in]``."""

    x_pre: torch.Tensor
    x_post: torch.Tensor
    eligibility: torch.Tensor


@register_rule("rstdp")
@dataclasses.dataclass(frozen=True, kw_only=True)
class RSTDP(_WeightDependence, Rule):
    r"""Reward-modulated STDP with an eligibility trace (Izhikevich 2007; Florian 2007 "MSTDPET").

    .. math::
        c_{ij} \leftarrow e^{-dt/\tau_e}\, c_{ij} + \mathrm{STDP}_{ij}, \qquad
        \Delta w_{ij} = \eta\; m\; c_{ij}

    ``STDP`` is the pair-based update of :class:`~neuroplastic.plasticity.STDP` (same traces,
    same same-step convention, same weight dependence), accumulated per sample into the
    eligibility :math:`c` (Izhikevich's synaptic tag, Florian's :math:`z`), which decays with
    :math:`\tau_e`. The weights change only when the third factor :math:`m` (reward, dopamine,
    reward prediction error) is given: ``modulator=None`` means "no reward at this step" and
    returns ``dw = 0`` while the eligibility keeps accumulating. Give the modulator per step
    (scalar, or ``[B]`` for one value per sample and step) or once per sample at the end of its
    presentation (``[B]``); ``[B, n_out]`` gives one value per output neuron. The sign of
    :math:`m` sets the direction of learning.

    Memory: the eligibility is ``[B, n_out, n_in]``, one matrix per sample (needed because the
    reward may differ between samples).

    Attributes:
        lr: learning rate :math:`\eta` (Izhikevich: the dopamine integration, ``dt`` times the
            dopamine concentration scale).
        tau_e: eligibility time constant in seconds (Izhikevich: 1 s; Florian: 25 ms).
        a_plus, a_minus, tau_plus, tau_minus, trace, weight_dependence, mu, wmin, wmax, dt: the
            STDP settings (Izhikevich: ``a_plus=1.0``, ``a_minus=1.5``, 20 ms windows).
    """

    lr: float = 1e-3
    tau_e: float = 1.0
    a_plus: float = 1.0
    a_minus: float = 1.5
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    trace: str = "all"
    weight_dependence: str = "additive"
    mu: float = 1.0
    wmin: float = 0.0
    wmax: float = 1.0
    dt: float = 1e-3

    three_factor = True

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)
        _check_time("tau_e", self.tau_e)
        _check_nonneg("a_plus", self.a_plus)
        _check_nonneg("a_minus", self.a_minus)
        _check_time("tau_plus", self.tau_plus)
        _check_time("tau_minus", self.tau_minus)
        _check_time("dt", self.dt)
        check_in_choices("trace", self.trace, TRACES)
        self._check_dependence()
        object.__setattr__(self, "_pair", STDP(
            reduction="none", a_plus=self.a_plus, a_minus=self.a_minus, tau_plus=self.tau_plus,
            tau_minus=self.tau_minus, trace=self.trace, weight_dependence=self.weight_dependence,
            mu=self.mu, wmin=self.wmin, wmax=self.wmax, dt=self.dt))

    def _init(self, pre, post, weight):
        elig = torch.zeros(pre.shape[0], *weight.shape, dtype=weight.dtype, device=weight.device)
        return RSTDPState(torch.zeros_like(pre), torch.zeros_like(post), elig)

    def _step(self, pre, post, weight, state, m):
        batch = pre.shape[0]
        if state.eligibility.shape != (batch, *weight.shape):
            raise ValueError(f"eligibility has shape {tuple(state.eligibility.shape)} but {(batch, *weight.shape)} is "
                             "expected: pass state=None to start fresh")
        pair_dw, pair_state = self._pair._step(pre, post, weight, STDPState(state.x_pre, state.x_post), None)
        elig = state.eligibility * decay(self.dt, self.tau_e) + pair_dw
        new = RSTDPState(pair_state.x_pre, pair_state.x_post, elig)
        if m is None:
            shape = elig.shape if self.reduction == "none" else weight.shape
            return torch.zeros(shape, dtype=weight.dtype, device=weight.device), new
        return self.lr * self._reduce(elig * m.unsqueeze(2)), new

    def _sequence(self, pre, post, weight, state, m):
        r"""Closed form over ``T`` steps (weight fixed): with :math:`c_t = a c_{t-1} + S_t`,
        :math:`c_T = a^T c_0 + \sum_k a^{T-k} S_k` and
        :math:`\sum_t c_t = c_0 \frac{a(1-a^T)}{1-a} + \sum_k \frac{1-a^{T-k+1}}{1-a} S_k`,
        each a time-weighted batched GEMM of the STDP terms."""
        t_len, batch = pre.shape[:2]
        if state.eligibility.shape != (batch, *weight.shape):
            raise ValueError(f"eligibility has shape {tuple(state.eligibility.shape)} but {(batch, *weight.shape)} is "
                             "expected: pass state=None to start fresh")
        a1, c1, a2, c2, pair_state = self._pair._terms_seq(pre, post, STDPState(state.x_pre, state.x_post))
        a = decay(self.dt, self.tau_e)
        k = torch.arange(1, t_len + 1, dtype=weight.dtype, device=weight.device)
        powers = torch.full_like(k, a).pow(t_len - k)          # a^(T-k)

        pair = self._pair

        def weighted(wt: torch.Tensor) -> torch.Tensor:          # sum_k wt_k S_k per sample [B, n_out, n_in]
            ltp = torch.bmm((a1 * wt[:, None, None]).permute(1, 2, 0), c1.transpose(0, 1))
            ltd = torch.bmm((a2 * wt[:, None, None]).permute(1, 2, 0), c2.transpose(0, 1))
            if pair.weight_dependence == "additive":
                return ltp.sub_(ltd)
            return ltp.mul_(pair._up(weight)).sub_(ltd.mul_(pair._down(weight)))

        elig = state.eligibility * (a ** t_len) + weighted(powers)
        new = RSTDPState(pair_state.x_pre, pair_state.x_post, elig)
        if m is None:
            shape = elig.shape if self.reduction == "none" else weight.shape
            return torch.zeros(shape, dtype=weight.dtype, device=weight.device), new
        total = state.eligibility * (a * (1 - a ** t_len) / (1 - a)) + weighted((1 - a * powers) / (1 - a))
        return self.lr * self._reduce(total.mul_(m.unsqueeze(2))), new
