"""The detector as a pure step over NamedTuple state: equal to the wrapper, never mutating, saved as arrays."""
from __future__ import annotations

import numpy as np
import pytest

from neuroplastic import io
from neuroplastic.streaming import SpikingAnomalyDetector
from neuroplastic.streaming._detector_state import ChannelState, DetectorState, UnitState
from neuroplastic.streaming.anomaly import SpikingAnomalyConfig, detector_step

CFG = SpikingAnomalyConfig(steps=(1, 2, 3), rows_per_step=150.0, window=4, warmup=40, median_memory=60,
                           edge_warmup=100, edge_refractory=50)


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * np.pi / 30) + 0.1 * rng.standard_normal(n)
    x[400:410] += 3.0
    x[520:530] -= 2.0
    return x


def test_pure_step_equals_the_wrapper_bit_for_bit():
    x = _signal(700)
    want = SpikingAnomalyDetector(CFG).score_many(x)
    state, got = None, []
    for v in x:
        s, state = detector_step(v, state, CFG)
        got.append(s)
    assert want.max() > 0
    np.testing.assert_array_equal(np.array(got), want)
    assert isinstance(state, DetectorState) and isinstance(state.units[0], UnitState)
    assert isinstance(state.units[0].channels[0], ChannelState)
    assert state.units[0].rows == 700


def test_pure_step_does_not_change_its_input_state():
    x = _signal(450)
    state = None
    for v in x[:420]:
        _, state = detector_step(v, state, CFG)
    before = SpikingAnomalyDetector(CFG)
    before.state = state
    s1, new = detector_step(x[420], state, CFG)
    s2, _ = detector_step(x[420], state, CFG)          # the same input state again: the same answer
    assert s1 == s2 and new.units[0].rows == state.units[0].rows + 1
    with pytest.raises(ValueError):
        state.units[0].channels[0].median_sorted[0] = 1.0   # arrays are read-only
    np.testing.assert_array_equal(before.score_many(x[420:]), SpikingAnomalyDetector(CFG).score_many(x)[420:])


def test_score_one_peeks_without_learning_and_matches_process_one():
    x = _signal(650)
    a, b = SpikingAnomalyDetector(CFG), SpikingAnomalyDetector(CFG)
    for v in x:
        peek = a.score_one(v)
        assert peek == a.score_one(v)                   # nothing was learned by the peek
        a.learn_one(v)
        assert peek == b.process_one(v)
    np.testing.assert_array_equal(a.state.units[0].channels[-1].layer.weights,
                                  b.state.units[0].channels[-1].layer.weights)


def test_state_is_saved_as_float64_tensors_and_resumes_exactly(tmp_path):
    x = _signal(700)
    whole = SpikingAnomalyDetector(CFG).score_many(x)
    det = SpikingAnomalyDetector(CFG)
    head = det.score_many(x[:380])
    io.save(det, tmp_path / "d")
    tensors = io.load_tensors(tmp_path / "d")
    assert tensors and all(str(t.dtype) == "torch.float64" for t in tensors.values())
    assert any(k.endswith("layer.weights") for k in tensors)
    back = io.load(tmp_path / "d")
    np.testing.assert_array_equal(np.concatenate([head, back.score_many(x[380:])]), whole)


def test_a_channel_forgets_its_oldest_category_beyond_max_categories():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3000) * np.repeat(rng.uniform(0.1, 3.0, 30), 100)   # many novel patterns
    capped = SpikingAnomalyConfig(steps=(1,), rows_per_step=0.0, max_categories=16, fire_memory=3)
    det = SpikingAnomalyDetector(capped)
    det.score_many(x)
    ch = det.state.units[0].channels[0]
    assert ch.layer.weights.shape[0] == 16 and ch.fire_matches.size <= 3
    free = SpikingAnomalyDetector(steps=(1,), rows_per_step=0.0, max_categories=None)
    free.score_many(x)
    assert free.state.units[0].channels[0].layer.weights.shape[0] > 16


def test_bad_settings_name_the_fix():
    with pytest.raises(ValueError, match="max_categories"):
        SpikingAnomalyConfig(max_categories=1)
    with pytest.raises(ValueError, match="finite"):
        detector_step(float("nan"), None, CFG)
