"""SpikingForecaster (vs persistence, causality, River semantics) and AnomalyLikelihood (closed form)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic import io
from neuroplastic.streaming import (
    MAE,
    AnomalyLikelihood,
    SpikingForecaster,
    evaluate_prequential,
    persistence_forecast,
    seasonal_forecast,
)


def noisy_cycle(n=2400, period=50, noise=0.4, seed=0):
    t = np.arange(n)
    return 5 + np.sin(2 * np.pi * t / period) + noise * np.random.default_rng(seed).standard_normal(n)


def test_forecaster_beats_persistence_on_a_noisy_cycle():
    x = noisy_cycle()
    pred = SpikingForecaster(time_neurons=0).forecast_many(x)
    mae = np.abs(pred[1200:-1] - x[1201:]).mean()
    persist = np.abs(persistence_forecast(x)[1200:-1] - x[1201:]).mean()
    assert mae < 0.93 * persist  # (measured 0.91; predicting the noiseless cycle would give 0.68)


def test_forecaster_is_causal_and_starts_as_persistence():
    x = noisy_cycle(600)
    full = SpikingForecaster().forecast_many(x)
    part = SpikingForecaster().forecast_many(np.concatenate([x[:300], np.full(100, 1e3)]))
    np.testing.assert_array_equal(part[:300], full[:300])
    assert full[0] == x[0]  # nothing learned yet: persistence


def test_predict_one_does_not_learn_and_matches_forecast_many():
    x = noisy_cycle(400)
    ts = np.datetime64("2024-01-01T00:00") + np.arange(400) * np.timedelta64(5, "m")
    ref = SpikingForecaster().forecast_many(x, ts)
    f = SpikingForecaster()
    for i, (v, t) in enumerate(zip(x, ts)):
        p = f.predict_one({"value": v, "timestamp": t})
        assert p == f.predict_one({"value": v, "timestamp": t})
        f.learn_one({"value": v, "timestamp": t})
        assert p == ref[i]


def test_supervised_learn_one_equals_self_supervised_stream():
    x = noisy_cycle(300)
    a, b = SpikingForecaster(time_neurons=0), SpikingForecaster(time_neurons=0)
    for v, nxt in zip(x[:-1], x[1:]):
        a.learn_one(v, nxt)  # told at once what follows
        b.learn_one(v)  # learns it from the next point
    b.learn_one(x[-1])
    a.learn_one(x[-1])
    np.testing.assert_allclose(a._state.w, b._state.w, rtol=1e-12, atol=1e-15)
    assert a.predict_one(1.0) == pytest.approx(b.predict_one(1.0), rel=1e-12)


def test_evaluate_prequential_is_test_then_train():
    x = noisy_cycle(200)
    stream = [({"v": v}, nxt) for v, nxt in zip(x[:-1], x[1:])]
    mae = evaluate_prequential(SpikingForecaster(time_neurons=0), stream, MAE())
    f, preds = SpikingForecaster(time_neurons=0), []
    for xi, yi in stream:  # test, then train
        preds.append(f.predict_one(xi))
        f.learn_one(xi, yi)
    preds = np.array(preds)
    assert mae.n == len(stream)
    assert mae.get() == pytest.approx(np.abs(preds - x[1:]).mean(), rel=1e-9)
    outs = evaluate_prequential(SpikingForecaster(time_neurons=0), stream)
    np.testing.assert_allclose(outs, preds, rtol=1e-12)


def test_seasonal_forecast_by_hand():
    ts = np.datetime64("2024-01-01") + np.array([0, 12, 24, 25, 36, 49], dtype="timedelta64[h]")
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    out = seasonal_forecast(v, ts)
    # next of row 0 is t=12h: nothing a day earlier -> persistence 1.0
    # next of row 1 is t=24h: value at or before 0h -> 1.0; row 2 -> t=25h: at or before 1h -> 1.0
    # row 3 -> t=36h: at or before 12h -> 2.0; row 4 -> t=49h: at or before 25h -> 4.0
    np.testing.assert_array_equal(out, [1.0, 1.0, 1.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(persistence_forecast(v), v)


def test_forecaster_checkpoint_and_errors(tmp_path):
    f = SpikingForecaster(lags=3)
    f.forecast_many(noisy_cycle(300))
    io.save(f, tmp_path / "f")
    g = io.load(tmp_path / "f")
    assert g.config == f.config
    torch.testing.assert_close(g.state_dict()["readout"], f.state_dict()["readout"])
    with pytest.raises(ValueError, match="one numeric feature"):
        f.learn_one({"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="lags"):
        SpikingForecaster(lags=0)


def test_likelihood_closed_form():
    al = AnomalyLikelihood(short=2, long=4, learning=4, refit=100)
    raws = [0.2, 0.4, 0.2, 0.4]
    for r in raws:
        assert al.update(r) == 0.0  # learning period
    # averages so far: 0.2, 0.3, 0.3, 0.3 -> mean 0.275, var 0.001875 (above the floors)
    mean = 0.275
    std = math.sqrt(np.var([0.2, 0.3, 0.3, 0.3]))
    got = al.update(1.0)  # average of (0.4, 1.0) = 0.7
    lik = 1 - 0.5 * math.erfc((0.7 - mean) / std / math.sqrt(2))
    assert got == pytest.approx(min(1.0, math.log(1 + 1e-10 - lik) / math.log(1e-10)))
    assert got > 0.5
    # a value below the mean is reflected: as unlikely as its mirror image -> same likelihood
    assert al.likelihood(mean - 0.1) == pytest.approx(al.likelihood(mean + 0.1))


def test_likelihood_floors_and_errors():
    al = AnomalyLikelihood(short=1, long=10, learning=3, refit=1)
    for _ in range(3):
        al.update(0.0)
    al.update(0.0)
    assert al._mean == 0.03 and al._std == pytest.approx(math.sqrt(0.0003))
    with pytest.raises(ValueError, match="finite"):
        al.update(math.nan)
    with pytest.raises(ValueError, match="short"):
        AnomalyLikelihood(short=0)
