"""SpikingAnomalyDetector: causality, River semantics, reset, detection, config and checkpoints."""
from __future__ import annotations

import math

import numpy as np
import pytest

from neuroplastic import io
from neuroplastic.streaming import SpikingAnomalyConfig, SpikingAnomalyDetector
from neuroplastic.streaming.anomaly import haar_matrix

#: A small, fast configuration that still exercises every mechanism (3 channels, the
#: developmental read-out schedule, the edge pathway).
FAST = dict(steps=(1, 2, 3), rows_per_step=150.0, warmup=24, refractory=4, edge_warmup=100, edge_refractory=50)


def signal(n=1400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 10 + 3 * np.sin(2 * np.pi * t / 48) + 0.3 * rng.standard_normal(n)
    x[1100:1112] += 12.0  # a burst beyond anything seen
    return x


def test_haar_matrix_is_orthonormal_and_matches_the_recursive_transform():
    h = haar_matrix(8)
    np.testing.assert_allclose(h @ h.T, np.eye(8), atol=1e-12)
    x = np.arange(8.0) ** 2
    # by hand: level 1 pairs, then level 2, then level 3 (coarsest first in the output)
    a1 = (x[0::2] + x[1::2]) / math.sqrt(2)
    d1 = (x[0::2] - x[1::2]) / math.sqrt(2)
    a2 = (a1[0::2] + a1[1::2]) / math.sqrt(2)
    d2 = (a1[0::2] - a1[1::2]) / math.sqrt(2)
    a3 = (a2[0] + a2[1]) / math.sqrt(2)
    d3 = (a2[0] - a2[1]) / math.sqrt(2)
    np.testing.assert_allclose(h @ x, [a3, d3, *d2, *d1], atol=1e-12)
    with pytest.raises(ValueError, match="power of two"):
        haar_matrix(6)


def test_one_score_per_point_in_unit_interval_and_the_burst_scores_highest():
    x = signal()
    s = SpikingAnomalyDetector(**FAST).score_many(x)
    assert s.shape == x.shape and np.isfinite(s).all()
    assert s.min() >= 0.0 and s.max() <= 1.0
    assert s[1100:1112].max() == 1.0  # the burst breaks the running range: the edge pathway fires
    assert s[:24].max() == 0.0  # nothing reported during warm-up
    assert (s[600:1100] > 0).mean() < 0.05  # the normal regime is quiet


def test_causality_appending_other_futures_never_changes_earlier_scores():
    x = signal()
    full = SpikingAnomalyDetector(**FAST).score_many(x)
    for k in (1, 37, 500, 1105):
        y = np.concatenate([x[:k], np.random.default_rng(k).normal(50, 20, 200)])
        part = SpikingAnomalyDetector(**FAST).score_many(y)
        np.testing.assert_array_equal(part[:k], full[:k])


def test_score_one_does_not_learn_and_learn_one_after_it_equals_process_one():
    x = signal(600)
    a = SpikingAnomalyDetector(**FAST)
    b = SpikingAnomalyDetector(**FAST)
    c = SpikingAnomalyDetector(**FAST)
    for i, v in enumerate(x):
        s1 = a.score_one({"v": v})
        assert a.score_one({"v": v}) == s1  # scoring twice: same answer, nothing learned
        if i % 7 == 0:
            a.score_one({"v": v + 100.0})  # a probe that is never learned
            s1 = a.score_one({"v": v})
        a.learn_one({"v": v})
        b.learn_one(v)  # learn without scoring first
        assert s1 == c.process_one(np.array([v]))
    assert a.score_one(5.0) == b.score_one(5.0) == c.score_one(5.0)


def test_learn_many_equals_learn_one_and_reset_restarts_the_stream():
    x = signal(500)
    a = SpikingAnomalyDetector(**FAST).learn_many(x)
    b = SpikingAnomalyDetector(**FAST)
    for v in x:
        b.learn_one(v)
    probe = [a.score_one(v) for v in (3.0, 10.0, 40.0)]
    assert probe == [b.score_one(v) for v in (3.0, 10.0, 40.0)]
    first = SpikingAnomalyDetector(**FAST).score_many(x)
    a.reset()
    np.testing.assert_array_equal(a.score_many(x), first)


def test_multifeature_input_scores_the_largest_feature():
    x = signal(1200)
    flat = np.full_like(x, 5.0)
    both = SpikingAnomalyDetector(**FAST).score_many(np.stack([flat, x], axis=1))
    alone = SpikingAnomalyDetector(**FAST).score_many(x)
    np.testing.assert_array_equal(both, alone)  # a flat line never fires
    det = SpikingAnomalyDetector(**FAST)
    det.learn_one({"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="features changed"):
        det.learn_one({"a": 1.0})
    with pytest.raises(ValueError, match="NaN"):
        det.learn_one({"a": math.nan, "b": 1.0})


def test_read_out_schedule_grows_with_experience():
    cfg = SpikingAnomalyConfig(steps=(1, 2, 4), rows_per_step=100.0)
    # round(r / 100), then the largest configured step not above it
    assert [cfg.scale_at(r) for r in (0, 140, 160, 260, 340, 390, 10_000)] == [1, 1, 2, 2, 2, 4, 4]
    assert SpikingAnomalyConfig(rows_per_step=0).scale_at(10**6) == 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(steps=()), "steps"),
        (dict(steps=(0, 1)), "steps"),
        (dict(window=6), "power of two"),
        (dict(warmup=5), "warmup"),
        (dict(initial_vigilance=1.5), "initial_vigilance"),
        (dict(deadband=-0.1), "deadband"),
        (dict(edge_margin=-1.0), "edge_margin"),
    ],
)
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        SpikingAnomalyConfig(**bad)


def test_checkpoint_round_trip_of_the_config(tmp_path):
    det = SpikingAnomalyDetector(**FAST)
    io.save(det, tmp_path / "det")
    back = io.load(tmp_path / "det")
    assert isinstance(back, SpikingAnomalyDetector) and back.config == det.config
    x = signal(700)
    np.testing.assert_array_equal(back.score_many(x), det.score_many(x))


def test_output_is_relatively_refractory():
    rng = np.random.default_rng(1)
    x = 10 + rng.standard_normal(700)
    x[[400, 401, 460]] = [100.0, 200.0, 400.0]  # three new records
    cfg = dict(FAST, edge_refractory=0)
    s = SpikingAnomalyDetector(**cfg, output_refractory=50).score_many(x)
    assert s[400] == 1.0 and s[401] == 0.0  # as strong as the last firing, 1 row later: held back
    assert s[460] == 1.0  # 60 rows later it passes again
    s0 = SpikingAnomalyDetector(**cfg, output_refractory=0).score_many(x)
    assert s0[400] == s0[401] == s0[460] == 1.0
