"""Streaming: online learning, anomaly detection and the NAB benchmark.

River-style models (``learn_one`` / ``predict_one`` / ``score_one`` / ``learn_many``) that keep
one long simulation running across calls until ``reset()``; causal encoders; the
:class:`SpikingAnomalyDetector`; the :class:`SpikingForecaster`; NAB corpus I/O and scoring; and
the functions behind the ``neuroplastic detect``, ``forecast`` and ``nab`` commands.
"""
from neuroplastic.streaming.anomaly import DetectorState, SpikingAnomalyConfig, SpikingAnomalyDetector, detector_step
from neuroplastic.streaming.commands import NumericTable, detect_csv, forecast_csv, read_numeric_csv, run_nab
from neuroplastic.streaming.encoders import (
    DeltaCoder,
    RunningQuantile,
    RunningStats,
    StreamEncoder,
    StreamEncoderConfig,
    population_code,
    time_features,
)
from neuroplastic.streaming.forecast import (
    SpikingForecaster,
    SpikingForecasterConfig,
    persistence_forecast,
    seasonal_forecast,
)
from neuroplastic.streaming.likelihood import AnomalyLikelihood
from neuroplastic.streaming.online import MAE, RMSE, OnlineModel, as_vector, evaluate_prequential
from neuroplastic.streaming.resonance import Resonance, ResonanceLayer

__all__ = [
    "MAE", "RMSE", "AnomalyLikelihood", "DeltaCoder", "DetectorState", "detector_step", "NumericTable", "OnlineModel", "Resonance",
    "ResonanceLayer", "RunningQuantile", "RunningStats", "SpikingAnomalyConfig",
    "SpikingAnomalyDetector", "SpikingForecaster", "SpikingForecasterConfig", "StreamEncoder",
    "StreamEncoderConfig", "as_vector", "detect_csv", "evaluate_prequential", "forecast_csv", "persistence_forecast",
    "population_code", "read_numeric_csv", "run_nab", "seasonal_forecast", "time_features",
]
