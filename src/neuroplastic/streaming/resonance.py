r"""A layer of prototype ("category") neurons that learn online by resonance.

This is the plastic core of :class:`~neuroplastic.streaming.SpikingAnomalyDetector`: a
fuzzy-ART style competitive layer (Carpenter, Grossberg & Rosen 1991, with the dual-vigilance
variant used by ARTime) written with numpy over whole arrays so that one step costs a handful of
vectorised operations, whatever the number of neurons.

Each neuron ``j`` stores a hyper-box prototype ``[lo_j, hi_j]`` over the ``D`` input features; in
complement coding its weight is :math:`W_j = [lo_j, 1 - hi_j]` and an input :math:`x \in [0,1]^D`
is presented as :math:`I = [x, 1 - x]`. With :math:`|\cdot|` the L1 norm and :math:`\wedge` the
element-wise minimum, neuron ``j`` responds with

.. math::

    m_j = \frac{|I \wedge W_j|}{|W_j|}, \qquad
    e_j = \frac{(I \wedge W_j)_{D} + (I \wedge W_j)_{2D}}{(W_j)_D + (W_j)_{2D}}, \qquad
    M_j = m_j^3 \, e_j^2,

``m`` measuring how well the whole pattern fits the box and ``e`` how well the current level
(feature ``D``, the newest sample) fits it. Learning is winner-take-all with two vigilance levels
``rho_high >= rho_low`` (homeostatic thresholds set by the caller):

* **resonance** (``max M >= rho_high``): every neuron with ``M_j >= rho_high`` grows its box to
  include the input, :math:`W_j \leftarrow I \wedge W_j` (fast Hebbian commit);
* **near match** (``rho_low <= max M < rho_high``): a new neuron is recruited at the input;
* **novelty** (``max M < rho_low``): a new neuron is recruited and the step reports ``novel``.

Scale covariance (the part that keeps the layer causal): the last ``n_level`` features are
levels in the units of the signal, normalised by a running range ``(low, span)`` that only ever
widens as new extremes arrive. Prototypes are kept in normalised units and mapped through the same
affine change whenever the range widens, so a box learned early covers exactly the same raw values
later on; nothing depends on the stream's future range.

Forgetting: with ``max_categories`` set, a layer that is full recruits into the slot of its
oldest neuron (first recruited, first forgotten), so its memory is the last ``max_categories``
categories and its size is bounded however long the stream.

The learning step itself (fast commit, :math:`W_j \leftarrow I \wedge W_j` for the resonating
neurons) is the plasticity rule :class:`neuroplastic.plasticity.FuzzyART` (``get_rule("fuzzy_art")``),
a pure torch step; this layer is its numpy twin for one sample at a time (a per-point torch call
costs more than the whole step), checked equal by the tests.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neuroplastic.streaming._state_io import register_state_class

#: Response of the always-present uncommitted neuron (all-ones weights): ``0.5**3 * 0.5**2``.
UNCOMMITTED_RESPONSE = 0.5**3 * 0.5**2


class Resonance(NamedTuple):
    """Outcome of one :meth:`ResonanceLayer.step`.

    Attributes:
        novel: no neuron matched above the low vigilance (a new category was recruited).
        match: best response ``max_j M_j`` (including the uncommitted neuron).
        level_match: level term ``e`` of the best-responding neuron.
        recruited: a neuron was added this step.
    """

    novel: bool
    match: float
    level_match: float
    recruited: bool


@register_state_class("ResonanceLayer")
class ResonanceLayer:
    """Growing layer of fuzzy-ART prototype neurons (see the module docstring).

    Args:
        n_features: input features ``D``.
        n_level: how many trailing features are levels in signal units (normalised by the
            running range); the others must already lie in ``[0, 1]``.
        capacity: initial number of neuron slots (grows by doubling).
        max_categories: most neurons kept (``None``: unbounded); when full, a recruit replaces
            the oldest neuron.

    Example:
        >>> layer = ResonanceLayer(2, n_level=0)
        >>> layer.set_vigilance(0.5, 0.9)
        >>> layer.step(np.array([0.2, 0.8])).recruited      # the very first input only primes it
        False
        >>> layer.step(np.array([0.2, 0.8])).novel          # nothing learned yet: novel
        True
        >>> layer.step(np.array([0.2, 0.8])).match          # now it resonates perfectly
        1.0
    """

    def __init__(self, n_features: int, n_level: int = 0, capacity: int = 64,
                 max_categories: int | None = None) -> None:
        if n_features < 1 or not 0 <= n_level <= n_features:
            raise ValueError(
                f"need n_features >= 1 and 0 <= n_level <= n_features, got {n_features}, {n_level}"
            )
        self.n_features = int(n_features)
        self.n_level = int(n_level)
        self.weights = np.ones((max(1, capacity), 2 * n_features))
        self.size = 0
        self.rho_low = 0.0
        self.rho_high = 0.0
        self.low = 0.0
        self.span = 1.0
        self.primed = False
        if max_categories is not None and int(max_categories) < 1:
            raise ValueError(f"max_categories must be >= 1 or None, got {max_categories}")
        self.max_categories = None if max_categories is None else int(max_categories)
        self.oldest = 0

    def copy(self) -> ResonanceLayer:
        """An independent copy (only the committed weights are copied)."""
        new = ResonanceLayer.__new__(ResonanceLayer)
        new.__dict__.update(self.__dict__)
        new.weights = self.weights.copy()
        return new

    # ----------------------------------------------------------------- state
    def set_vigilance(self, rho_low: float, rho_high: float) -> None:
        """Set the two vigilance thresholds (``rho_low`` is clipped to ``<= rho_high``)."""
        self.rho_high = float(rho_high)
        self.rho_low = float(min(rho_low, rho_high))

    def set_range(self, low: float, span: float) -> None:
        """Re-express the level features in a new normalisation ``(value - low) / span``.

        Prototype boxes are mapped through the affine change so that they keep covering the
        same raw values. Call it whenever the running range widens (never narrow it).
        """
        if span <= 0:
            raise ValueError(f"span must be > 0, got {span}")
        if low == self.low and span == self.span:
            return
        k, d, nl = self.size, self.n_features, self.n_level
        if k and nl:
            a = self.span / span
            b = (self.low - low) / span
            lo = self.weights[:k, d - nl : d]
            lo *= a
            lo += b
            # complement half: c = 1 - hi  ->  hi' = a hi + b  ->  c' = 1 - a (1 - c) - b
            c = self.weights[:k, 2 * d - nl : 2 * d]
            c *= a
            c += 1.0 - a - b
        self.low, self.span = float(low), float(span)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """Map raw features to ``[0, 1]`` with the current range (level features only)."""
        x = np.array(features, dtype=np.float64)
        if self.n_level:
            x[self.n_features - self.n_level :] -= self.low
            x[self.n_features - self.n_level :] /= self.span
        return x

    # ----------------------------------------------------------------- dynamics
    def respond(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Responses of the committed neurons to a normalised input ``x``.

        Returns:
            ``(M, e, I ∧ W)`` with shapes ``[K]``, ``[K]``, ``[K, 2D]``.
        """
        k, d = self.size, self.n_features
        w = self.weights[:k]
        inp = np.concatenate([x, 1.0 - x])
        em = np.minimum(inp, w)
        norm_w = w.sum(axis=1)
        norm_w[norm_w == 0] = 1e-3
        m = em.sum(axis=1) / norm_w
        e = (em[:, d - 1] + em[:, 2 * d - 1]) / (w[:, d - 1] + w[:, 2 * d - 1])
        return m**3 * e**2, e, em

    def step(self, features: np.ndarray, learn: bool = True) -> Resonance:
        """Present one input (raw units), compete, and learn.

        Args:
            features: ``[D]`` raw features (levels in signal units).
            learn: if False only the responses are computed (nothing is learned; the very
                first presentation still primes the layer).

        Returns:
            The :class:`Resonance` outcome.
        """
        if not self.primed:
            # the very first presentation only primes the layer (even with learn=False)
            self.primed = True
            return Resonance(False, 0.0, 0.0, False)
        x = self.normalise(features)
        top, top_e = UNCOMMITTED_RESPONSE, 0.5
        if self.size:
            resp, e, em = self.respond(x)
            j = int(np.argmax(resp))
            if resp[j] > top:
                top, top_e = float(resp[j]), float(e[j])
        if not learn:
            return Resonance(False, top, top_e, False)
        if self.size and top >= self.rho_high:
            sel = resp >= self.rho_high
            self.weights[: self.size][sel] = em[sel]
            return Resonance(False, top, top_e, False)
        self._recruit(x)
        return Resonance(top < self.rho_low, top, top_e, True)

    def _recruit(self, x: np.ndarray) -> None:
        if self.max_categories is not None and self.size >= self.max_categories:
            j = self.oldest  # full: forget the oldest neuron
            self.oldest = (j + 1) % self.size
        else:
            j = self.size
            if j == self.weights.shape[0]:
                self.weights = np.concatenate([self.weights, np.ones_like(self.weights)])
            self.size += 1
        self.weights[j, : self.n_features] = x
        self.weights[j, self.n_features :] = 1.0 - x

    # ----------------------------------------------------------------- checkpoint
    def state(self) -> tuple[dict, np.ndarray]:
        """``(scalars, weights)``: JSON-able scalars and the committed weights ``[K, 2D]``."""
        scalars = {
            "size": self.size, "rho_low": self.rho_low, "rho_high": self.rho_high,
            "low": self.low, "span": self.span, "primed": self.primed, "oldest": self.oldest,
        }
        return scalars, self.weights[: self.size].copy()

    def load(self, scalars: dict, weights: np.ndarray) -> None:
        """Restore what :meth:`state` returned."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != 2 * self.n_features or w.shape[0] != int(scalars["size"]):
            raise ValueError(
                f"weights of shape {w.shape} do not fit a layer of {self.n_features} features "
                f"with {scalars['size']} neurons"
            )
        self.weights = np.ones((max(64, 2 * w.shape[0]), 2 * self.n_features))
        self.weights[: w.shape[0]] = w
        self.size = int(scalars["size"])
        self.rho_low, self.rho_high = float(scalars["rho_low"]), float(scalars["rho_high"])
        self.low, self.span = float(scalars["low"]), float(scalars["span"])
        self.primed = bool(scalars["primed"])
        self.oldest = int(scalars.get("oldest", 0))
