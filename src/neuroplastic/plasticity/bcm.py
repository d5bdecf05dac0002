"""BCM rule with a sliding modification threshold (Bienenstock, Cooper & Munro 1982)."""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from neuroplastic.plasticity._scan import exp_scan, previous
from neuroplastic.plasticity.base import Rule, _check_finite_number, _check_nonneg, _check_time, decay, register_rule


class BCMState(NamedTuple):
    """Sliding threshold ``theta`` ``[n_out]``, one per post-synaptic neuron (shared by the batch)."""

    theta: torch.Tensor


@register_rule("bcm")
@dataclasses.dataclass(frozen=True, kw_only=True)
class BCM(Rule):
    r"""BCM plasticity with the sliding threshold of Intrator & Cooper (1992) / Law & Cooper (1994).

    .. math::
        \Delta w_{ij} = \eta\, x_j\, y_i\,(y_i - \theta_i), \qquad
        \tau_\theta \frac{d\theta_i}{dt} = \langle y_i^2 \rangle - \theta_i

    Below the threshold activity depresses, above it potentiates; because :math:`\theta` tracks
    the mean squared response, a neuron that responds to everything raises its threshold until
    only its preferred pattern potentiates: the neuron becomes selective. The update uses the
    threshold *before* this step; the threshold then moves exactly,
    :math:`\theta \leftarrow \langle y^2\rangle + (\theta - \langle y^2\rangle) e^{-dt/\tau_\theta}`,
    with :math:`\langle y^2\rangle` the batch mean (``theta`` is shared by the batch, like the
    weights). ``normalize=True`` divides the update by :math:`\theta` (Law & Cooper 1994), which
    makes the learning speed independent of the response scale.

    Attributes:
        lr: learning rate :math:`\eta`.
        tau_theta: threshold time constant in seconds (keep it short compared with the weight
            time scale, else the rule oscillates).
        theta_init: initial threshold.
        dt: step length in seconds.
        normalize: divide by :math:`\theta` (Law & Cooper form).
        eps: floor of :math:`\theta` when ``normalize=True``.
    """

    lr: float = 1e-3
    tau_theta: float = 100e-3
    theta_init: float = 0.0
    dt: float = 1e-3
    normalize: bool = False
    eps: float = 1e-6

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)
        _check_time("tau_theta", self.tau_theta)
        _check_time("dt", self.dt)
        _check_nonneg("theta_init", self.theta_init)
        _check_nonneg("eps", self.eps)

    def _init(self, pre, post, weight):
        return BCMState(torch.full((weight.shape[0],), self.theta_init, dtype=weight.dtype, device=weight.device))

    def _step(self, pre, post, weight, state, m):
        theta = state.theta
        if theta.shape != (weight.shape[0],):
            raise ValueError(f"BCM theta has shape {tuple(theta.shape)} but [{weight.shape[0]}] is expected: "
                             "pass state=None to start fresh")
        phi = post * (post - theta)
        if self.normalize:
            phi = phi / theta.clamp_min(self.eps)
        dw = self._outer(phi, pre, m, scale=self.lr)
        target = (post * post).mean(0)
        a = decay(self.dt, self.tau_theta)
        return dw, BCMState(target + (theta - target) * a)

    def _sequence(self, pre, post, weight, state, m):
        t_len, batch = pre.shape[:2]
        a = decay(self.dt, self.tau_theta)
        thetas = exp_scan(state.theta, (post * post).mean(1).mul_(1.0 - a), a)  # [T, n_out]
        before = previous(state.theta, thetas).unsqueeze(1)
        phi = post * (post - before)
        if self.normalize:
            phi = phi / before.clamp_min(self.eps)
        rows = (phi.reshape(t_len * batch, -1), pre.reshape(t_len * batch, -1))
        m_rows = self._time_rows(m, t_len)
        dw = self._merge_time(lambda r: r._outer(*rows, m_rows, scale=self.lr), t_len, batch)
        return dw, BCMState(thetas[-1])
