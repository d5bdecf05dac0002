"""Diehl & Cook (2015) network: step dynamics by hand, fused C == reference, estimator behaviour."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from neuroplastic._core.registry import available_backends
from neuroplastic.models import DiehlCook
from neuroplastic.plasticity.networks import DiehlCookParams, diehl_cook_init, diehl_cook_step, poisson_spikes
from neuroplastic.plasticity.networks._dc_c import available as c_available
from neuroplastic.plasticity.networks._dc_c import present_c
from neuroplastic.plasticity.networks._dc_engine import normalize_input_major_, present_reference

F64 = torch.float64


def _params(**kw) -> DiehlCookParams:
    return DiehlCookParams(**{"t_present": 0.01, **kw})


def test_membrane_step_by_hand() -> None:
    p = _params()
    w = torch.tensor([[2.0, 0.5]], dtype=F64)                      # 1 input -> 2 neurons
    st = diehl_cook_init(1, 1, 2, p, dtype=F64)
    st = st._replace(v=torch.tensor([[-60.0, -64.0]], dtype=F64))
    s, new, dw, theta = diehl_cook_step(torch.ones(1, 1), st, w, torch.zeros(2, dtype=F64), p, learn=False)
    beta = math.exp(-1e-3 / 0.1)
    expected = torch.tensor([[-65 + 5 * beta + 2.0, -65 + 1 * beta + 0.5]], dtype=F64)
    assert torch.allclose(new.v, expected, atol=1e-12)
    assert s.sum() == 0 and dw is None


def test_adaptive_threshold_rises_by_theta_plus_per_spike() -> None:
    p = _params(theta_plus=0.05, tau_theta=1e4)
    w = torch.tensor([[20.0, 0.0]], dtype=F64)                     # a big jump: neuron 0 fires at once
    st = diehl_cook_init(1, 1, 2, p, dtype=F64)
    theta0 = torch.tensor([1.0, 2.0], dtype=F64)
    s, st, dw, theta = diehl_cook_step(torch.ones(1, 1), st, w, theta0, p, learn=True)
    assert s.tolist() == [[1.0, 0.0]]
    decay = math.exp(-1e-3 / 1e4)
    assert torch.allclose(theta, torch.tensor([1.0 * decay + 0.05, 2.0 * decay], dtype=F64), atol=1e-15)
    assert st.v[0, 0] == p.v_reset
    # a batch of 3 identical samples adds 3 increments (sum over the batch, as if shown in turn)
    s3, _, _, theta3 = diehl_cook_step(torch.ones(3, 1), diehl_cook_init(3, 1, 2, p, dtype=F64), w, theta0, p)
    assert s3[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert abs(float(theta3[0]) - (1.0 * decay + 3 * 0.05)) < 1e-15


def test_theta_raises_the_effective_threshold() -> None:
    p = _params()
    w = torch.tensor([[14.0]], dtype=F64)                          # v = -65 + 14 = -51 > -52
    st = diehl_cook_init(1, 1, 1, p, dtype=F64)
    s_low, *_ = diehl_cook_step(torch.ones(1, 1), st, w, torch.zeros(1, dtype=F64), p, learn=False)
    s_high, *_ = diehl_cook_step(torch.ones(1, 1), st, w, torch.full((1,), 2.0, dtype=F64), p, learn=False)
    assert s_low.item() == 1.0 and s_high.item() == 0.0


@pytest.mark.parametrize("one_spike", [True, False])
def test_lateral_inhibition_stops_the_other_neurons(one_spike: bool) -> None:
    p = _params(w_inh=17.5, one_spike=one_spike, t_ref=0.0)
    w = torch.tensor([[20.0, 19.0, 5.0]], dtype=F64)               # neurons 0 and 1 cross, 2 does not
    st = diehl_cook_init(1, 1, 3, p, dtype=F64)
    s, st, _, _ = diehl_cook_step(torch.ones(1, 1), st, w, torch.zeros(3, dtype=F64), p, learn=False)
    if one_spike:   # only the largest v - threshold fires; the inhibition is felt at the next step
        assert s.tolist() == [[1.0, 0.0, 0.0]]
        assert st.inh.tolist() == [[0.0, -17.5, -17.5]]
    else:
        assert s.tolist() == [[1.0, 1.0, 0.0]]
        assert st.inh.tolist() == [[-17.5, -17.5, -35.0]]
    v_before = st.v.clone()
    s2, st2, _, _ = diehl_cook_step(torch.zeros(1, 1), st, w, torch.zeros(3, dtype=F64), p, learn=False)
    beta = math.exp(-1e-3 / 0.1)
    assert torch.allclose(st2.v, -65 + (v_before + 65) * beta + st.inh, atol=1e-12)
    assert s2.sum() == 0                                          # the losers are pushed below threshold


def test_refractory_neuron_ignores_input() -> None:
    p = _params(t_ref=3e-3, w_inh=0.0)
    assert p.ref_steps == 3
    w = torch.tensor([[20.0]], dtype=F64)
    st = diehl_cook_init(1, 1, 1, p, dtype=F64)
    fired = []
    for _ in range(6):
        s, st, _, _ = diehl_cook_step(torch.ones(1, 1), st, w, torch.zeros(1, dtype=F64), p, learn=False)
        fired.append(int(s.item()))
    assert fired == [1, 0, 0, 0, 1, 0]


def test_stdp_potentiates_recent_inputs_of_a_firing_neuron() -> None:
    p = _params(nu_pre=0.0, nu_post=0.01, tau_pre=20e-3)
    w = torch.tensor([[0.0], [20.0]], dtype=F64)                   # input 1 makes the neuron fire
    st = diehl_cook_init(1, 2, 1, p, dtype=F64)
    _, st, dw, _ = diehl_cook_step(torch.tensor([[1.0, 0.0]]), st, w, torch.zeros(1, dtype=F64), p)
    assert torch.all(dw == 0)                                      # no post spike yet
    s, st, dw, _ = diehl_cook_step(torch.tensor([[0.0, 1.0]]), st, w, torch.zeros(1, dtype=F64), p)
    assert s.item() == 1.0
    # post spike: dw_i = nu_post * x_pre_i; x_pre = (e^{-1/20}, 1) (nearest-spike traces)
    assert torch.allclose(dw, torch.tensor([[0.01 * math.exp(-1 / 20)], [0.01]], dtype=F64), atol=1e-15)


def test_normalisation_keeps_each_neurons_sum() -> None:
    w = torch.rand(30, 4, dtype=F64)
    normalize_input_major_(w, 7.0)
    assert torch.allclose(w.sum(0), torch.full((4,), 7.0, dtype=F64), atol=1e-12)
    rng = np.random.default_rng(0)
    X = rng.random((12, 16)).astype(np.float32)
    clf = DiehlCook(n_neurons=5, t_present=0.05, max_rate=200.0, norm=4.0, random_state=0)
    clf.partial_fit(X, np.arange(12) % 2)
    assert torch.allclose(clf.weight_.sum(0), torch.full((5,), 4.0), atol=1e-4)
    assert float(clf.weight_.min()) >= 0.0


@pytest.mark.skipif(not c_available(), reason="no C compiler")
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("learn", [True, False])
@pytest.mark.parametrize("one_spike, trace", [(True, "nearest"), (False, "all")])
def test_fused_c_matches_reference(batch: int, learn: bool, one_spike: bool, trace: str) -> None:
    p = DiehlCookParams(t_present=0.06, one_spike=one_spike, trace=trace, w_inh=5.0, nu_pre=1e-3, nu_post=5e-2,
                        theta_plus=0.5, t_ref=2e-3)
    g = torch.Generator().manual_seed(batch)
    w = 0.6 * torch.rand(40, 7, dtype=F64, generator=g)
    theta = torch.rand(7, dtype=F64, generator=g)
    rates = 0.3 * torch.rand(batch, 40, dtype=F64, generator=g)
    spikes = poisson_spikes(rates, p.n_steps, g)
    w1, t1, w2, t2 = w.clone(), theta.clone(), w.clone(), theta.clone()
    c1 = present_reference(w1, t1, rates, p, learn=learn, spikes=spikes)
    c2 = present_c(w2, t2, rates, p, learn=learn, spikes=spikes)
    assert c1.sum() > 0
    assert torch.equal(c1, c2)
    assert torch.allclose(w1, w2, atol=1e-12) and torch.allclose(t1, t2, atol=1e-12)


@pytest.mark.skipif(not c_available(), reason="no C compiler")
def test_fused_c_poisson_input_rate() -> None:
    # one input per neuron, each input spike fires its neuron at once: counts = input spike counts
    n, T = 64, 200
    p = DiehlCookParams(t_present=T * 1e-3, t_ref=0.0, w_inh=0.0, one_spike=False, tau_mem=1e-4)
    w = torch.eye(n, dtype=torch.float32) * 20.0
    prob = torch.linspace(0.01, 0.5, n).unsqueeze(0)
    counts = present_c(w, torch.zeros(n), prob.expand(50, n).contiguous(), p, learn=False,
                       generator=torch.Generator().manual_seed(0)).double()
    mean = counts.mean(0) / T                                           # 50 x 200 Bernoulli trials per input
    sd = (prob[0].double() * (1 - prob[0].double()) / (50 * T)).sqrt()
    assert torch.all((mean - prob[0].double()).abs() < 4.5 * sd)


def test_backends_registered() -> None:
    names = available_backends("diehl_cook_present", "cpu")
    assert "reference" in names
    if c_available():
        assert names[0] == "cpu_fused"


def test_learns_separable_patterns_and_predicts_proba() -> None:
    X = np.repeat(np.eye(4), 10, axis=0).astype(np.float32)
    y = np.repeat(np.array(["a", "b", "c", "d"]), 10)
    clf = DiehlCook(n_neurons=8, epochs=1, theta_plus=0.05, t_present=0.1, max_rate=600.0, norm=2.0,
                    random_state=0).fit(X, y)
    assert (clf.predict(X) == y).all()
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 4) and np.allclose(proba.sum(1), 1.0)
    assert clf.transform(X).shape == (40, 8)
    assert set(clf.labels_.tolist()) <= {-1, 0, 1, 2, 3}


@pytest.mark.parametrize("kw, match", [
    (dict(n_neurons=0), "n_neurons"),
    (dict(batch_size=1.5), "batch_size"),
    (dict(tau_theta=-1.0), "tau_theta"),
    (dict(dtype="float16"), "dtype"),
    (dict(t_present=1e-4), "t_present"),
    (dict(norm=-3.0), "norm"),
    (dict(max_retries=-1), "max_retries"),
])
def test_bad_settings_name_the_fix(kw: dict, match: str) -> None:
    X = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        DiehlCook(**kw).fit(X, np.arange(6) % 2)


def test_inputs_are_mapped_into_the_unit_interval_by_the_training_range() -> None:
    """Rates need [0, 1]: fit maps each feature by (x - min(0, lo)) / (max(1, hi) - min(0, lo)), so an
    affine copy of 0/1 images trains exactly like the images, and pixels in [0, 1] pass unchanged."""
    X01 = np.repeat(np.eye(4), 10, axis=0).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    kw = dict(n_neurons=8, epochs=1, theta_plus=0.05, t_present=0.1, max_rate=600.0, norm=2.0, random_state=0)
    ref = DiehlCook(**kw).fit(X01, y)
    np.testing.assert_array_equal(ref.input_min_, np.zeros(4))
    np.testing.assert_array_equal(ref.input_max_, np.ones(4))
    X = X01 * 200.0 - 50.0                       # values -50 and 150: (x + 50) / 200 gives back 0 and 1
    clf = DiehlCook(**kw).fit(X, y)
    np.testing.assert_array_equal(clf.input_min_, np.full(4, -50.0))
    np.testing.assert_array_equal(clf.input_max_, np.full(4, 150.0))
    assert torch.equal(clf.weight_, ref.weight_) and torch.equal(clf.theta_, ref.theta_)
    np.testing.assert_array_equal(clf.transform(X), ref.transform(X01))
    beyond = X01 * 1000.0 - 500.0                # clipped to the training range, i.e. to 0 and 1
    np.testing.assert_array_equal(clf.predict(beyond), ref.predict(X01))


def test_params_validate() -> None:
    with pytest.raises(ValueError, match="v_th"):
        DiehlCookParams(v_th=-70.0)
    with pytest.raises(ValueError):
        DiehlCookParams(trace="sometimes")
    assert dataclasses.replace(DiehlCookParams(), t_present=0.35).n_steps == 350
