"""Seed rule, plain Hebb and Oja against hand-computed updates; Oja finds the first PC."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.plasticity import Hebb, Oja, SeedHebb


def _one(rule, x_pre: float, x_post: float) -> float:
    dw, _ = rule.step(torch.tensor([[x_pre]], dtype=torch.float64), torch.tensor([[x_post]], dtype=torch.float64),
                      torch.zeros(1, 1, dtype=torch.float64))
    return dw.item()


def test_seed_rule_worked_example_t2_half() -> None:
    # 0.1 * (0.5 * 0.8) * (1 - 0.5 * 0.2) = 0.1 * 0.4 * 0.9
    assert _one(SeedHebb(t1=0.1, t2=0.5), x_pre=0.2, x_post=0.8) == pytest.approx(0.036, abs=1e-12)


def test_seed_rule_worked_example_t2_one_is_0064_not_008() -> None:
    got = _one(SeedHebb(t1=0.1, t2=1.0), x_pre=0.2, x_post=0.8)
    assert got == pytest.approx(0.1 * 0.8 * (1 - 0.2), abs=1e-12) == pytest.approx(0.064)
    assert got != pytest.approx(0.08, abs=1e-6)
    # the document's 0.08 is t1 * t2 * x+ alone (no depression factor, i.e. x- = 0)
    assert _one(SeedHebb(t1=0.1, t2=1.0), x_pre=0.0, x_post=0.8) == pytest.approx(0.08, abs=1e-12)


def test_seed_rule_matrix_and_roles() -> None:
    pre = torch.tensor([[0.2, 0.6, 1.0], [0.0, 0.4, 0.8]], dtype=torch.float64)
    post = torch.tensor([[0.8, 0.1], [0.5, 0.0]], dtype=torch.float64)
    w = torch.zeros(2, 3, dtype=torch.float64)
    t1, t2 = 0.3, 0.5
    dw, _ = SeedHebb(t1=t1, t2=t2).step(pre, post, w)
    expected = np.zeros((2, 3))
    for b in range(2):
        for i in range(2):
            for j in range(3):
                expected[i, j] += t1 * (t2 * post[b, i].item()) * (1 - t2 * pre[b, j].item()) / 2
    np.testing.assert_allclose(dw.numpy(), expected, rtol=1e-12)
    dw_pre, _ = SeedHebb(t1=t1, t2=t2, positive="pre").step(pre, post, w)
    swapped = np.zeros((2, 3))
    for b in range(2):
        for i in range(2):
            for j in range(3):
                swapped[i, j] += t1 * (t2 * pre[b, j].item()) * (1 - t2 * post[b, i].item()) / 2
    np.testing.assert_allclose(dw_pre.numpy(), swapped, rtol=1e-12)


def test_hebb_hand_computed() -> None:
    pre = torch.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
    post = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    dw, _ = Hebb(lr=0.1).step(pre, post, torch.zeros(2, 3))
    expected = 0.1 * np.array([[1 * 1 + 2 * 0.5, 0 + 2 * 1, 2 + 0], [3 * 1 + 0, 0, 3 * 2]]) / 2
    np.testing.assert_allclose(dw.numpy(), expected, rtol=1e-6)
    dw_sum, _ = Hebb(lr=0.1, reduction="sum").step(pre, post, torch.zeros(2, 3))
    np.testing.assert_allclose(dw_sum.numpy(), 2 * expected, rtol=1e-6)


def test_oja_hand_computed() -> None:
    w = torch.tensor([[0.5, -0.2]], dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    y = x @ w.T  # 0.1
    dw, _ = Oja(lr=0.5).step(x, y, w)
    expected = [0.5 * 0.1 * (1.0 - 0.1 * 0.5), 0.5 * 0.1 * (2.0 - 0.1 * -0.2)]
    np.testing.assert_allclose(dw.numpy()[0], expected, rtol=1e-12)
    dw_default_post, _ = Oja(lr=0.5).step(x, None, w)  # post=None: the linear response
    torch.testing.assert_close(dw_default_post, dw)


@pytest.mark.parametrize("cov", [
    [[3.0, 1.2], [1.2, 1.0]],
    [[2.0, 0.6, 0.3], [0.6, 1.0, -0.2], [0.3, -0.2, 0.5]],
])
def test_oja_converges_to_first_principal_component(cov: list[list[float]]) -> None:
    c = np.array(cov)
    gen = torch.Generator().manual_seed(1)
    chol = torch.linalg.cholesky(torch.tensor(c))
    w = torch.randn(1, c.shape[0], dtype=torch.float64, generator=gen) * 0.1
    rule = Oja(lr=0.02)
    for _ in range(1500):
        x = torch.randn(16, c.shape[0], dtype=torch.float64, generator=gen) @ chol.T
        dw, _ = rule.step(x, x @ w.T, w)
        w = w + dw
    evals, evecs = np.linalg.eigh(c)
    pc1 = evecs[:, -1]
    wv = w.numpy()[0]
    cos = abs(wv @ pc1) / np.linalg.norm(wv)
    assert cos > 0.99
    assert math.isclose(np.linalg.norm(wv), 1.0, abs_tol=0.05)
