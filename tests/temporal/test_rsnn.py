"""Recurrent adaptive-LIF network: the tensor step against the library ALIF, positive learnable
parameters, masks that make padding invisible, and learning a task only timing can solve."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons.alif import ALIFParams, ALIFState, alif_step
from neuroplastic.temporal import RSNN, ALIFParameters, ALIFTensors, alif_tensor_step, inverse_softplus


def test_tensor_step_matches_library_alif():
    torch.manual_seed(0)
    params = ALIFParams(tau_mem=15e-3, tau_adapt=120e-3, beta=0.3, v_th=0.8)
    dt = 1e-3
    p = ALIFTensors(torch.tensor(math.exp(-dt / 15e-3)), torch.tensor(math.exp(-dt / 120e-3)),
                    torch.tensor(0.8), torch.tensor(0.3))
    x = 3 * torch.rand(200, 4, 6)
    z = torch.zeros(4, 6)
    st_ref = st = ALIFState(z, z, z)
    n_spikes = 0
    for t in range(200):
        s_ref, st_ref = alif_step(x[t], st_ref, params, dt)
        s, st = alif_tensor_step(x[t], st, p)
        assert torch.equal(s, s_ref)
        torch.testing.assert_close(st.v, st_ref.v)
        torch.testing.assert_close(st.a, st_ref.a)
        n_spikes += int(s.sum())
    assert n_spikes > 50  # the comparison covered spikes and resets


def test_parameters_stay_positive_and_learn():
    p = ALIFParameters(5, tau_mem=(10e-3, 50e-3), tau_adapt=0.2, v_th=1.0, beta=0.2, dt=1e-2)
    assert torch.all((p.tau_mem >= 10e-3 - 1e-9) & (p.tau_mem <= 50e-3 + 1e-9))
    torch.testing.assert_close(p.v_th, torch.full((5,), 1.0))
    assert inverse_softplus(2.0) == pytest.approx(math.log(math.expm1(2.0)))
    opt = torch.optim.SGD(p.parameters(), lr=1e3)
    for _ in range(5):  # huge steps that would drive a linear parametrisation negative
        opt.zero_grad()
        (p.tau_mem.sum() + p.v_th.sum() + p.tau_adapt.sum()).backward()
        opt.step()
    assert torch.all(p.tau_mem >= p.tau_min) and torch.all(p.tau_adapt >= p.tau_min) and torch.all(p.v_th >= p.v_th_min)
    t = p.tensors()
    assert torch.all((t.alpha >= 0) & (t.alpha < 1)) and torch.all((t.rho >= 0) & (t.rho < 1))


def test_rsnn_gradients_reach_time_constants_and_thresholds():
    torch.manual_seed(0)
    net = RSNN(8, 16, 3, dt=1e-2)
    with torch.no_grad():
        net.ff[0].weight.mul_(8.0)
    x = (torch.rand(30, 5, 8) < 0.3).float()
    out = net.run(x)
    assert 0 < out.spikes[0].mean() < 0.5
    torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 2, 0, 1])).backward()
    p = net.neurons[0]
    for g in (p.log_tau_mem.grad, p.log_tau_adapt.grad, p.raw_v_th.grad, net.log_tau_out.grad, net.rec[0].weight.grad):
        assert g is not None and g.abs().sum() > 0


@pytest.mark.parametrize("readout", ["li_mean", "li_max", "count"])
@pytest.mark.parametrize("delays", [None, "fixed", "learnable"])
def test_padding_is_invisible(readout, delays):
    torch.manual_seed(1)
    net = RSNN(6, [12, 10], 4, readout=readout, delays=delays, max_delay=3).eval()
    a = (torch.rand(9, 1, 6) < 0.4).float()
    b = (torch.rand(14, 1, 6) < 0.4).float()
    x = torch.full((14, 2, 6), 1.0)  # garbage in the padding must not matter
    x[:9, 0:1], x[:, 1:2] = a, b
    mask = torch.ones(14, 2, dtype=torch.bool)
    mask[9:, 0] = False
    out = net(x, mask)
    torch.testing.assert_close(out[0:1], net(a), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out[1:2], net(b), rtol=1e-5, atol=1e-6)


def test_bad_mask_names_the_fix():
    net = RSNN(3, 4, 2)
    with pytest.raises(ValueError, match="pad_batch"):
        net(torch.zeros(5, 2, 3), torch.ones(4, 2, dtype=torch.bool))


def test_learns_the_order_of_two_pulses():
    """Class 0: channel 0 fires before channel 1; class 1: the reverse. Rates are equal, so only
    timing (membrane and adaptation memory, recurrence) separates them."""
    torch.manual_seed(0)
    T, n = 20, 64
    y = torch.arange(n) % 2
    x = torch.zeros(T, n, 2)
    first = torch.randint(2, 6, (n,))
    gap = torch.randint(3, 8, (n,))
    for i in range(n):
        c0, c1 = (0, 1) if y[i] == 0 else (1, 0)
        x[first[i], i, c0] = 1
        x[first[i] + gap[i], i, c1] = 1
    net = RSNN(2, 24, 2, dt=1e-2, tau_mem=(20e-3, 80e-3), v_th=0.5, readout="li_mean", tau_out=100e-3)
    with torch.no_grad():
        net.ff[0].weight.mul_(6.0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    assert (net(x).argmax(1) == y).float().mean() == 1.0
