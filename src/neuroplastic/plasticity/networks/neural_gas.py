r"""Rank-ordered competition (neural gas) for a dense Hebbian layer: :func:`rank_competition_step`
with its annealing schedule :func:`rank_schedule`.

Used by :class:`~neuroplastic.models.HebbianNetwork` (``hebb_competition="rank"``) over the first
half of its plasticity passes; pure functions of a :class:`~._hebb_layers.HebbianDense` and a batch.
"""
from __future__ import annotations

import torch

from neuroplastic.plasticity.networks._hebb_layers import HebbianDense

__all__ = ["RANK_FRACTION", "RANK_RANGE", "RANK_RATE", "rank_competition_step", "rank_schedule"]

RANK_FRACTION = 0.5            # neural gas over the first half of the passes, then the layer's own rule
RANK_RANGE = (None, 0.01)      # lambda: n_units / 2 -> 0.01
RANK_RATE = (0.5, 0.05)        # epsilon: 0.5 -> 0.05 (0.005 leaves the units short of their inputs' mean)


def rank_schedule(progress: float, n_units: int) -> tuple[float, float]:
    r"""Neural-gas range and rate at ``progress`` :math:`t \in [0, 1]`, both annealed geometrically:
    :math:`\lambda = \lambda_0 (\lambda_1 / \lambda_0)^{t}` from :math:`n_{units} / 2` to 0.01 and
    :math:`\epsilon = \epsilon_0 (\epsilon_1 / \epsilon_0)^{t}` from 0.5 to 0.05.

    Example:
        >>> rank_schedule(0.0, 64), tuple(round(v, 6) for v in rank_schedule(1.0, 64))
        ((32.0, 0.5), (0.01, 0.05))
    """
    t = min(max(float(progress), 0.0), 1.0)
    lam1, (eps0, eps1) = RANK_RANGE[1], RANK_RATE
    lam0 = max(n_units / 2.0, lam1)
    return lam0 * (lam1 / lam0) ** t, eps0 * (eps1 / eps0) ** t


def rank_competition_step(layer: HebbianDense, x: torch.Tensor, neighbourhood: float, rate: float) -> torch.Tensor:
    r"""One rank-ordered (neural-gas) Hebbian step of a dense layer, in place.

    Graded lateral inhibition ordered by response (Martinetz & Schulten 1991, on directions): for
    each input direction :math:`\hat x_b = z_b / \lVert z_b \rVert` (:math:`z_b` the layer's
    standardised input) the units are ranked by their response :math:`u_{bk} = w_k \cdot \hat x_b`
    (rank :math:`r_{bk} = 0` for the strongest), and every unit moves toward the input in proportion
    to :math:`h_{bk} = e^{-r_{bk} / \lambda}`:

    .. math::
        \Delta w_k = \epsilon\, \frac{\sum_b h_{bk}\,\big(\hat x_b - (w_k \cdot \hat x_b)\, w_k\big)}
        {\max\big(1, \sum_b h_{bk}\big)}

    (the batch's neighbourhood-weighted mean, so that no unit moves by more than :math:`\epsilon`
    of the way per batch; a single input gives the textbook step). As :math:`\lambda \to 0`,
    :math:`h` is the one-hot winner: winner-only online k-means on directions with rate
    :math:`\epsilon`. A large :math:`\lambda` moves every unit toward every input, the later-ranked
    ones less: the soft competition lets units stranded by a bad start reach the data.

    Args:
        layer: a :class:`~._hebb_layers.HebbianDense`.
        x: ``[B, n_in]`` inputs (before standardisation).
        neighbourhood: :math:`\lambda > 0`. rate: :math:`\epsilon` in (0, 1] (see :func:`rank_schedule`).

    Returns:
        The neighbourhood weights ``h [B, n_units]``.
    """
    if not isinstance(layer, HebbianDense):
        raise ValueError(f"rank competition needs a HebbianDense layer, got {type(layer).__name__}")
    if not neighbourhood > 0 or not 0 < rate <= 1:
        raise ValueError(f"neighbourhood must be > 0 and rate in (0, 1], got {neighbourhood} and {rate}")
    with torch.no_grad():
        z = layer.code(x)
        xh = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        w = layer.weight
        u = xh @ w.T
        rank = u.argsort(1, descending=True).argsort(1).to(u.dtype)
        h = torch.exp(-rank / float(neighbourhood))
        dw = h.T @ xh - (h * u).sum(0).unsqueeze(1) * w
        w.add_(float(rate) * dw / h.sum(0).clamp_min(1.0).unsqueeze(1))
    return h
