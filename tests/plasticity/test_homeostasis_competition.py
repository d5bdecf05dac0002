"""Adaptive thresholds, synaptic scaling, weight normalisation, k-WTA, soft WTA, lateral inhibition."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.plasticity import (
    KWTA,
    AdaptiveThreshold,
    LateralInhibition,
    SoftWTA,
    SynapticScaling,
    kwta,
    lateral_inhibition,
    normalize_weights,
    normalize_weights_,
    soft_wta,
)


def test_adaptive_threshold_increments_and_decays() -> None:
    at = AdaptiveThreshold(theta_plus=0.05, tau_theta=10e-3, dt=1e-3)
    s = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    st = at.step(s)
    np.testing.assert_allclose(st.theta.numpy(), [0.1, 0.0, 0.05])        # summed over the batch
    st = at.step(torch.zeros_like(s), st)
    np.testing.assert_allclose(st.theta.numpy(), np.array([0.1, 0.0, 0.05]) * math.exp(-0.1))
    mean = AdaptiveThreshold(theta_plus=0.05, tau_theta=10e-3, reduction="mean").step(s)
    np.testing.assert_allclose(mean.theta.numpy(), [0.05, 0.0, 0.025])
    per = AdaptiveThreshold(theta_plus=0.05, reduction="none").step(s)
    np.testing.assert_allclose(per.theta.numpy(), 0.05 * s.numpy())
    assert at.step(torch.ones(2, 4, 3, 3)).theta.shape == (4, 3, 3)     # conv feature maps


def test_adaptive_threshold_regular_train_steady_state() -> None:
    """Spikes every n steps: just after a spike theta -> theta_plus / (1 - exp(-n dt / tau))."""
    at = AdaptiveThreshold(theta_plus=0.05, tau_theta=20e-3, dt=1e-3)
    st = None
    for t in range(1000):
        st = at.step(torch.tensor([[1.0 if t % 10 == 0 else 0.0]], dtype=torch.float64), st)
    # last spike at t = 990, then 9 decays
    expected = 0.05 / (1 - math.exp(-10 / 20)) * math.exp(-9 / 20)
    assert st.theta.item() == pytest.approx(expected, rel=1e-9)


def test_synaptic_scaling_hand_computed_and_convergence() -> None:
    rule = SynapticScaling(lr=0.5, target=1.0, tau_avg=4e-3, dt=1e-3)
    w = torch.tensor([[0.2, 0.4]], dtype=torch.float64)
    pre = torch.ones(1, 2, dtype=torch.float64)
    st = rule.init_state(pre, pre @ w.T, w)
    st = st._replace(rate=torch.tensor([0.5], dtype=torch.float64))
    dw, st2 = rule.step(pre, pre @ w.T, w, st)
    np.testing.assert_allclose(dw.numpy(), 0.5 * (1.0 - 0.5) * w.numpy())
    y = 0.6
    assert st2.rate.item() == pytest.approx(y + (0.5 - y) * math.exp(-0.25))
    # closed loop: a linear neuron driven by a fixed input is scaled to the target activity
    rule = SynapticScaling(lr=0.05, target=0.3, tau_avg=5e-3, dt=1e-3)
    state = None
    for _ in range(1500):
        dw, state = rule.step(pre, pre @ w.T, w, state)
        w = w + dw
    assert (pre @ w.T).item() == pytest.approx(0.3, abs=1e-3)
    assert w[0, 1].item() / w[0, 0].item() == pytest.approx(2.0)  # ratios preserved


def test_normalize_weights_dense_conv_and_inplace() -> None:
    w = torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    out = normalize_weights(w, 78.0)
    np.testing.assert_allclose(out.numpy(), [[19.5, 58.5], [0.0, 0.0], [39.0, 39.0]])
    assert torch.equal(w, torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]]))  # not mutated
    k = torch.rand(4, 2, 3, 3)
    np.testing.assert_allclose(normalize_weights(k, 5.0).sum((1, 2, 3)).numpy(), 5.0, rtol=1e-5)
    p = torch.nn.Parameter(torch.rand(3, 4))
    normalize_weights_(p, 2.0)
    np.testing.assert_allclose(p.detach().sum(1).numpy(), 2.0, rtol=1e-6)


def test_kwta_and_soft_wta() -> None:
    x = torch.tensor([[0.3, 2.0, -1.0, 1.5], [5.0, 4.0, 3.0, 2.0]])
    np.testing.assert_allclose(kwta(x, 2).numpy(), [[0.0, 2.0, 0.0, 1.5], [5.0, 4.0, 0.0, 0.0]])
    np.testing.assert_allclose(kwta(x, 1, values=False).numpy(), [[0, 1, 0, 0], [1, 0, 0, 0]])
    maps = torch.rand(2, 5, 3, 3)
    mask = kwta(maps, 2, dim=1, values=False)
    assert torch.equal(mask.sum(1), torch.full((2, 3, 3), 2.0))
    y = soft_wta(x, 0.5)
    np.testing.assert_allclose(y.sum(-1).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), torch.softmax(x / 0.5, -1).numpy())
    np.testing.assert_allclose(soft_wta(x, 1e-4).numpy(), kwta(x, 1, values=False).numpy(), atol=1e-6)
    assert torch.equal(KWTA(2)(x), kwta(x, 2)) and torch.equal(SoftWTA(0.5)(x), y)


def test_lateral_inhibition() -> None:
    s = torch.tensor([[1.0, 0.0, 1.0]])
    np.testing.assert_allclose(lateral_inhibition(s, 17.0).numpy(), [[-17.0, -34.0, -17.0]])
    np.testing.assert_allclose(lateral_inhibition(s, 2.0, self_inhibition=True).numpy(), [[-4.0, -4.0, -4.0]])
    seq = torch.rand(4, 2, 3)  # time-first input through the module
    assert torch.equal(LateralInhibition(1.0)(seq), lateral_inhibition(seq, 1.0))


@pytest.mark.parametrize("call, match", [
    (lambda: kwta(torch.rand(2, 3), 4), "k must be"),
    (lambda: soft_wta(torch.rand(2, 3), 0.0), "temperature must be > 0"),
    (lambda: lateral_inhibition(torch.rand(2, 3), -1.0), "strength must be >= 0"),
    (lambda: AdaptiveThreshold(tau_theta=-1.0), "tau_theta must be a finite positive time"),
    (lambda: AdaptiveThreshold(theta_plus=-0.1), "theta_plus must be finite and >= 0"),
    (lambda: AdaptiveThreshold().step(torch.ones(2, 3), AdaptiveThreshold().step(torch.ones(2, 4))), "state=None"),
    (lambda: SynapticScaling(target=-1.0), "target must be finite and >= 0"),
])
def test_homeostasis_and_competition_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
