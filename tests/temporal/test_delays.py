"""Synaptic delays: exact d-step delivery, finite-difference gradients, learnable delays that
reduce to the fixed ones at integers."""
from __future__ import annotations

import torch

from neuroplastic.temporal import DelayedDense, LearnableDelayDense, delay_shift, delayed_linear


def test_impulse_arrives_exactly_d_steps_late():
    delays = torch.tensor([[0, 3], [2, 5], [4, 1]])
    layer = DelayedDense(2, 3, delays=delays, bias=False)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    for i in range(2):
        x = torch.zeros(10, 1, 2)
        x[2, 0, i] = 1.0
        y = layer(x)[:, 0]
        for o in range(3):
            expected = torch.zeros(10)
            expected[2 + delays[o, i]] = layer.weight[o, i]
            torch.testing.assert_close(y[:, o], expected)


def test_delay_shift_edges():
    x = torch.arange(4.0).reshape(4, 1)
    assert delay_shift(x, 0) is x
    assert delay_shift(x, 2)[:, 0].tolist() == [0, 0, 0, 1]
    assert delay_shift(x, 9).abs().sum() == 0


def test_fixed_delay_finite_difference_gradients():
    torch.manual_seed(0)
    delays = torch.randint(0, 4, (3, 4))
    x = torch.randn(7, 2, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: delayed_linear(x, w, delays, b), (x, w, b))


def test_learnable_equals_fixed_at_integer_delays():
    torch.manual_seed(0)
    lay = LearnableDelayDense(4, 3, max_delay=5)
    with torch.no_grad():
        lay.delay.copy_(torch.randint(0, 6, (3, 4)).float())
    fixed = lay.round_delays()
    x = torch.randn(12, 2, 4)
    torch.testing.assert_close(lay(x), fixed(x), rtol=1e-5, atol=1e-6)
    assert torch.equal(fixed.delays, lay.delay.long())


def test_learnable_delay_gradient_matches_finite_difference():
    torch.manual_seed(0)
    lay = LearnableDelayDense(3, 2, max_delay=4).double()
    with torch.no_grad():
        lay.delay.copy_(torch.tensor([[0.3, 1.6, 2.2], [3.7, 0.5, 1.4]], dtype=torch.float64))
    x = torch.randn(9, 2, 3, dtype=torch.float64)

    def f(d):
        lay.delay.data.copy_(d)
        return lay(x)

    d0 = lay.delay.detach().clone().requires_grad_(True)

    def g(d):
        # functional form through the parameter: re-bind the delay for autograd
        taps = torch.arange(5, dtype=d.dtype)
        k = lay.linear.weight.unsqueeze(-1) * (1 - (taps - d.clamp(0, 4).unsqueeze(-1)).abs()).clamp_min(0)
        xb = torch.nn.functional.pad(x.permute(1, 2, 0), (4, 0))
        return torch.nn.functional.conv1d(xb, k.flip(-1), lay.linear.bias).permute(2, 0, 1)

    torch.testing.assert_close(g(d0), f(d0.detach()))
    assert torch.autograd.gradcheck(g, (d0,))
    # and the module's own gradient equals the functional one
    lay.delay.data.copy_(d0.detach())
    lay.zero_grad()
    lay(x).sum().backward()
    (gd,) = torch.autograd.grad(g(d0).sum(), d0)
    torch.testing.assert_close(lay.delay.grad, gd)


def test_learnable_delay_moves_towards_the_target_delay():
    torch.manual_seed(0)
    target = DelayedDense(1, 1, delays=torch.tensor([[4]]), bias=False)
    with torch.no_grad():
        target.linear.weight.fill_(1.0)
    lay = LearnableDelayDense(1, 1, max_delay=6, bias=False, init_delay=2.5, width=3.0)
    with torch.no_grad():
        lay.linear.weight.fill_(1.0)
    lay.linear.weight.requires_grad_(False)
    opt = torch.optim.SGD([lay.delay], lr=0.05)
    x = torch.zeros(20, 1, 1)
    x[3] = 1.0
    x[10] = 1.0
    # compare leaky traces (decay 0.8 per step) so the loss has a slope in the delay beyond one tap

    def trace(z):
        out, u = [], torch.zeros_like(z[0])
        for t in range(z.shape[0]):
            u = 0.8 * u + z[t]
            out.append(u)
        return torch.stack(out)

    with torch.no_grad():
        y = trace(target(x))
    for step in range(300):
        if step == 200:
            lay.width = 1.0  # anneal to exact interpolation
        opt.zero_grad()
        ((trace(lay(x)) - y) ** 2).sum().backward()
        opt.step()
    assert abs(float(lay.delay.detach()) - 4.0) < 0.05
    assert int(lay.integer_delays()) == 4
