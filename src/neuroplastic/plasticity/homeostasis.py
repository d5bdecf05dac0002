"""Homeostasis: adaptive thresholds (Diehl & Cook 2015), synaptic scaling, weight normalisation."""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic.plasticity._scan import exp_scan, previous
from neuroplastic.plasticity.base import Rule, _check_finite_number, _check_nonneg, _check_time, decay, register_rule


# --------------------------------------------------------------------------- adaptive threshold
class AdaptiveThresholdState(NamedTuple):
    """Threshold offsets ``theta``: ``[n]`` shared by the batch, or ``[B, n]`` with ``reduction="none"``."""

    theta: torch.Tensor


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaptiveThreshold:
    r"""Adaptive firing threshold of Diehl & Cook (2015): each spike raises the neuron's threshold.

    .. math::
        \theta_i \leftarrow \theta_i\, e^{-dt/\tau_\theta} + \theta_+\, s_i, \qquad
        v_{th,i}^{eff} = v_{th} + \theta_i

    A neuron that fires a lot becomes harder to excite, so all excitatory neurons get to win the
    competition and learn a receptive field. The paper uses :math:`\theta_+ = 0.05` mV and
    :math:`\tau_\theta = 10^7` ms (effectively no decay during training), and freezes
    :math:`\theta` at test time. The offsets belong to the neurons, so with a batch they are
    shared: ``reduction="sum"`` adds every sample's spikes (as if the samples were shown one after
    another, BindsNET's choice), ``"mean"`` their average, ``"none"`` keeps one ``theta`` per
    sample ``[B, n]``.

    Attributes:
        theta_plus: increment per spike (>= 0), in the neuron's voltage units.
        tau_theta: decay time constant in seconds (Diehl & Cook: 1e4 s).
        dt: step length in seconds.
        reduction: ``"sum"``, ``"mean"`` or ``"none"`` over the batch.

    Example:
        >>> import torch
        >>> at = AdaptiveThreshold(theta_plus=0.05, tau_theta=1e4)
        >>> st = at.step(torch.tensor([[1.0, 0.0]]))
        >>> [round(v, 6) for v in st.theta.tolist()]
        [0.05, 0.0]
    """

    theta_plus: float = 0.05
    tau_theta: float = 1e4
    dt: float = 1e-3
    reduction: str = "sum"

    def __post_init__(self) -> None:
        _check_nonneg("theta_plus", self.theta_plus)
        _check_time("tau_theta", self.tau_theta)
        _check_time("dt", self.dt)
        check_in_choices("reduction", self.reduction, ("sum", "mean", "none"))

    def init_state(self, spikes: torch.Tensor) -> AdaptiveThresholdState:
        """Zero offsets for spikes shaped ``[B, n]`` (or ``[B, C, H, W]``)."""
        shape = spikes.shape if self.reduction == "none" else spikes.shape[1:]
        return AdaptiveThresholdState(torch.zeros(shape, dtype=spikes.dtype, device=spikes.device))

    def step(self, spikes: torch.Tensor, state: AdaptiveThresholdState | None = None) -> AdaptiveThresholdState:
        """One step: decay, then add ``theta_plus`` per spike. Returns the new state."""
        with torch.no_grad():
            spikes = spikes.detach()
            if state is None:
                state = self.init_state(spikes)
            if self.reduction == "sum":
                inc = spikes.sum(0)
            elif self.reduction == "mean":
                inc = spikes.mean(0)
            else:
                inc = spikes
            if state.theta.shape != inc.shape:
                raise ValueError(f"theta has shape {tuple(state.theta.shape)} but {tuple(inc.shape)} is expected for "
                                 f"spikes {tuple(spikes.shape)}: pass state=None to start fresh")
            theta = state.theta * decay(self.dt, self.tau_theta) + self.theta_plus * inc.to(state.theta.dtype)
        return AdaptiveThresholdState(theta)

    def get_config(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- synaptic scaling
class ScalingState(NamedTuple):
    """Running average ``rate`` ``[n_out]`` of the post-synaptic activity (shared by the batch)."""

    rate: torch.Tensor


@register_rule("scaling")
@dataclasses.dataclass(frozen=True, kw_only=True)
class SynapticScaling(Rule):
    r"""Multiplicative synaptic scaling toward a target activity (van Rossum, Bi & Turrigiano 2000).

    .. math::
        \Delta w_{ij} = \eta\, (a^* - \bar a_i)\, w_{ij}, \qquad
        \bar a_i \leftarrow \langle y_i\rangle + (\bar a_i - \langle y_i\rangle)\, e^{-dt/\tau_a}

    All incoming weights of a neuron are scaled up when it is less active than the target
    :math:`a^*` and down when more, preserving their ratios. :math:`\bar a` is a running average
    of the batch-mean activity (one value per neuron, shared by the batch; it starts at the target
    and the update uses its value before this step), in the units of
    ``post``: for spikes per step, pass ``target = rate_in_hz * dt``. Each sample contributes the
    same term, so ``reduction="sum"`` scales the update by ``B``.

    Attributes:
        lr: scaling rate :math:`\eta`.
        target: target activity :math:`a^*` (>= 0).
        tau_avg: averaging time constant in seconds.
        dt: step length in seconds.
    """

    lr: float = 1e-3
    target: float = 0.01
    tau_avg: float = 1.0
    dt: float = 1e-3

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)
        _check_nonneg("target", self.target)
        _check_time("tau_avg", self.tau_avg)
        _check_time("dt", self.dt)

    def _init(self, pre, post, weight):
        return ScalingState(torch.full((weight.shape[0],), self.target, dtype=weight.dtype, device=weight.device))

    def _step(self, pre, post, weight, state, m):
        if state.rate.shape != (weight.shape[0],):
            raise ValueError(f"scaling rate has shape {tuple(state.rate.shape)} but [{weight.shape[0]}] is expected: "
                             "pass state=None to start fresh")
        err = (self.target - state.rate).expand(post.shape[0], -1)
        mean = post.mean(0)
        rate = mean + (state.rate - mean) * decay(self.dt, self.tau_avg)
        return weight * (self.lr * self._rows(err, m)), ScalingState(rate)

    def _sequence(self, pre, post, weight, state, m):
        a = decay(self.dt, self.tau_avg)
        rates = exp_scan(state.rate, post.mean(1).mul_(1.0 - a), a)  # [T, n_out]
        err = (self.target - previous(state.rate, rates)).sum(0).expand(post.shape[1], -1)
        return weight * (self.lr * self._rows(err, m)), ScalingState(rates[-1])


# --------------------------------------------------------------------------- weight normalisation
def normalize_weights(weight: torch.Tensor, total: float, *, eps: float = 0.0) -> torch.Tensor:
    r"""Rescale each output unit's incoming weights to sum to ``total`` (Diehl & Cook 2015: 78).

    .. math::
        w_{ij} \leftarrow \text{total}\; \frac{w_{ij}}{\sum_k w_{ik}}

    Works for dense ``[n_out, n_in]`` and convolutional ``[out, in, kh, kw]`` weights (sums over
    all but the first dim). Rows summing to at most ``eps`` in absolute value are left unchanged
    (no division by zero). Returns a new tensor; see :func:`normalize_weights_` for in place.
    """
    _check_finite_number("total", total)
    s = weight.sum(dim=tuple(range(1, weight.ndim)), keepdim=True)
    ok = s.abs() > eps
    return torch.where(ok, weight * (total / torch.where(ok, s, torch.ones_like(s))), weight)


def normalize_weights_(weight: torch.Tensor, total: float, *, eps: float = 0.0) -> torch.Tensor:
    """In-place :func:`normalize_weights` (under ``no_grad``, safe on parameters); returns ``weight``."""
    with torch.no_grad():
        weight.copy_(normalize_weights(weight.detach(), total, eps=eps))
    return weight
