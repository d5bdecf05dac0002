"""Synapse layers over time-first tensors equal per-step application."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neuroplastic.synapses import Conv2d, Dense, Flatten, MaxPool2d


def test_dense_time_first_equals_per_step() -> None:
    torch.manual_seed(0)
    layer = Dense(5, 3)
    x = torch.randn(6, 4, 5)
    y = layer(x)
    assert y.shape == (6, 4, 3)
    for t in range(6):
        torch.testing.assert_close(y[t], x[t] @ layer.weight.T + layer.bias)
    torch.testing.assert_close(layer(x[2]), y[2])
    assert layer.stateful is False


def test_dense_gradients_equal_per_step_sum() -> None:
    torch.manual_seed(1)
    layer = Dense(4, 2, bias=False).double()
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    g_all = torch.autograd.grad(layer(x).pow(2).sum(), layer.weight)[0]
    g_steps = sum(torch.autograd.grad(layer(x[t]).pow(2).sum(), layer.weight)[0] for t in range(5))
    torch.testing.assert_close(g_all, g_steps)


def test_conv2d_time_first_equals_per_step() -> None:
    torch.manual_seed(2)
    layer = Conv2d(2, 3, kernel_size=3, padding=1, stride=2)
    x = torch.randn(4, 2, 2, 9, 7)
    y = layer(x)
    assert y.shape == (4, 2, 3, 5, 4)
    for t in range(4):
        torch.testing.assert_close(y[t], F.conv2d(x[t], layer.weight, layer.bias, stride=2, padding=1))
    torch.testing.assert_close(layer(x[1]), y[1])
    with pytest.raises(ValueError, match=r"Conv2d expects \[T, B, C, H, W\] or \[B, C, H, W\], got shape \(2, 9, 7\)"):
        layer(x[0, 0])


def test_maxpool_time_first_equals_per_step() -> None:
    x = torch.randn(3, 2, 4, 6, 6)
    pool = MaxPool2d(2)
    y = pool(x)
    assert y.shape == (3, 2, 4, 3, 3)
    for t in range(3):
        torch.testing.assert_close(y[t], F.max_pool2d(x[t], 2))
    torch.testing.assert_close(pool(x[0]), y[0])
    # by hand on one 2x2 window
    assert float(y[0, 0, 0, 0, 0]) == float(x[0, 0, 0, :2, :2].max())


def test_flatten_keeps_time_and_batch() -> None:
    x = torch.arange(2 * 3 * 4 * 5.0).view(2, 3, 4, 5)
    y = Flatten()(x)
    assert y.shape == (2, 3, 20)
    torch.testing.assert_close(y[1, 2], x[1, 2].reshape(-1))
    assert Flatten(keep_dims=1)(x[0]).shape == (3, 20)


def test_conv_pool_flatten_dense_chain_shapes() -> None:
    from neuroplastic.network import Sequential
    from neuroplastic.neurons import LIF

    net = Sequential(Conv2d(1, 4, 3, padding=1), LIF(), MaxPool2d(2), Flatten(), Dense(4 * 4 * 4, 10), LIF())
    y, state = net(torch.rand(5, 2, 1, 8, 8) * 3)
    assert y.shape == (5, 2, 10)
    assert state[1].v.shape == (2, 4, 8, 8)


def test_dense_wrong_in_features_names_the_fix() -> None:
    with pytest.raises(ValueError, match="Dense expects 4 input features, got shape .*add a Flatten layer"):
        Dense(4, 2)(torch.randn(3, 2, 5))
