r"""Diehl & Cook (2015) dynamics: parameters, state, the pure step and the reference presentation.

One time step of length ``dt`` for a batch of ``B`` independent simulations sharing the weights
``W`` ``[n_in, N]`` (input-major, as in BindsNET: each input's outgoing weights are one contiguous
row) and the adaptive thresholds :math:`\theta` ``[N]``:

.. math::
    I_{bj} &= \sum_i s^{in}_{bi} W_{ij} \qquad\text{(voltage jump per input spike)}\\
    v_{bj} &\leftarrow v_{rest} + (v_{bj} - v_{rest})\,e^{-dt/\tau_m}
             + [\text{not refractory}]\,(I_{bj} + J_{bj})\\
    s_{bj} &= [v_{bj} \ge v_{th} + \theta_j] \quad\text{(one_spike: only the largest }
             v - v_{th} - \theta\text{ of each sample)}\\
    v_{bj} &\leftarrow v_{reset} \text{ and refractory for } t_{ref} \text{ where } s_{bj} = 1\\
    J_{bj} &\leftarrow -w_{inh}\,\big(\textstyle\sum_k s_{bk} - s_{bj}\big)
             \qquad\text{(lateral inhibition, felt at the next step)}

While learning, :math:`\theta_j \leftarrow \theta_j e^{-dt/\tau_\theta} + \theta_+ \sum_b s_{bj}`
(:class:`~neuroplastic.plasticity.AdaptiveThreshold`, ``reduction="sum"``) and the weights follow
pair STDP with nearest-spike traces (:class:`~neuroplastic.plasticity.STDP`, BindsNET's
``PostPre`` with ``nu = (nu_pre, nu_post)``: a pre spike depresses by ``nu_pre`` times the
post trace, a post spike potentiates by ``nu_post`` times the pre trace), summed over the batch,
then clamped to ``[wmin, wmax]``. The original network's inhibitory population (each excitatory
spike drives its inhibitory partner, which inhibits every other excitatory neuron) is folded into
the direct current :math:`J` (:func:`~neuroplastic.plasticity.lateral_inhibition`).

A *presentation* runs ``T = t_present / dt`` steps of Poisson input (spike probability per step
``rates``) from rest and returns each neuron's spike count; the weights and thresholds are
updated in place when learning (the engine contract; the step itself is pure). Implementations
register under the backend op ``"diehl_cook_present"``: ``"reference"`` (this module, any device)
and ``"cpu_fused"`` (:mod:`._dc_c`, C via ctypes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic._core.registry import register_backend
from neuroplastic.plasticity import STDP, AdaptiveThreshold, AdaptiveThresholdState, STDPState, lateral_inhibition
from neuroplastic.plasticity.homeostasis import normalize_weights

OP = "diehl_cook_present"


@dataclass(frozen=True)
class DiehlCookParams:
    """Settings of the Diehl & Cook network (units: seconds, hertz, millivolts).

    Defaults are the paper's and BindsNET's ``DiehlAndCook2015`` (inhibition folded into a direct
    current of ``w_inh``; the paper's ``exc = 22.5`` drives the inhibitory neuron above threshold
    in one step, so every excitatory spike inhibits the others by ``inh = 17.5`` mV).

    Attributes:
        dt: step (s). t_present: presentation time (s; 0.35 in the paper).
        max_rate: input rate of a pixel of value 1 (Hz; 63.75 = 255 / 4 in the paper).
        v_rest, v_reset, v_th: excitatory rest, reset and base threshold (mV).
        tau_mem: membrane time constant (s). t_ref: refractory period (s).
        theta_plus: threshold increment per spike (mV). tau_theta: its decay time constant (s).
        w_inh: lateral inhibition per spike of another neuron (mV, >= 0).
        one_spike: at most one excitatory spike per step and sample (BindsNET's ``one_spike``).
        nu_pre, nu_post: depression per pre spike and potentiation per post spike (x trace).
        tau_pre, tau_post: STDP trace time constants (s). trace: ``"nearest"`` or ``"all"``.
        wmin, wmax: weight bounds. norm: each neuron's summed input weight after normalisation
            (78 in the paper; None disables it).
    """

    dt: float = 1e-3
    t_present: float = 0.35
    max_rate: float = 63.75
    v_rest: float = -65.0
    v_reset: float = -60.0
    v_th: float = -52.0
    tau_mem: float = 100e-3
    t_ref: float = 5e-3
    theta_plus: float = 0.05
    tau_theta: float = 1e4
    w_inh: float = 17.5
    one_spike: bool = True
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20e-3
    tau_post: float = 20e-3
    trace: str = "nearest"
    wmin: float = 0.0
    wmax: float = 1.0
    norm: float | None = 78.0

    def __post_init__(self) -> None:
        for name in ("dt", "t_present", "tau_mem", "tau_theta", "tau_pre", "tau_post"):
            check_positive(name, getattr(self, name))
        for name in ("max_rate", "t_ref", "theta_plus", "w_inh", "nu_pre", "nu_post"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_in_choices("trace", self.trace, ("nearest", "all"))
        if self.t_present < self.dt:
            raise ValueError(f"t_present ({self.t_present} s) is shorter than one step dt ({self.dt} s): "
                             "present each sample for at least one step, e.g. t_present=0.35")
        if not self.v_th > self.v_reset:
            raise ValueError(f"v_th ({self.v_th}) must be above v_reset ({self.v_reset}): raise v_th or lower v_reset")
        if not self.wmin < self.wmax:
            raise ValueError(f"wmin ({self.wmin}) must be below wmax ({self.wmax}): swap them")
        if self.norm is not None and not (math.isfinite(self.norm) and self.norm > 0):
            raise ValueError(f"norm must be a positive finite sum of weights (78 in the paper) or None, got {self.norm}")

    @property
    def n_steps(self) -> int:
        """Steps per presentation, ``round(t_present / dt)``."""
        return max(1, int(round(self.t_present / self.dt)))

    @property
    def ref_steps(self) -> int:
        """Steps during which a neuron ignores input after a spike (``ref > dt / 2`` rule of the step)."""
        if self.t_ref <= 0.5 * self.dt:
            return 0
        return int(math.ceil((self.t_ref - 0.5 * self.dt) / self.dt - 1e-9))

    def stdp(self) -> STDP:
        """The pair-STDP rule on input -> excitatory (sum over the batch)."""
        return STDP(a_plus=self.nu_post, a_minus=self.nu_pre, tau_plus=self.tau_pre, tau_minus=self.tau_post,
                    trace=self.trace, dt=self.dt, reduction="sum")

    def threshold(self) -> AdaptiveThreshold:
        """The adaptive threshold (sum over the batch: as if the samples came one after another)."""
        return AdaptiveThreshold(theta_plus=self.theta_plus, tau_theta=self.tau_theta, dt=self.dt, reduction="sum")


class DiehlCookState(NamedTuple):
    """Per-sample state: membrane ``v``, refractory time left ``ref`` (s), pending inhibition
    ``inh`` (all ``[B, N]``) and the STDP traces ``x_pre`` ``[B, n_in]``, ``x_post`` ``[B, N]``."""

    v: torch.Tensor
    ref: torch.Tensor
    inh: torch.Tensor
    x_pre: torch.Tensor
    x_post: torch.Tensor


def diehl_cook_init(batch: int, n_in: int, n_neurons: int, params: DiehlCookParams, *,
                    dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> DiehlCookState:
    """Resting state: ``v = v_rest``, no refractoriness, inhibition or traces."""
    z = torch.zeros(batch, n_neurons, dtype=dtype, device=device)
    return DiehlCookState(z + params.v_rest, z.clone(), z.clone(), torch.zeros(batch, n_in, dtype=dtype, device=device),
                          z.clone())


def diehl_cook_step(
    s_in: torch.Tensor,
    state: DiehlCookState,
    weight: torch.Tensor,
    theta: torch.Tensor,
    params: DiehlCookParams,
    *,
    learn: bool = True,
) -> tuple[torch.Tensor, DiehlCookState, torch.Tensor | None, torch.Tensor]:
    """One step (see the module docstring). Pure: returns ``(spikes, state, dw, theta)``.

    Args:
        s_in: input spikes ``[B, n_in]`` (0/1).
        state: :class:`DiehlCookState` of the previous step.
        weight: ``[n_in, N]``.
        theta: adaptive threshold offsets ``[N]``.
        params: :class:`DiehlCookParams`.
        learn: update traces, thresholds and compute the STDP ``dw`` ``[n_in, N]`` (else ``None``).
    """
    p = params
    s_in = s_in.to(weight.dtype)
    current = s_in @ weight
    v = p.v_rest + (state.v - p.v_rest) * math.exp(-p.dt / p.tau_mem)
    active = state.ref <= 0.5 * p.dt
    v = torch.where(active, v + (current + state.inh), v)
    over = v - (p.v_th + theta)
    cand = over >= 0
    if p.one_spike:
        best = torch.where(cand, over, torch.full_like(over, -math.inf)).argmax(1, keepdim=True)
        s = torch.zeros_like(v).scatter_(1, best, 1.0) * cand.any(1, keepdim=True)
    else:
        s = cand.to(v.dtype)
    fired = s > 0
    v = torch.where(fired, torch.full_like(v, p.v_reset), v)
    ref = torch.where(fired, torch.full_like(v, p.t_ref), (state.ref - p.dt).clamp_min(0.0))
    inh = lateral_inhibition(s, p.w_inh)
    if not learn:
        return s, DiehlCookState(v, ref, inh, state.x_pre, state.x_post), None, theta
    theta = p.threshold().step(s, AdaptiveThresholdState(theta)).theta
    dw, traces = p.stdp().step(s_in, s, weight.T, STDPState(state.x_pre, state.x_post))
    return s, DiehlCookState(v, ref, inh, traces.x_pre, traces.x_post), dw.T, theta


def poisson_spikes(rates: torch.Tensor, n_steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli spikes ``[T, B, n_in]`` (uint8) with probability ``rates`` ``[B, n_in]`` per step."""
    u = torch.rand((n_steps, *rates.shape), generator=generator, dtype=torch.float32, device=rates.device)
    return (u < rates.to(torch.float32).clamp(0.0, 1.0)).to(torch.uint8)


@register_backend(OP, "reference", device_types=("any",), priority=0)
def present_reference(
    weight: torch.Tensor,
    theta: torch.Tensor,
    rates: torch.Tensor,
    params: DiehlCookParams,
    *,
    learn: bool,
    generator: torch.Generator | None = None,
    spikes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Present a batch from rest for ``params.n_steps`` steps; returns spike counts ``[B, N]`` (int32).

    Updates ``weight`` ``[n_in, N]`` (STDP, clamped to the bounds) and ``theta`` ``[N]`` in place
    when ``learn``. Input: Poisson spikes drawn from ``rates`` (probability per step ``[B, n_in]``)
    with ``generator``, or the given ``spikes`` ``[T, B, n_in]`` (then ``rates`` is ignored).
    """
    n_in, n = weight.shape
    b = rates.shape[0]
    T = params.n_steps
    if spikes is None:
        spikes = poisson_spikes(rates, T, generator)
    state = diehl_cook_init(b, n_in, n, params, dtype=weight.dtype, device=weight.device)
    counts = torch.zeros(b, n, dtype=torch.int32, device=weight.device)
    with torch.no_grad():
        if learn:
            weight.clamp_(params.wmin, params.wmax)
        th = theta.clone()
        for t in range(T):
            s, state, dw, th = diehl_cook_step(spikes[t], state, weight, th, params, learn=learn)
            counts += s.to(torch.int32)
            if learn:
                weight.add_(dw).clamp_(params.wmin, params.wmax)
        if learn:
            theta.copy_(th)
    return counts


def normalize_input_major_(weight: torch.Tensor, total: float | None) -> None:
    """Rescale each neuron's incoming weights (a column of ``[n_in, N]``) to sum to ``total``."""
    if total is None:
        return
    with torch.no_grad():
        weight.copy_(normalize_weights(weight.T, total).T)
