"""Rate-based Hebbian rules: the founding document's seed rule, plain Hebb and Oja.

All three are two-factor rules on one step of activity ``pre`` ``[B, n_in]`` (``x_j``) and
``post`` ``[B, n_out]`` (``y_i``); ``w_ij`` connects input ``j`` to output ``i``.
"""
from __future__ import annotations

import dataclasses

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic.plasticity.base import Rule, _check_finite_number, register_rule


@register_rule("seed")
@dataclasses.dataclass(frozen=True, kw_only=True)
class SeedHebb(Rule):
    r"""The founding document's Hebbian rule, implemented as written.

    .. math::
        \Delta w_{ij} = t_1\,(t_2\,x_i^{+})\,(1 - t_2\,x_i^{-})

    **Interpretation.** The statement indexes both activities by ``i``. Read literally per
    neuron, the update of synapse ``(i, j)`` would not depend on ``j`` at all, so it could not
    learn anything about the input. We read ``x^+`` as the activity on the "positive" side of the
    synapse, the post-synaptic neuron ``i`` (``positive="post"``, default), and ``x^-`` as the
    activity on the other side, the pre-synaptic neuron ``j``:

    .. math::
        \Delta w_{ij} = t_1\,t_2\,y_i\,(1 - t_2\,x_j).

    ``positive="pre"`` swaps the roles (:math:`\Delta w_{ij} = t_1 t_2 x_j (1 - t_2 y_i)`). The
    rule potentiates a synapse whose post neuron is active, less so the more active the other
    side is; with activities in ``[0, 1/t_2]`` the second factor stays in ``[0, 1]`` and the rule
    never depresses.

    **The worked example.** With :math:`t_1 = 0.1`, :math:`x^+ = 0.8`, :math:`x^- = 0.2`:

    * :math:`t_2 = 0.5`: :math:`0.1 \cdot 0.4 \cdot (1 - 0.1) = 0.036`;
    * :math:`t_2 = 1`: :math:`0.1 \cdot 0.8 \cdot (1 - 0.2) = 0.064`.

    The document's stated result 0.08 equals :math:`t_1 t_2 x^+` with :math:`t_2 = 1`, i.e. the
    product *without* the :math:`(1 - t_2 x^-)` factor (or with :math:`x^- = 0`); no value of
    :math:`t_2` near 1 gives 0.08 with :math:`x^- = 0.2` (the roots of
    :math:`t_2 (1 - 0.2 t_2) = 1` are 1.38 and 3.62). We implement the formula, not the number.

    Attributes:
        t1: learning rate :math:`t_1` (any finite value; negative flips the sign).
        t2: activity gain :math:`t_2`.
        positive: which side is :math:`x^+`: ``"post"`` (default) or ``"pre"``.

    Example:
        >>> import torch
        >>> rule = SeedHebb(t1=0.1, t2=0.5)
        >>> dw, _ = rule.step(torch.tensor([[0.2]]), torch.tensor([[0.8]]), torch.zeros(1, 1))
        >>> round(dw.item(), 6)
        0.036
    """

    t1: float = 0.1
    t2: float = 1.0
    positive: str = "post"

    def validate(self) -> None:
        _check_finite_number("t1", self.t1)
        _check_finite_number("t2", self.t2)
        check_in_choices("positive", self.positive, ("post", "pre"))

    def _stateless_in_time(self) -> bool:
        return True

    def _step(self, pre, post, weight, state, m):
        if self.positive == "post":
            dw = self._outer(post, 1.0 - self.t2 * pre, m, scale=self.t1 * self.t2)
        else:
            dw = self._outer(1.0 - self.t2 * post, pre, m, scale=self.t1 * self.t2)
        return dw, state


@register_rule("hebb")
@dataclasses.dataclass(frozen=True, kw_only=True)
class Hebb(Rule):
    r"""Plain Hebbian learning :math:`\Delta w_{ij} = \eta\, y_i\, x_j` (Hebb 1949).

    Unstable on its own (weights grow without bound): pair it with weight bounds, weight
    normalisation (:func:`~neuroplastic.plasticity.homeostasis.normalize_weights`) or
    competition, or use :class:`Oja`.

    Attributes:
        lr: learning rate :math:`\eta`.
    """

    lr: float = 0.01

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)

    def _stateless_in_time(self) -> bool:
        return True

    def _step(self, pre, post, weight, state, m):
        return self._outer(post, pre, m, scale=self.lr), state


@register_rule("oja")
@dataclasses.dataclass(frozen=True, kw_only=True)
class Oja(Rule):
    r"""Oja's rule (Oja 1982): Hebbian growth with a decay that keeps :math:`\|w_i\| \to 1`.

    .. math::
        \Delta w_{ij} = \eta\, y_i\,(x_j - y_i\, w_{ij}), \qquad y_i = \textstyle\sum_j w_{ij} x_j

    For a linear neuron on zero-mean inputs the weight vector converges to the unit-norm first
    principal component of the input covariance (``post`` must be the linear response
    ``pre @ weight.T`` for that result).

    Attributes:
        lr: learning rate :math:`\eta` (small: ``lr * largest eigenvalue << 1``).
    """

    lr: float = 0.01

    def validate(self) -> None:
        _check_finite_number("lr", self.lr)

    def _stateless_in_time(self) -> bool:
        return True

    def _step(self, pre, post, weight, state, m):
        dw = self._outer(post, pre, m, scale=self.lr)
        return dw.addcmul_(weight, self._rows(post * post, m), value=-self.lr), state

    def _default_post(self, pre: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return pre @ weight.T
