"""River estimators built on the library's streaming models (optional: ``pip install neuroplastic[river]``).

* :class:`SpikingAnomalyDetector` -- a ``river.base.AnomalyDetector`` running one
  :class:`neuroplastic.streaming.SpikingAnomalyDetector` channel per feature (score: the largest).
* :class:`SpikingForecaster` -- a ``river.time_series.base.Forecaster`` over
  :class:`neuroplastic.streaming.SpikingForecaster`; ``forecast(h)`` iterates one-step forecasts
  on a copy of the state, without learning.
* :class:`SpikingClassifier` -- a ``river.base.Classifier``: running-standardised features,
  population-coded by Gaussian receptive fields (a rate layer), softmax readout trained online
  by SGD; new classes may appear at any time.

Feature policy (all three): features are matched by name, so their order never matters. A
feature seen for the first time starts from fresh running statistics; a feature missing from
``x`` is treated as its running mean (classifier) or its channel is left untouched (anomaly
detector). Non-numeric values raise ``TypeError`` naming the feature. This package is not
imported by ``import neuroplastic``.
"""
from __future__ import annotations

try:
    import river as _river  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without river
    raise ImportError("neuroplastic.river needs the river package: pip install neuroplastic[river]") from exc

from neuroplastic.river.anomaly import SpikingAnomalyDetector
from neuroplastic.river.classifier import SpikingClassifier
from neuroplastic.river.forecast import SpikingForecaster

__all__ = ["SpikingAnomalyDetector", "SpikingClassifier", "SpikingForecaster"]
