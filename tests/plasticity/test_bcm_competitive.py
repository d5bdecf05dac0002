"""BCM (hand-computed, selectivity), Krotov-Hopfield and SoftHebb (hand-computed, fixed points)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.plasticity import BCM, KrotovHopfield, SoftHebb, lp_currents


def test_bcm_hand_computed_and_threshold_update() -> None:
    rule = BCM(lr=0.1, tau_theta=5e-3, dt=1e-3, theta_init=0.5)
    pre = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    post = torch.tensor([[1.0], [0.2]], dtype=torch.float64)
    w = torch.zeros(1, 2, dtype=torch.float64)
    dw, st = rule.step(pre, post, w)
    phi = [1.0 * (1.0 - 0.5), 0.2 * (0.2 - 0.5)]
    expected = 0.1 * np.array([phi[0] * 1.0 + phi[1] * 0.0, phi[0] * 2.0 + phi[1] * 1.0]) / 2
    np.testing.assert_allclose(dw.numpy()[0], expected, rtol=1e-12)
    target = (1.0 + 0.04) / 2
    assert st.theta.item() == pytest.approx(target + (0.5 - target) * math.exp(-1 / 5), rel=1e-12)
    dwn, _ = BCM(lr=0.1, tau_theta=5e-3, theta_init=0.5, normalize=True).step(pre, post, w)
    np.testing.assert_allclose(dwn.numpy(), dw.numpy() / 0.5, rtol=1e-12)


def test_bcm_becomes_selective() -> None:
    patterns = torch.eye(2, dtype=torch.float64)       # two orthogonal input patterns
    w = torch.tensor([[0.52, 0.48]], dtype=torch.float64)  # nearly unselective start
    rule = BCM(lr=0.05, tau_theta=2e-3, dt=1e-3)
    state = None
    for _ in range(3000):
        y = (patterns @ w.T).clamp_min(0)
        dw, state = rule.step(patterns, y, w, state)
        w = w + dw
    resp = (patterns @ w.T).flatten()
    # selective fixed point of BCM with theta = E[y^2] and p = 1/2: (2, 0)
    assert resp.max().item() == pytest.approx(2.0, abs=0.05)
    assert resp.min().item() < 0.05
    assert resp.argmax().item() == 0  # the initially preferred pattern wins


def test_krotov_hand_computed() -> None:
    w = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    rule = KrotovHopfield(lr=1.0, p=2.0, k=2, delta=0.4, radius=1.0, normalize=False)
    dw, _ = rule.step(v, None, w)
    h = (v @ w.T)[0]          # [1.0, 1.5, 2.0]: winner unit 2, 2nd rank unit 1
    expected = np.zeros((3, 2))
    expected[2] = 1.0 * (v[0].numpy() - h[2].item() * w[2].numpy())
    expected[1] = -0.4 * (v[0].numpy() - h[1].item() * w[1].numpy())
    np.testing.assert_allclose(dw.numpy(), expected, rtol=1e-12)
    dwn, _ = KrotovHopfield(lr=0.02, k=2, delta=0.4, normalize=True).step(v, None, w)
    np.testing.assert_allclose(dwn.numpy(), 0.02 * expected / np.abs(expected).max(), rtol=1e-12)


def test_krotov_lebesgue_currents_and_radius() -> None:
    w = torch.tensor([[2.0, -1.0]], dtype=torch.float64)
    v = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    h = lp_currents(v, w, 3.0)  # sgn(w)|w|^2 . v = 4*1 - 1*3
    assert h.item() == pytest.approx(1.0)
    dw, _ = KrotovHopfield(lr=1.0, p=3.0, k=1, radius=2.0, normalize=False).step(v, None, w)
    np.testing.assert_allclose(dw.numpy()[0], 2.0 ** 3 * v[0].numpy() - 1.0 * w[0].numpy(), rtol=1e-12)


def test_krotov_winner_converges_to_the_sphere_along_the_input() -> None:
    v = torch.tensor([[3.0, 4.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([[0.2, 0.1, 0.3]], dtype=torch.float64)
    rule = KrotovHopfield(lr=0.05, p=2.0, k=1, radius=1.5, normalize=False)
    for _ in range(400):
        dw, _ = rule.step(v, None, w)
        w = w + dw
    np.testing.assert_allclose(w.numpy()[0], 1.5 * v.numpy()[0] / 5.0, atol=1e-6)  # R v / |v|


def test_softhebb_hand_computed_with_anti_hebbian() -> None:
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    u = (x @ w.T)[0].numpy()   # [2, 1]
    y = np.exp(u / 0.5) / np.exp(u / 0.5).sum()
    rule = SoftHebb(lr=0.1, temperature=0.5)
    dw, _ = rule.step(x, None, w)
    expected = 0.1 * y[:, None] * (x.numpy() - u[:, None] * w.numpy())
    np.testing.assert_allclose(dw.numpy(), expected, rtol=1e-12)
    dwa, _ = SoftHebb(lr=0.1, temperature=0.5, anti_hebbian=True).step(x, None, w)
    np.testing.assert_allclose(dwa.numpy(), expected * np.array([[1.0], [-1.0]]), rtol=1e-12)


def test_softhebb_adaptive_rate_and_normalisation() -> None:
    w = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # norms 3 and 1
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    plain, _ = SoftHebb(lr=1.0, normalize=True).step(x, None, w)
    adapt, _ = SoftHebb(lr=1.0, normalize=True, adaptive_power=0.5).step(x, None, w)
    np.testing.assert_allclose(adapt.numpy()[0], plain.numpy()[0] * math.sqrt(2.0 + 1e-10), rtol=1e-9)
    np.testing.assert_allclose(adapt.numpy()[1], plain.numpy()[1] * math.sqrt(1e-10), rtol=1e-6)
    assert plain.abs().max().item() == pytest.approx(1.0)


def test_softhebb_cold_limit_is_hard_wta_krotov() -> None:
    torch.manual_seed(3)
    w = torch.rand(4, 6, dtype=torch.float64)
    x = torch.rand(5, 6, dtype=torch.float64)
    soft, _ = SoftHebb(lr=0.3, temperature=1e-4).step(x, None, w)
    hard, _ = KrotovHopfield(lr=0.3, k=1, normalize=False).step(x, None, w)
    torch.testing.assert_close(soft, hard)
