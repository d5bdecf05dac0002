"""ResonanceLayer: hand-computed fuzzy-ART responses, learning cases, scale covariance, checkpoints."""
from __future__ import annotations

import numpy as np
import pytest

from neuroplastic.streaming import ResonanceLayer
from neuroplastic.streaming.resonance import UNCOMMITTED_RESPONSE


def primed(n_features=1, n_level=0, lo=0.0, hi=1.0):
    layer = ResonanceLayer(n_features, n_level)
    layer.set_vigilance(lo, hi)
    layer.step(np.zeros(n_features))  # first presentation primes only
    return layer


def test_first_presentation_primes_and_second_recruits_a_novel_neuron():
    layer = ResonanceLayer(1)
    layer.set_vigilance(0.5, 0.9)
    r0 = layer.step(np.array([0.2]))
    assert (r0.novel, r0.recruited, layer.size) == (False, False, 0)
    r1 = layer.step(np.array([0.2]))
    # only the uncommitted neuron answers: M = 0.5^3 * 0.5^2 < rho_low
    assert r1.novel and r1.recruited and r1.match == UNCOMMITTED_RESPONSE == 0.5**5
    assert layer.size == 1
    np.testing.assert_array_equal(layer.weights[0], [0.2, 0.8])  # complement coded [x, 1 - x]


def test_hand_computed_response_one_feature():
    layer = primed(lo=0.0, hi=1.0)
    layer.step(np.array([0.2]))  # neuron W = [0.2, 0.8]
    # x = 0.6: |I ^ W| = min(.6,.2) + min(.4,.8) = 0.6, |W| = 1 -> m = 0.6; e = m for D = 1
    resp, e, em = layer.respond(np.array([0.6]))
    assert resp[0] == pytest.approx(0.6**3 * 0.6**2)
    assert e[0] == pytest.approx(0.6)
    np.testing.assert_allclose(em[0], [0.2, 0.4])


def test_hand_computed_response_level_term_uses_last_feature():
    layer = primed(n_features=2, lo=0.0, hi=1.0)
    layer.step(np.array([0.5, 0.2]))  # W = [0.5, 0.2, 0.5, 0.8]
    resp, e, _ = layer.respond(np.array([0.5, 0.6]))
    # I = [.5, .6, .5, .4]; I ^ W = [.5, .2, .5, .4] (sum 1.6), |W| = 2 -> m = 0.8
    # level term: (min(.6,.2) + min(.4,.8)) / (.2 + .8) = 0.6
    assert e[0] == pytest.approx(0.6)
    assert resp[0] == pytest.approx(0.8**3 * 0.6**2)


def test_resonance_grows_the_box_and_near_match_recruits():
    layer = primed(lo=0.3, hi=0.5)
    layer.step(np.array([0.2]))
    r = layer.step(np.array([0.3]))  # m = (0.2 + 0.7) / 1 = 0.9 -> M = 0.59 >= 0.5: resonance
    assert not r.recruited and r.match == pytest.approx(0.9**5)
    np.testing.assert_allclose(layer.weights[0], [0.2, 0.7])  # box now [0.2, 0.3]
    r = layer.step(np.array([0.6]))  # m = (0.2 + 0.4) / 0.9 = 2/3 -> M = 0.13: below 0.3
    assert r.novel and r.recruited and layer.size == 2
    layer.set_vigilance(0.1, 0.5)
    r = layer.step(np.array([0.9]))  # best M in [0.1, 0.5): near match, recruited, not novel
    assert r.recruited and not r.novel and layer.size == 3


def test_learn_false_changes_nothing():
    layer = primed(lo=0.3, hi=0.5)
    layer.step(np.array([0.2]))
    w = layer.weights.copy()
    r = layer.step(np.array([0.25]), learn=False)
    assert not r.recruited and layer.size == 1
    np.testing.assert_array_equal(layer.weights, w)


def test_widening_the_range_keeps_boxes_on_the_same_raw_values():
    rng = np.random.default_rng(3)
    layer = ResonanceLayer(3, n_level=2)
    layer.set_vigilance(0.2, 0.6)
    layer.set_range(10.0, 5.0)
    raw = [np.array([rng.uniform(), *rng.uniform(10, 15, 2)]) for _ in range(30)]
    for f in raw:
        layer.step(f)
    k = layer.size
    w = layer.weights[:k].copy()
    lo_raw = w[:, 1:3] * 5.0 + 10.0  # box corners in signal units
    hi_raw = (1 - w[:, 4:6]) * 5.0 + 10.0
    layer.set_range(-20.0, 100.0)
    np.testing.assert_allclose(layer.weights[:k, 1:3], (lo_raw + 20.0) / 100.0, rtol=1e-12)
    np.testing.assert_allclose(layer.weights[:k, 4:6], 1 - (hi_raw + 20.0) / 100.0, rtol=1e-12)
    np.testing.assert_array_equal(layer.weights[:k, [0, 3]], w[:, [0, 3]])  # shape features untouched
    np.testing.assert_allclose(layer.normalise(np.array([0.5, 30.0, -20.0])), [0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="span"):
        layer.set_range(0.0, 0.0)


def test_state_round_trip():
    layer = primed(n_features=2, n_level=1, lo=0.2, hi=0.6)
    for v in ([0.1, 3.0], [0.9, 4.0], [0.5, 3.5]):
        layer.step(np.array(v))
    scalars, w = layer.state()
    other = ResonanceLayer(2, n_level=1)
    other.load(scalars, w)
    probe = np.array([0.4, 3.2])
    np.testing.assert_array_equal(other.respond(other.normalise(probe))[0], layer.respond(layer.normalise(probe))[0])
    with pytest.raises(ValueError, match="do not fit"):
        ResonanceLayer(3).load(scalars, w)
