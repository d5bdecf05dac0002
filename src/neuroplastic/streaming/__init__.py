"""Streaming: online learning, anomaly detection and the NAB benchmark.

River-style models (``learn_one`` / ``predict_one`` / ``score_one`` / ``learn_many``) that keep
one long simulation running across calls until ``reset()``; causal encoders; the
:class:`SpikingAnomalyDetector`; the :class:`SpikingForecaster`; NAB corpus I/O and scoring; and
the functions behind the ``neuroplastic detect`` and ``neuroplastic nab`` commands.
"""
from neuroplastic.streaming.anomaly import SpikingAnomalyConfig, SpikingAnomalyDetector
from neuroplastic.streaming.encoders import (
    DeltaCoder,
    RunningQuantile,
    RunningStats,
    StreamEncoder,
    StreamEncoderConfig,
    population_code,
    time_features,
)
from neuroplastic.streaming.online import MAE, RMSE, OnlineModel, as_vector, evaluate_prequential
from neuroplastic.streaming.resonance import Resonance, ResonanceLayer

__all__ = [
    "MAE", "RMSE", "DeltaCoder", "OnlineModel", "Resonance", "ResonanceLayer", "RunningQuantile",
    "RunningStats", "SpikingAnomalyConfig", "SpikingAnomalyDetector", "StreamEncoder",
    "StreamEncoderConfig", "as_vector", "evaluate_prequential", "population_code", "time_features",
]
