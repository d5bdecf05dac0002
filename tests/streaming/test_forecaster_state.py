"""The forecaster as a pure step over NamedTuple state: equal to the wrapper, immutable, saved as arrays."""
from __future__ import annotations

import numpy as np
import pytest

from neuroplastic import io
from neuroplastic.streaming import SpikingForecaster
from neuroplastic.streaming.forecast import ForecasterState, SpikingForecasterConfig, forecaster_step


def _series(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = np.sin(np.arange(n) * 2 * np.pi / 40) + 0.2 * rng.standard_normal(n)
    ts = np.datetime64("2026-03-01T00:00") + np.arange(n) * np.timedelta64(10, "m")
    return x, ts


def test_pure_step_equals_the_wrapper_bit_for_bit():
    x, ts = _series(500)
    f = SpikingForecaster()
    want = [f.forecast_one(v, ts[i]) for i, v in enumerate(x.tolist())]
    state, got = None, []
    for i, v in enumerate(x.tolist()):
        (_, nxt), state = forecaster_step(v, state, timestamp=ts[i])
        got.append(nxt)
    np.testing.assert_array_equal(np.array(got), np.array(want))
    assert isinstance(state, ForecasterState)
    np.testing.assert_array_equal(state.w, f.state.w)


def test_pure_step_leaves_its_input_alone_and_predict_one_does_not_learn():
    x, _ = _series(300)
    state = None
    for v in x[:200].tolist():
        _, state = forecaster_step(v, state)
    a, _ = forecaster_step(1.5, state)
    b, _ = forecaster_step(1.5, state)
    assert a == b
    with pytest.raises(ValueError):
        state.w[0] = 1.0                       # read-only
    f = SpikingForecaster()
    f.state = state
    p1 = f.predict_one(0.3)
    assert p1 == f.predict_one(0.3)           # the peek learned nothing
    assert p1 == forecaster_step(0.3, state)[0][1]


def test_saved_state_holds_every_array_and_resumes(tmp_path):
    x, ts = _series(600)
    whole = [SpikingForecaster(robust=True) for _ in range(1)][0]
    want = [whole.forecast_one(v, ts[i]) for i, v in enumerate(x.tolist())]
    f = SpikingForecaster(robust=True)
    head = [f.forecast_one(v, ts[i]) for i, v in enumerate(x[:350].tolist())]
    io.save(f, tmp_path / "f")
    keys = set(io.load_tensors(tmp_path / "f"))
    assert {"readout", "stream.w", "stream.quant_sorted", "stream.history"} <= keys
    g = io.load(tmp_path / "f")
    tail = [g.forecast_one(v, ts[350 + i]) for i, v in enumerate(x[350:].tolist())]
    np.testing.assert_array_equal(np.array(head + tail), np.array(want))


def test_state_from_other_settings_is_refused():
    _, state = forecaster_step(1.0, None)
    f = SpikingForecaster(SpikingForecasterConfig(lags=3))
    with pytest.raises(ValueError, match="settings"):
        f.state = state
