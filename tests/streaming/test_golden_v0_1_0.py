"""Goldens captured with the released 0.1.0 code (commit 1f40df9): today's code must match them bit for bit.

* ``fixtures/v0_1_0/{detector,forecaster}``: checkpoints written mid-stream by 0.1.0
  (``write_fixtures.py``); loading them and feeding the next points must give the scores and
  forecasts 0.1.0 gave.
* ``fixtures/v0_1_0/nab_golden.json``: 0.1.0's per-point raw scores on the NAB streams
  (``write_nab_golden.py``); a few short streams are re-scored here (skipped without the corpus).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from neuroplastic import io
from neuroplastic.streaming import SpikingAnomalyDetector, SpikingForecaster, nab

FIX = Path(__file__).parent / "fixtures" / "v0_1_0"
EXPECTED = json.loads((FIX / "expected.json").read_text())
GOLDEN = json.loads((FIX / "nab_golden.json").read_text())


def _floats(key: str) -> np.ndarray:
    return np.array([float(v) for v in EXPECTED[key]])


def test_detector_checkpoint_of_0_1_0_continues_bit_identically():
    x, head = _floats("values"), EXPECTED["head"]
    det = io.load(FIX / "detector")
    assert isinstance(det, SpikingAnomalyDetector)
    tail = det.score_many(x[head:])
    want = _floats("detector_tail_scores")
    assert want.max() > 0                                   # the burst fires, so equality means something
    np.testing.assert_array_equal(tail, want)


def test_detector_from_scratch_reproduces_0_1_0_head_scores():
    det = io.load(FIX / "detector")
    fresh = SpikingAnomalyDetector(det.config)
    x, head = _floats("values"), EXPECTED["head"]
    np.testing.assert_array_equal(fresh.score_many(x[:head]), _floats("detector_head_scores"))


def test_forecaster_checkpoint_of_0_1_0_continues_bit_identically():
    x, head = _floats("values"), EXPECTED["head"]
    ts = np.array(EXPECTED["timestamps"], dtype="datetime64[ns]")
    fc = io.load(FIX / "forecaster")
    assert isinstance(fc, SpikingForecaster)
    tail = [fc.forecast_one(v, ts[head + i]) for i, v in enumerate(x[head:].tolist())]
    np.testing.assert_array_equal(np.array(tail), _floats("forecaster_tail"))
    fresh = SpikingForecaster()
    again = [fresh.forecast_one(v, ts[i]) for i, v in enumerate(x[:head].tolist())]
    np.testing.assert_array_equal(np.array(again), _floats("forecaster_head"))


def _corpus() -> Path | None:
    cands = []
    if os.environ.get("NEUROPLASTIC_DATA"):
        cands.append(Path(os.environ["NEUROPLASTIC_DATA"]) / "nab")
    cands.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "nab")
    return next((c for c in cands if (c / "data").is_dir()), None)


#: short streams of different kinds (ad exchange, cloudwatch, traffic)
FEW = ["realAdExchange/exchange-3_cpc_results.csv", "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
       "realTraffic/speed_t4013.csv"]


@pytest.mark.parametrize("name", FEW)
def test_nab_raw_scores_are_bit_identical_to_0_1_0(name):
    corpus = _corpus()
    if corpus is None:
        pytest.skip("no NAB corpus (../shared/data/nab or $NEUROPLASTIC_DATA/nab)")
    s = nab.read_stream(corpus / "data" / name, name, duplicates="keep")
    assert GOLDEN["streams"][name]["nonzero"] > 0          # the stream fires, so equality means something
    _check_stream(name, SpikingAnomalyDetector().score_many(s.values))


def _check_stream(name: str, scores: np.ndarray) -> None:
    g = GOLDEN["streams"][name]
    assert len(scores) == g["rows"]
    got = [[int(i), repr(float(scores[i]))] for i in np.flatnonzero(scores)[:5]]
    assert got == g["first_nonzero"], name
    assert hashlib.sha256(np.ascontiguousarray(scores, dtype="<f8").tobytes()).hexdigest() == g["sha256"], name


@pytest.mark.slow
def test_whole_nab_dev_corpus_is_bit_identical_to_0_1_0():
    """All 45 streams (about 30 s): every raw score, and the corpus score 68.84 to the last bit."""
    corpus = _corpus()
    if corpus is None:
        pytest.skip("no NAB corpus (../shared/data/nab or $NEUROPLASTIC_DATA/nab)")
    streams = nab.read_corpus(corpus, duplicates="keep")
    windows = nab.read_windows(corpus)
    results = {}
    for name, s in streams.items():
        scores = SpikingAnomalyDetector().score_many(s.values)
        _check_stream(name, scores)
        results[name] = (s.timestamps, scores)
    report = nab.score_corpus({n: r for n, r in results.items() if n in windows}, windows)
    assert repr(float(report.score)) == GOLDEN["profiles"]["standard"]["score"]
    assert repr(float(report.threshold)) == GOLDEN["profiles"]["standard"]["threshold"]
