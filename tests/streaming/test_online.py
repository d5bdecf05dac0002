"""River-style plumbing: input conversion, metrics, the prequential loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from neuroplastic.streaming import MAE, RMSE, SpikingAnomalyDetector, as_vector, evaluate_prequential


def test_as_vector_accepts_dicts_numbers_and_arrays():
    v, keys = as_vector({"b": 2, "a": 1.5})
    assert v.tolist() == [2.0, 1.5] and keys == ("b", "a")
    v, _ = as_vector({"a": 3, "b": 4}, keys)  # order fixed by the first dict
    assert v.tolist() == [4.0, 3.0]
    assert as_vector(2.5) == (np.array([2.5]), None)
    assert as_vector(np.float32(1))[0].dtype == np.float64
    assert as_vector([1, 2, 3])[0].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "x, keys, match",
    [
        ({"a": 1}, ("a", "b"), "missing \\['b'\\]"),
        ({"a": 1, "c": 2}, ("a",), "unexpected \\['c'\\]"),
        ({"a": "x"}, None, "non-numeric"),
        ({"a": math.inf}, None, "NaN or infinite"),
        ([[1, 2]], None, "one point"),
        ("abc", None, "cannot read"),
    ],
)
def test_as_vector_errors(x, keys, match):
    with pytest.raises(ValueError, match=match):
        as_vector(x, keys)


def test_metrics_match_numpy():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    mae, rmse = MAE(), RMSE()
    for a, b in zip(y, p):
        mae.update(a, b)
        rmse.update(a, b)
    assert mae.get() == pytest.approx(np.abs(y - p).mean())
    assert rmse.get() == pytest.approx(np.sqrt(((y - p) ** 2).mean()))
    assert math.isnan(MAE().get()) and "MAE" in repr(mae)


def test_prequential_scores_before_learning():
    x = 10 + np.sin(np.arange(800) / 5.0)
    x[700] = 100.0
    cfg = dict(steps=(1,), rows_per_step=0, warmup=16, edge_warmup=50)
    scores = evaluate_prequential(SpikingAnomalyDetector(**cfg), ({"v": v} for v in x), mode="score")
    np.testing.assert_array_equal(scores, SpikingAnomalyDetector(**cfg).score_many(x))
    seen = []
    evaluate_prequential(SpikingAnomalyDetector(**cfg), [({"v": v}, int(i == 700)) for i, v in enumerate(x)],
                         lambda y, s: seen.append((y, s)), mode="score")
    assert len(seen) == 800 and seen[700] == (1, 1.0)  # the spike broke the range before learning it
    with pytest.raises(ValueError, match="mode"):
        evaluate_prequential(SpikingAnomalyDetector(), [], mode="fit")


def test_learn_many_checks_target_length():
    with pytest.raises(ValueError, match="one target per row"):
        SpikingAnomalyDetector().learn_many(np.zeros(3), y=[1, 2])
