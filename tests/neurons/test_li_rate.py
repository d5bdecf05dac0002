"""Leaky-integrator readout and rate neuron against closed forms; gradcheck on smooth paths."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import LI, LICell, LIF, LIParams, LIState, Rate, li_init, li_step, rate_step


def test_li_constant_input_closed_form() -> None:
    tau, r, v_leak, dt, T = 20e-3, 0.5, -0.1, 1e-3, 80
    current = torch.tensor([[2.0, -1.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        v, state = LI(tau_mem=tau, r=r, v_leak=v_leak, dt=dt)(current.expand(T, 1, 3))
    t = torch.arange(1, T + 1, dtype=torch.float64).view(T, 1, 1) * dt
    expected = v_leak + r * current * (1 - torch.exp(-t / tau))
    torch.testing.assert_close(v, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state.v, v[-1])


def test_li_time_varying_input_is_exact_convolution() -> None:
    # v_T = v_leak + (v_0 - v_leak) b^T + (1 - b) R sum_k b^(T-1-k) x_k, with b = exp(-dt/tau).
    tau, r, v_leak, dt, T = 7e-3, 2.0, 0.3, 1e-3, 25
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, 2, 3, dtype=torch.float64, generator=g)
    v0 = torch.randn(2, 3, dtype=torch.float64, generator=g)
    with torch.no_grad():
        v, _ = LI(tau_mem=tau, r=r, v_leak=v_leak, dt=dt)(x, li_init(x[0], LIParams())._replace(v=v0))
    b = math.exp(-dt / tau)
    for n in (1, 10, T):
        conv = sum(b ** (n - 1 - k) * x[k] for k in range(n))
        torch.testing.assert_close(v[n - 1], v_leak + (v0 - v_leak) * b**n + (1 - b) * r * conv, rtol=1e-12, atol=1e-12)


def test_li_cell_equals_step() -> None:
    x = torch.randn(4, 5)
    out, st = LICell(tau_mem=5e-3, dt=1e-3)(x)
    p = LIParams(tau_mem=5e-3)
    ref, _ = li_step(x, li_init(x, p), p, 1e-3)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(st.v, ref)


def test_gradcheck_li_sequence() -> None:
    m = LI(tau_mem=5e-3, r=1.3, v_leak=0.2, dt=1e-3)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    v0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: m(a, LIState(b))[0], (x, v0))


def test_gradcheck_lif_membrane_without_reset() -> None:
    # With reset="none" the membrane is a smooth (affine) function of the input; its gradient is
    # exact even though spikes are emitted.
    m = LIF(tau_mem=5e-3, reset="none", dt=1e-3)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: m(a)[1].v, (x,))


def test_rate_neuron_is_f_of_affine() -> None:
    torch.manual_seed(0)
    layer = Rate(4, 3, activation="tanh")
    x = torch.randn(5, 2, 4)
    expected = torch.tanh(x @ layer.weight.T + layer.linear.bias)
    torch.testing.assert_close(layer(x), expected)
    w = torch.randn(3, 4, dtype=torch.float64)
    xd = torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(rate_step(xd, w), 1 / (1 + torch.exp(-(xd @ w.T))))
    with pytest.raises(ValueError, match="input features 5 != weight in_features 4"):
        rate_step(torch.randn(2, 5), torch.randn(3, 4))
    with pytest.raises(ValueError, match="choose one of"):
        Rate(4, 3, activation="swishy")
    assert torch.autograd.gradcheck(lambda a, b: rate_step(a, b, activation="softplus"), (xd.requires_grad_(), w.requires_grad_()))
