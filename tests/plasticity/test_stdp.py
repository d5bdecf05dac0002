"""Pair STDP (window, trace modes, soft bounds), triplet STDP and reward-modulated STDP."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.plasticity import RSTDP, STDP, TripletSTDP

DT = 1e-3


def _pair_trains(lags: list[int], t_len: int = 120, t_pre: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre spike at ``t_pre``, post at ``t_pre + lag``, one sample per lag: [T, B, 1] each."""
    pre = torch.zeros(t_len, len(lags), 1, dtype=torch.float64)
    post = torch.zeros_like(pre)
    for b, lag in enumerate(lags):
        pre[t_pre, b, 0] = 1
        post[t_pre + lag, b, 0] = 1
    return pre, post


def _run(rule, pre, post, w, modulator=None):
    state, total = None, 0.0
    for t in range(pre.shape[0]):
        dw, state = rule.step(pre[t], post[t], w, state, modulator=modulator)
        total = total + dw
    return total, state


@pytest.mark.parametrize("trace", ["all", "nearest"])
def test_stdp_window_matches_two_exponentials(trace: str) -> None:
    a_plus, a_minus, tau_p, tau_m = 0.01, 0.012, 17e-3, 34e-3
    rule = STDP(a_plus=a_plus, a_minus=a_minus, tau_plus=tau_p, tau_minus=tau_m, trace=trace, dt=DT, reduction="none")
    lags = list(range(-40, 41, 4))
    pre, post = _pair_trains(lags)
    dw, _ = _run(rule, pre, post, torch.full((1, 1), 0.5, dtype=torch.float64))
    got = dw[:, 0, 0].numpy()
    dts = np.array(lags) * DT
    expected = np.where(dts >= 0, a_plus * np.exp(-dts / tau_p), -a_minus * np.exp(dts / tau_m))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)


def test_all_to_all_versus_nearest_spike_pairing() -> None:
    pre = torch.zeros(30, 1, 1, dtype=torch.float64)
    post = torch.zeros_like(pre)
    pre[5, 0, 0] = pre[10, 0, 0] = 1
    post[20, 0, 0] = 1
    w = torch.zeros(1, 1, dtype=torch.float64)
    kw = dict(a_plus=1.0, a_minus=0.0, tau_plus=20e-3, dt=DT)
    dw_all, _ = _run(STDP(trace="all", **kw), pre, post, w)
    dw_near, _ = _run(STDP(trace="nearest", **kw), pre, post, w)
    assert dw_all.item() == pytest.approx(math.exp(-15 / 20) + math.exp(-10 / 20), rel=1e-12)
    assert dw_near.item() == pytest.approx(math.exp(-10 / 20), rel=1e-12)


def test_soft_bounds_scale_with_distance_to_bound() -> None:
    w = torch.tensor([[0.0, 0.25, 1.0]], dtype=torch.float64)  # one post neuron, three inputs
    pre_first = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64)
    post_now = torch.tensor([[1.0]], dtype=torch.float64)
    rule = STDP(a_plus=0.1, a_minus=0.2, weight_dependence="multiplicative", wmin=0.0, wmax=1.0, dt=DT)
    # same step: potentiation only, proportional to (wmax - w)
    dw, _ = rule.step(pre_first, post_now, w)
    np.testing.assert_allclose(dw.numpy()[0], 0.1 * np.array([1.0, 0.75, 0.0]), rtol=1e-12)
    # post then pre one step later: depression proportional to (w - wmin) * e^{-dt/tau_minus}
    _, st = rule.step(torch.zeros(1, 3, dtype=torch.float64), post_now, w)
    dw2, _ = rule.step(pre_first, torch.zeros(1, 1, dtype=torch.float64), w, st)
    np.testing.assert_allclose(dw2.numpy()[0], -0.2 * math.exp(-1 / 20) * np.array([0.0, 0.25, 1.0]), rtol=1e-12)
    # Gütig exponent mu
    dw3, _ = STDP(a_plus=0.1, weight_dependence="multiplicative", mu=0.5).step(pre_first, post_now, w)
    np.testing.assert_allclose(dw3.numpy()[0], 0.1 * np.sqrt([1.0, 0.75, 0.0]), rtol=1e-12)


def test_triplet_hand_computed_post_pre_post() -> None:
    p = dict(a2_plus=0.01, a3_plus=0.02, a2_minus=0.03, a3_minus=0.04,
             tau_plus=10e-3, tau_minus=15e-3, tau_x=50e-3, tau_y=70e-3, dt=DT)
    rule = TripletSTDP(**p)
    pre = torch.zeros(20, 1, 1, dtype=torch.float64)
    post = torch.zeros_like(pre)
    post[2, 0, 0] = 1
    pre[6, 0, 0] = 1
    post[9, 0, 0] = 1
    dw, _ = _run(rule, pre, post, torch.zeros(1, 1, dtype=torch.float64))
    # pre at 6: -o1 (A2- + A3- r2(6-)) with o1 = e^{-4/15}, r2(6-) = 0
    ltd = -math.exp(-4 / 15) * (0.03 + 0.04 * 0.0)
    # post at 9: r1 (A2+ + A3+ o2(9-)) with r1 = e^{-3/10}, o2(9-) = e^{-7/70} (from the post at 2)
    ltp = math.exp(-3 / 10) * (0.01 + 0.02 * math.exp(-7 / 70))
    assert dw.item() == pytest.approx(ltd + ltp, rel=1e-12)


def test_triplet_without_triplet_terms_is_pair_stdp() -> None:
    torch.manual_seed(5)
    pre = (torch.rand(60, 3, 4) < 0.1).double()
    post = (torch.rand(60, 3, 2) < 0.1).double()
    w = torch.rand(2, 4, dtype=torch.float64)
    trip = TripletSTDP(a2_plus=0.01, a3_plus=0.0, a2_minus=0.02, a3_minus=0.0, tau_plus=15e-3, tau_minus=25e-3)
    pair = STDP(a_plus=0.01, a_minus=0.02, tau_plus=15e-3, tau_minus=25e-3)
    torch.testing.assert_close(_run(trip, pre, post, w)[0], _run(pair, pre, post, w)[0])


def test_triplet_frequency_dependence() -> None:
    """Pfister & Gerstner: for the visual-cortex fit, pairing at high frequency potentiates even
    with post-before-pre pairs (triplet LTP), while at low frequency the same pairs depress."""
    protocols = [(1.0, -10), (50.0, -10), (1.0, 10), (50.0, 10)]  # (frequency in Hz, t_post - t_pre in ms)
    t_len = 3 * 1000 + 30
    pre = torch.zeros(t_len, len(protocols), 1, dtype=torch.float64)
    post = torch.zeros_like(pre)
    for b, (freq, lag) in enumerate(protocols):
        period = int(round(1000 / freq))
        for k in range(3 if freq < 10 else 15):  # 15 pairings at 50 Hz, as in Sjöström et al. 2001
            pre[15 + k * period, b, 0] = 1
            post[15 + k * period + lag, b, 0] = 1
    dw, _ = _run(TripletSTDP(dt=DT, reduction="none"), pre, post, torch.zeros(1, 1, dtype=torch.float64))
    low_neg, high_neg, low_pos, high_pos = dw[:, 0, 0].tolist()
    assert low_neg < 0 < high_neg
    assert high_pos > low_pos > 0


def test_rstdp_eligibility_accumulates_without_reward() -> None:
    rule = RSTDP(lr=1.0, tau_e=0.1, a_plus=1.0, a_minus=1.0, tau_plus=20e-3, tau_minus=20e-3, dt=DT)
    pre = torch.zeros(10, 1, 1, dtype=torch.float64)
    post = torch.zeros_like(pre)
    pre[1, 0, 0] = 1
    post[4, 0, 0] = 1
    dw, st = _run(rule, pre, post, torch.zeros(1, 1, dtype=torch.float64))
    assert dw.abs().max().item() == 0.0
    # eligibility = STDP(+3 ms) decayed for the 5 steps after the post spike
    assert st.eligibility.item() == pytest.approx(math.exp(-3 / 20) * math.exp(-5e-3 / 0.1), rel=1e-12)
    dw_r, _ = rule.step(torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64),
                        torch.zeros(1, 1, dtype=torch.float64), st, modulator=2.0)
    assert dw_r.item() == pytest.approx(2.0 * st.eligibility.item() * math.exp(-1e-3 / 0.1), rel=1e-12)


def test_reward_sign_flips_rstdp_direction() -> None:
    pre = torch.zeros(200, 1, 2, dtype=torch.float64)
    post = torch.zeros(200, 1, 1, dtype=torch.float64)
    pre[10::40, 0, 0] = 1   # input 0 fires 3 ms before the output: causal
    post[13::40, 0, 0] = 1
    pre[16::40, 0, 1] = 1   # input 1 fires 3 ms after the output: anti-causal
    w = torch.full((1, 2), 0.5, dtype=torch.float64)
    rule = RSTDP(lr=0.01, tau_e=0.2, a_plus=1.0, a_minus=1.0)
    plus, _ = _run(rule, pre, post, w, modulator=1.0)
    minus, _ = _run(rule, pre, post, w, modulator=-1.0)
    torch.testing.assert_close(minus, -plus)
    assert plus[0, 0] > 0 > plus[0, 1]     # reward: causal synapse up, anti-causal down
    assert minus[0, 0] < 0 < minus[0, 1]   # punishment: the reverse


def test_rstdp_per_sample_and_per_neuron_modulators() -> None:
    torch.manual_seed(4)
    pre = (torch.rand(30, 2, 4) < 0.2).double()
    post = (torch.rand(30, 2, 3) < 0.2).double()
    w = torch.rand(3, 4, dtype=torch.float64)
    m = torch.tensor([1.0, -0.5], dtype=torch.float64)
    per, _ = _run(RSTDP(reduction="none"), pre, post, w, modulator=m)
    one, _ = _run(RSTDP(reduction="none"), pre, post, w, modulator=1.0)
    torch.testing.assert_close(per, one * m.reshape(2, 1, 1))
    mn = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0]], dtype=torch.float64)
    perneuron, _ = _run(RSTDP(reduction="none"), pre, post, w, modulator=mn)
    torch.testing.assert_close(perneuron, one * mn.unsqueeze(2))
    mean, _ = _run(RSTDP(), pre, post, w, modulator=m)
    torch.testing.assert_close(mean, per.mean(0))


@pytest.mark.parametrize("rule", [
    STDP(), STDP(weight_dependence="multiplicative", mu=0.7, reduction="sum"),
    TripletSTDP(), TripletSTDP(weight_dependence="multiplicative"),
])
def test_event_driven_update_touches_only_spiking_rows_and_columns(rule) -> None:
    g = torch.Generator().manual_seed(11)
    w = torch.rand(100, 200, generator=g, dtype=torch.float64)
    target = w.clone()
    st = None
    for t in range(10):  # D&C-like activity: ~5 % of the inputs and a few outputs spike per step
        pre = (torch.rand(1, 200, generator=g) < 0.05).double()
        post = (torch.rand(1, 100, generator=g) < 0.02).double()
        dw, _ = rule.step(pre, post, target, st)
        expected = target + 0.5 * dw
        st, touched = rule.accumulate_(target, pre, post, target, st, alpha=0.5)
        assert touched is not None  # the sparse path was taken
        assert touched[0].numel() == int(post.sum()) and touched[1].numel() == int(pre.sum())
        torch.testing.assert_close(target, expected)
