"""Losses and metrics against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplastic.training.losses import (
    LOSSES,
    BinaryCrossEntropy,
    CrossEntropy,
    first_spike_time_st,
    get_loss,
    keras_binary_crossentropy,
    readout,
)
from neuroplastic.training.metrics import get_metric


def raster() -> torch.Tensor:
    """T=4, B=2, C=3 spike raster.

    sample 0: c0 first fires at t=1 (again at 3), c1 at t=3, c2 silent  -> t = [1, 3, 4]
    sample 1: c0 at t=0 and t=2, c1 at t=2, c2 at t=1                    -> t = [0, 2, 1]
    """
    s = torch.zeros(4, 2, 3)
    s[1, 0, 0] = s[3, 0, 0] = s[3, 0, 1] = 1
    s[0, 1, 0] = s[2, 1, 0] = s[2, 1, 1] = s[1, 1, 2] = 1
    return s


def test_first_spike_times_and_readouts() -> None:
    s = raster()
    assert first_spike_time_st(s).tolist() == [[1, 3, 4], [0, 2, 1]]
    assert readout(s, "count").tolist() == [[2, 1, 0], [2, 1, 1]]
    assert readout(s, "first_spike").tolist() == [[-1, -3, -4], [0, -2, -1]]
    assert readout(s, "last").tolist() == s[-1].tolist()
    static = torch.randn(2, 3)
    assert readout(static, "max") is static  # [B, C] passes through


def test_first_spike_cross_entropy_value_and_sign_estimator_gradient() -> None:
    s = raster().requires_grad_(True)
    y = torch.tensor([0, 2])
    loss = get_loss("ce_temporal")(s, y)
    # CE(-t, y) by hand: sample 0 scores [-1, -3, -4], target 0; sample 1 scores [0, -2, -1], target 2
    l0 = math.log(1 + math.exp(-2) + math.exp(-3))
    l1 = 1 + math.log(1 + math.exp(-1) + math.exp(-2))
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    loss.backward()
    # dL/dscore = (softmax - onehot) / B lands on the first-spike step (silent neuron: step T-1)
    scores = torch.tensor([[-1.0, -3.0, -4.0], [0.0, -2.0, -1.0]])
    dscore = (torch.softmax(scores, -1) - torch.nn.functional.one_hot(y, 3)) / 2
    expected = torch.zeros(4, 2, 3)
    for b, times in enumerate([[1, 3, 3], [0, 2, 1]]):
        for c, t in enumerate(times):
            expected[t, b, c] = dscore[b, c]
    torch.testing.assert_close(s.grad, expected)


def test_spike_count_losses_by_hand() -> None:
    s = raster()
    y = torch.tensor([0, 1])
    counts = [[2.0, 1.0, 0.0], [2.0, 1.0, 1.0]]
    ce = get_loss("ce_count")(s, y).item()
    by_hand = np.mean([-counts[0][0] + math.log(sum(math.exp(c) for c in counts[0])),
                       -counts[1][1] + math.log(sum(math.exp(c) for c in counts[1]))])
    assert ce == pytest.approx(by_hand, rel=1e-6)
    # MSE to target counts: correct class T*0.75 = 3, others T*0.25 = 1; divided by T = 4
    mse = get_loss("mse_count", correct_rate=0.75, incorrect_rate=0.25)(s, y).item()
    goal = [[3, 1, 1], [1, 3, 1]]
    sq = [(counts[b][c] - goal[b][c]) ** 2 for b in range(2) for c in range(3)]
    assert mse == pytest.approx(np.mean(sq) / 4, rel=1e-6)
    with pytest.raises(ValueError, match="time-first"):
        get_loss("mse_count")(torch.zeros(2, 3), y)


@pytest.mark.parametrize("name,reduce", [("ce_max_membrane", lambda v: v.max(0).values),
                                         ("ce_mean_membrane", lambda v: v.mean(0))])
def test_membrane_cross_entropy_matches_reduction(name: str, reduce) -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.randn(5, 3, 4, generator=g)
    y = torch.tensor([3, 0, 1])
    got = get_loss(name)(v, y)
    s = reduce(v)
    by_hand = -(s[torch.arange(3), y] - s.logsumexp(-1)).mean()
    torch.testing.assert_close(got, by_hand)


def test_keras_binary_crossentropy_equals_formula() -> None:
    p = torch.tensor([[0.9, 0.2, 0.0], [0.3, 1.0, 0.6]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    eps = 1e-7
    total = 0.0
    for b in range(2):
        row = 0.0
        for c in range(3):
            q = min(max(float(p[b, c]), eps), 1 - eps)
            row += -(float(y[b, c]) * math.log(q) + (1 - float(y[b, c])) * math.log(1 - q))
        total += row / 3
    assert keras_binary_crossentropy(p, y).item() == pytest.approx(total / 2, rel=1e-12)
    # labels become one-hot targets
    loss = BinaryCrossEntropy()
    assert loss(p, torch.tensor([0, 1])).item() == pytest.approx(
        keras_binary_crossentropy(p, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)).item())
    with pytest.raises(ValueError, match="sigmoid"):
        loss(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))


def test_mse_regression_and_one_hot() -> None:
    mse = get_loss("mse")
    out = torch.tensor([[0.5, 0.2], [0.1, 0.9]])
    assert mse(out, torch.tensor([0, 1])).item() == pytest.approx(np.mean([0.25, 0.04, 0.01, 0.01]))
    assert mse(out, torch.ones(2, 2)).item() == pytest.approx(np.mean([0.25, 0.64, 0.81, 0.01]))


def test_labels_out_of_range_name_the_fix() -> None:
    with pytest.raises(ValueError, match="0..2"):
        CrossEntropy()(torch.zeros(2, 3), torch.tensor([0, 3]))


def test_probabilities_are_distributions() -> None:
    scores = torch.tensor([[0.2, 0.0], [0.0, 0.0]])
    for name in ("ce", "bce", "mse", "mse_count"):
        p = get_loss(name).probabilities(scores)
        torch.testing.assert_close(p.sum(-1), torch.ones(2))
    torch.testing.assert_close(get_loss("bce").probabilities(torch.tensor([[0.8]])), torch.tensor([[0.2, 0.8]]))


def test_get_loss_names_and_errors() -> None:
    for name in LOSSES:
        assert get_loss(name).decode(torch.rand(3, 2, 4)).shape == (2, 4)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("hinge")
    custom = get_loss(lambda o, t: (o ** 2).mean())
    assert custom.name == "<lambda>"


def test_metrics_by_hand() -> None:
    ce = get_loss("ce")
    acc, top2 = get_metric("accuracy"), get_metric(get_metric("top_k_accuracy").__class__(k=2))
    s1 = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    s2 = torch.tensor([[1.0, 3.0, 2.0]])
    for s, y in ((s1, torch.tensor([0, 1])), (s2, torch.tensor([0]))):
        acc.update(s, y, ce)
        top2.update(s, y, ce)
    assert acc.result() == pytest.approx(1 / 3)
    assert top2.result() == pytest.approx(2 / 3)  # sample 3's label 0 is ranked last
    # single sigmoid column: thresholded at 0.5 by bce
    b = get_metric("acc")
    b.update(torch.tensor([[0.7], [0.4]]), torch.tensor([1, 1]), get_loss("bce"))
    assert b.result() == 0.5
    mae = get_metric("mae")
    mae.update(torch.tensor([[0.5, 0.5]]), torch.tensor([0]), ce)
    assert mae.result() == pytest.approx(0.5)
    custom = get_metric(lambda s, y: (s.argmax(-1) == y).float())
    custom.update(s1, torch.tensor([0, 0]), ce)
    assert custom.result() == 0.5
