"""Causal encoders: checked against numpy statistics and the torch encoders of neuroplastic.encoding."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.encoding import delta_encode, population_encode
from neuroplastic.streaming import (
    DeltaCoder,
    RunningQuantile,
    RunningStats,
    StreamEncoder,
    StreamEncoderConfig,
    population_code,
    time_features,
)

RNG = np.random.default_rng(7)


def test_running_stats_equal_numpy_without_forgetting():
    x = RNG.normal(3.0, 2.0, 500)
    rs = RunningStats()
    for i, v in enumerate(x):
        rs.update(v)
        if i in (0, 1, 10, 499):
            assert rs.mean == pytest.approx(x[: i + 1].mean(), rel=1e-12)
            assert rs.var == pytest.approx(x[: i + 1].var(), rel=1e-9, abs=1e-12)


def test_running_stats_forgetting_is_the_exponential_recursion():
    h = 20.0
    a = 1 - 2 ** (-1 / h)
    x = RNG.normal(size=200)
    rs = RunningStats(half_life=h)
    m = v = 0.0
    for n, xi in enumerate(x, start=1):
        rs.update(xi)
        al = max(1 / n, a)
        d = xi - m
        m += al * d
        v = (1 - al) * (v + al * d * d)
    assert rs.mean == pytest.approx(m) and rs.var == pytest.approx(v)
    # weights of the mean: point k weighs a (1-a)^(n-1-k) once 1/n < a
    assert rs.standardise(rs.mean) == 0.0


@pytest.mark.parametrize("window", [None, 1, 7, 50])
def test_running_quantile_matches_numpy_windows(window):
    x = RNG.integers(0, 30, 300).astype(float)  # many ties
    rq = RunningQuantile(window)
    for i, v in enumerate(x):
        rq.update(v)
        past = x[: i + 1] if window is None else x[max(0, i + 1 - window) : i + 1]
        s = np.sort(past)
        for q in (0.0, 0.25, 0.5, 0.9, 1.0):
            assert rq.quantile(q) == s[min(len(s) - 1, int(q * len(s)))]
    assert math.isnan(RunningQuantile().quantile(0.5))
    with pytest.raises(ValueError, match="window"):
        RunningQuantile(0)


def test_population_code_equals_torch_population_encode():
    z = RNG.uniform(-4, 4, 33)
    ours = np.stack([population_code(v, 9, -3.0, 3.0) for v in z])
    ref = population_encode(torch.tensor(z).unsqueeze(-1), 9, -3.0, 3.0).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    np.testing.assert_allclose(population_code(z, 9, -3.0, 3.0), ref.reshape(-1), rtol=1e-12)
    with pytest.raises(ValueError, match="n must be"):
        population_code(0.0, 1, 0, 1)


def test_delta_coder_equals_torch_delta_encode():
    x = np.cumsum(RNG.normal(size=200))
    ours = []
    dc = DeltaCoder(0.7)
    for v in x:
        ours.append(dc.step(float(v)))
    ref, _ = delta_encode(torch.tensor(x), 0.7)
    np.testing.assert_array_equal(np.array(ours), ref.numpy())


def test_time_features_hand_values():
    monday_noon = np.datetime64("2024-01-01T12:00:00")  # 2024-01-01 was a Monday
    f = time_features(monday_noon)
    np.testing.assert_allclose(f[:2], [0.0, -1.0], atol=1e-12)  # half a day
    phase = 0.5 / 7
    np.testing.assert_allclose(f[2:], [math.sin(2 * math.pi * phase), math.cos(2 * math.pi * phase)], atol=1e-12)
    np.testing.assert_allclose(time_features(np.datetime64("2024-01-08T00:00")), [0, 1, 0, 1], atol=1e-12)
    assert time_features(None).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("norm", ["standard", "robust"])
def test_stream_encoder_uses_only_past_points(norm):
    cfg = StreamEncoderConfig(norm=norm, window=50, time=False, delta=0.0, n_neurons=5)
    x = RNG.normal(10, 3, 120)
    enc = StreamEncoder(cfg)
    codes = np.stack([enc.encode(v) for v in x])
    for t in (2, 3, 30, 119):
        past = x[:t]
        if norm == "standard":
            c, s = past.mean(), past.std()
        else:
            w = np.sort(past[-50:])
            q = lambda p: w[min(len(w) - 1, int(p * len(w)))]  # noqa: E731
            c, s = q(0.5), (q(0.75) - q(0.25)) / 1.349
        z = np.clip((x[t] - c) / s, -12, 12)
        np.testing.assert_allclose(codes[t], population_code(z, 5, -3.0, 3.0), rtol=1e-9)
    # appending other futures never changes earlier codes
    enc2 = StreamEncoder(cfg)
    y = np.concatenate([x[:60], RNG.normal(100, 1, 60)])
    codes2 = np.stack([enc2.encode(v) for v in y])
    np.testing.assert_array_equal(codes2[:60], codes[:60])


def test_stream_encoder_learn_false_changes_nothing():
    enc = StreamEncoder(StreamEncoderConfig(delta=0.5))
    for v in (1.0, 2.0, 3.0):
        enc.encode(v, np.datetime64("2024-01-01T00:00"))
    a = enc.encode(10.0, learn=False)
    b = enc.encode(10.0, learn=False)
    np.testing.assert_array_equal(a, b)
    assert enc.stats.n == 3 and enc.n_features == 16 + 2 + 4
    assert enc.denormalise(enc.normalise(7.5)) == pytest.approx(7.5)


def test_encoder_config_validation():
    with pytest.raises(ValueError, match="unknown norm"):
        StreamEncoderConfig(norm="minmax")
    with pytest.raises(ValueError, match="n_neurons"):
        StreamEncoderConfig(n_neurons=1)
