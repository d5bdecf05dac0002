"""Competitive Hebbian rules: Krotov-Hopfield (2019) and SoftHebb (Journé et al. 2023).

Both rules run their own competition between the post-synaptic units from the pre-activation
currents. ``post`` may be given (the currents, e.g. from a convolution already computed) or left
``None``, in which case the rule computes the currents from ``weight`` and ``pre``.
"""
from __future__ import annotations

import dataclasses

import torch

from neuroplastic.plasticity.base import Rule, _check_finite_number, _check_nonneg, register_rule


def lp_currents(pre: torch.Tensor, weight: torch.Tensor, p: float) -> torch.Tensor:
    r"""Krotov-Hopfield input currents :math:`h_\mu = \sum_i \mathrm{sgn}(W_{\mu i})|W_{\mu i}|^{p-1} v_i`.

    For ``p = 2`` this is the ordinary linear response ``pre @ weight.T``.
    """
    if p == 2:
        return pre @ weight.T
    return pre @ (weight.sign() * weight.abs().pow(p - 1)).T


def _max_abs(dw: torch.Tensor, prec: float, per_sample: bool) -> torch.Tensor:
    """Largest absolute entry (per sample with ``per_sample``), floored at ``prec``."""
    if per_sample:
        return dw.abs().flatten(1).amax(1).clamp_min(prec).reshape(-1, 1, 1)
    return dw.abs().amax().clamp_min(prec)


@register_rule("krotov")
@dataclasses.dataclass(frozen=True, kw_only=True)
class KrotovHopfield(Rule):
    r"""Unsupervised learning by competing hidden units (Krotov & Hopfield 2019, PNAS, eq. 3).

    .. math::
        \Delta W_{\mu i} = \eta\; g(Q_\mu)\,\big(R^p\, v_i - \langle W, v\rangle_\mu\, W_{\mu i}\big),
        \qquad \langle W, v\rangle_\mu = \sum_i \mathrm{sgn}(W_{\mu i})|W_{\mu i}|^{p-1} v_i

    with the rank-based activation of the hidden units, ranked by their currents
    :math:`h_\mu = \langle W, v\rangle_\mu`: :math:`g = 1` for the strongest unit,
    :math:`g = -\Delta` for the ``k``-th strongest (anti-Hebbian), 0 for the others. The fixed
    point of each winning unit lies on the Lebesgue sphere :math:`\|W_\mu\|_p = R`. As in the
    authors' reference code (``Biological_Learning``), the batch update is divided by its
    largest absolute entry (``normalize=True``) so ``lr`` is the largest change of any weight per
    step; with ``normalize=True`` the ``reduction`` therefore only changes the scale before
    normalisation ("mean" and "sum" give the same update).

    Ranking is by :math:`h` (not :math:`Q_\mu = h_\mu/\|W_\mu\|_p^{p-1}`), as in the reference
    code. Passing ``post`` uses it as :math:`h` (e.g. currents from a convolution).

    Attributes:
        lr: learning rate :math:`\eta` (reference: 0.02 decaying linearly to 0 over training).
        p: Lebesgue norm exponent (>= 1; reference MNIST: 2 or 3).
        k: rank of the anti-Hebbian unit (>= 1; 1 means no anti-Hebbian term). Reference: 2.
        delta: anti-Hebbian strength :math:`\Delta` (reference: 0.4).
        radius: :math:`R`, the norm the weights converge to.
        normalize: divide the update by its largest absolute value (reference code).
        prec: floor of that divisor.
    """

    lr: float = 0.02
    p: float = 2.0
    k: int = 2
    delta: float = 0.4
    radius: float = 1.0
    normalize: bool = True
    prec: float = 1e-30

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)
        if _check_finite_number("p", self.p) < 1:
            raise ValueError(f"p must be >= 1 (Lebesgue norm exponent), got {self.p}: use p=2 for the Euclidean norm")
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be an integer >= 1 (rank of the anti-Hebbian unit), got {self.k!r}: use k=2")
        _check_nonneg("delta", self.delta)
        if _check_finite_number("radius", self.radius) <= 0:
            raise ValueError(f"radius must be > 0, got {self.radius}: use radius=1.0")
        _check_nonneg("prec", self.prec)

    def _default_post(self, pre, weight):
        return lp_currents(pre, weight, self.p)

    def _stateless_in_time(self) -> bool:
        return not self.normalize  # the max-abs normalisation is per step

    def _step(self, pre, post, weight, state, m):
        n_out = weight.shape[0]
        if self.k > n_out:
            raise ValueError(f"k={self.k} exceeds the {n_out} output units: use k <= n_out")
        h = post
        idx = h.topk(self.k, dim=1).indices
        g = torch.zeros_like(h)
        if self.k > 1 and self.delta != 0:
            g.scatter_(1, idx[:, self.k - 1:self.k], -self.delta)
        g.scatter_(1, idx[:, :1], 1.0)
        ds = self._outer(g, pre, m, scale=self.radius ** self.p).addcmul_(weight, self._rows(g * h, m), value=-1.0)
        if self.normalize:
            return ds.mul_(self.lr / _max_abs(ds, self.prec, self.reduction == "none")), state
        return ds.mul_(self.lr), state


@register_rule("softhebb")
@dataclasses.dataclass(frozen=True, kw_only=True)
class SoftHebb(Rule):
    r"""SoftHebb: Hebbian learning with a soft winner-take-all (Journé et al. 2023, ICLR).

    .. math::
        u_k = w_k \cdot x, \qquad y_k = \mathrm{softmax}_k(u / \tau), \qquad
        \Delta w_{ik} = \eta\, y_k\, (x_i - u_k\, w_{ik})

    The soft competition makes the neurons learn a mixture model of the input; each weight
    vector converges to the unit sphere. With ``anti_hebbian=True`` every unit except the
    winner (largest :math:`u_k`) uses :math:`-y_k` (the paper's anti-Hebbian variant,
    ``softkrotov`` in the authors' code, used for their convolutional layers; their MNIST MLP
    uses the plain ``soft`` variant). The authors' code also divides the batch update by its
    largest absolute entry (``normalize=True``) and scales each neuron's rate by
    :math:`|\|w_k\|_2 - R|^{\text{power}}` (``adaptive_power=0.5``, the "adaptive learning
    rate" that freezes a neuron once it reaches the sphere). ``post``, if given, is taken as
    :math:`u`.

    Attributes:
        lr: learning rate :math:`\eta` (authors' MNIST MLP: 0.045 with normalisation and
            adaptive rate; CIFAR first conv layer: 0.08).
        temperature: softmax temperature :math:`\tau` (authors' code uses ``t_invert = 1/tau``:
            MNIST MLP ``t_invert = 12``; conv layers 1, 0.65, 0.25).
        anti_hebbian: use :math:`-y_k` for the non-winning units.
        normalize: divide the update by its largest absolute entry.
        adaptive_power: if set, per-neuron rate :math:`\eta\,(|\|w_k\|_2 - R| + 10^{-10})^{power}`.
        radius: :math:`R` for the adaptive rate.
        prec: floor of the normalisation divisor.
    """

    lr: float = 0.01
    temperature: float = 1.0
    anti_hebbian: bool = False
    normalize: bool = False
    adaptive_power: float | None = None
    radius: float = 1.0
    prec: float = 1e-30

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)
        t = _check_finite_number("temperature", self.temperature)
        if t <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}: small values approach a hard "
                             "winner-take-all, e.g. temperature=1/12")
        if self.adaptive_power is not None:
            _check_nonneg("adaptive_power", self.adaptive_power)
        if _check_finite_number("radius", self.radius) <= 0:
            raise ValueError(f"radius must be > 0, got {self.radius}")
        _check_nonneg("prec", self.prec)

    def _default_post(self, pre, weight):
        return pre @ weight.T

    def _stateless_in_time(self) -> bool:
        return not self.normalize  # the max-abs normalisation is per step

    def _step(self, pre, post, weight, state, m):
        u = post
        y = torch.softmax(u / self.temperature, dim=1)
        if self.anti_hebbian:
            win = torch.zeros_like(y).scatter_(1, u.argmax(1, keepdim=True), 1.0)
            y = torch.where(win > 0, y, -y)
        dw = self._outer(y, pre, m).addcmul_(weight, self._rows(y * u, m), value=-1.0)
        lr = self.lr
        if self.adaptive_power is not None:
            norm = weight.norm(dim=1, keepdim=True)
            lr = self.lr * ((norm - self.radius).abs() + 1e-10).pow(self.adaptive_power)
        if self.normalize:
            lr = lr / _max_abs(dw, self.prec, self.reduction == "none")
        return dw.mul_(lr), state
