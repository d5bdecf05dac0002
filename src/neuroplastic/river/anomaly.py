"""River anomaly detector over :class:`neuroplastic.streaming.SpikingAnomalyDetector`."""
from __future__ import annotations

from typing import Hashable

from river.base import AnomalyDetector

from neuroplastic.river._features import numeric_items
from neuroplastic.streaming import SpikingAnomalyDetector as _StreamDetector

__all__ = ["SpikingAnomalyDetector"]


class SpikingAnomalyDetector(AnomalyDetector):
    """Spiking resonance anomaly detector as a River ``AnomalyDetector``.

    Each feature runs its own single-channel :class:`neuroplastic.streaming.SpikingAnomalyDetector`
    (resonance prototypes, homeostatic vigilance, a novelty neuron); ``score_one`` reports the
    largest channel score, in ``[0, 1]`` (most points score 0). ``score_one`` never changes the
    model.

    Features are matched by name. A new feature starts a fresh channel; a feature missing from
    ``x`` leaves its channel untouched (neither scored nor learned); NaN counts as missing; a
    non-numeric value raises ``TypeError`` naming the feature.

    Parameters:
        steps: time scales (rows integrated per step) of each channel.
        rows_per_step: experience (rows) per unit of read-out scale; ``0`` reads out the smallest.
        window: steps of history per pattern (a power of two).
        levels: quantisation levels over the running range.
        warmup: steps of learning before a channel reports.
        max_categories: prototypes kept per channel (bounds memory).
        edge_margin: edge pathway margin as a fraction of the running range (``None``: off).

    Example:
        >>> det = SpikingAnomalyDetector(steps=(1,), rows_per_step=0, warmup=16)
        >>> for i in range(200):
        ...     det.learn_one({"cpu": float(i % 4)})
        >>> det.score_one({"cpu": 2.0}) < det.score_one({"cpu": 50.0})
        True
    """

    def __init__(self, steps: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7), rows_per_step: float = 693.3,
                 window: int = 8, levels: int = 80, warmup: int = 104, max_categories: int | None = 2048,
                 edge_margin: float | None = 0.05) -> None:
        self.steps = steps
        self.rows_per_step = rows_per_step
        self.window = window
        self.levels = levels
        self.warmup = warmup
        self.max_categories = max_categories
        self.edge_margin = edge_margin
        self._make_channel()  # validates the settings now, not at the first point
        self._channels: dict[Hashable, _StreamDetector] = {}

    def _make_channel(self) -> _StreamDetector:
        return _StreamDetector(steps=tuple(self.steps), rows_per_step=self.rows_per_step, window=self.window,
                               levels=self.levels, warmup=self.warmup, max_categories=self.max_categories,
                               edge_margin=self.edge_margin)

    def learn_one(self, x: dict) -> None:
        for k, v in numeric_items(x).items():
            ch = self._channels.get(k)
            if ch is None:
                ch = self._channels[k] = self._make_channel()
            ch.learn_one(v)

    def score_one(self, x: dict) -> float:
        score = 0.0
        for k, v in numeric_items(x).items():
            ch = self._channels.get(k)
            if ch is not None:  # a feature never learned is not novel yet
                score = max(score, ch.score_one(v))
        return float(score)

    @property
    def n_features(self) -> int:
        """Channels (features) seen so far."""
        return len(self._channels)

    @classmethod
    def _unit_test_params(cls):
        yield {"steps": (1, 2), "rows_per_step": 100.0, "warmup": 16}
