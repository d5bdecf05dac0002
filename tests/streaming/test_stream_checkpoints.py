"""Checkpointing a running stream: save mid-stream, load, continue, and get the uninterrupted scores."""
from __future__ import annotations

import json
import math
from collections import deque

import numpy as np
import pytest

from neuroplastic import io
from neuroplastic.streaming import SpikingAnomalyDetector, SpikingForecaster
from neuroplastic.streaming._state_io import decode, encode


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * np.pi / 50) + 0.05 * rng.standard_normal(n)
    x[int(0.8 * n):int(0.8 * n) + 10] += 3.0
    return x


@pytest.mark.parametrize("cut", [5, 300, 1100])
def test_anomaly_detector_resumes_exactly(tmp_path, cut):
    x = _signal(1500)
    whole = SpikingAnomalyDetector(steps=(1, 2), rows_per_step=400.0).score_many(x)
    first = SpikingAnomalyDetector(steps=(1, 2), rows_per_step=400.0)
    head = first.score_many(x[:cut])
    io.save(first, tmp_path / "det")
    second = io.load(tmp_path / "det")
    tail = second.score_many(x[cut:])
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)
    assert whole[1200:1210].max() > 0                    # the burst is seen, so the comparison means something


def test_dict_stream_keeps_its_feature_names(tmp_path):
    rows = [{"cpu": float(v), "mem": float(2 * v)} for v in _signal(400)]
    whole = [SpikingAnomalyDetector(steps=(1,), rows_per_step=0.0).score_many(rows)]
    det = SpikingAnomalyDetector(steps=(1,), rows_per_step=0.0)
    head = det.score_many(rows[:150])
    io.save(det, tmp_path / "d")
    back = io.load(tmp_path / "d")
    assert back._keys == ("cpu", "mem")
    np.testing.assert_array_equal(np.concatenate([head, back.score_many(rows[150:])]), whole[0])
    with pytest.raises(ValueError, match="features"):
        back.learn_one({"cpu": 1.0})                      # a row without "mem" is still refused


def test_forecaster_resumes_exactly(tmp_path):
    x = _signal(900)
    whole = SpikingForecaster().forecast_many(x)
    f = SpikingForecaster()
    head = f.forecast_many(x[:400])
    io.save(f, tmp_path / "f")
    tail = io.load(tmp_path / "f").forecast_many(x[400:])
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)


def test_fresh_models_save_only_their_settings():
    assert "stream_state" not in SpikingAnomalyDetector().get_config()
    assert "stream_state" not in SpikingForecaster().get_config()
    det = SpikingAnomalyDetector()
    det.learn_one(1.0)
    assert "stream_state" in det.get_config()
    assert "stream_state" not in det.reset().get_config()


def test_state_codec_round_trips_and_refuses_unknown_classes():
    value = {1: deque([1.5, float("nan")], maxlen=3), (2, "a"): [np.arange(6, dtype=np.int32).reshape(2, 3), None],
             "t": (True, -math.inf, np.float64(0.1))}
    back = decode(json.loads(json.dumps(encode(value), allow_nan=False)))
    assert back[1].maxlen == 3 and back[1][0] == 1.5 and math.isnan(back[1][1])
    assert back[(2, "a")][0].dtype == np.int32 and back[(2, "a")][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["t"] == (True, -math.inf, 0.1)
    with pytest.raises(TypeError, match="register"):
        encode(object())
    with pytest.raises(ValueError, match="not a registered state class"):
        decode({"o": "os.system", "v": {}})
