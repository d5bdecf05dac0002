"""Adaptive LIF: threshold adaptation by hand, spike-frequency adaptation."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import ALIF, ALIFParams, alif_init, alif_step

DT = 1e-3


def test_threshold_rises_by_beta_per_spike_and_decays_with_tau_adapt() -> None:
    tau_a, beta = 50e-3, 0.3
    p = ALIFParams(tau_mem=10e-3, tau_adapt=tau_a, beta=beta, v_th=1.0, reset="zero")
    rho = math.exp(-DT / tau_a)
    x = torch.zeros(8, 1, 1, dtype=torch.float64)
    x[0] = 100.0  # one spike at step 0, then silence
    state = alif_init(x[0], p)
    a_hist = []
    for t in range(8):
        s, state = alif_step(x[t], state, p, DT)
        assert float(s) == (1.0 if t == 0 else 0.0)
        a_hist.append(float(state.a))
    # a_{t+1} = a_t rho + S_t  =>  a = 1, rho, rho^2, ...: threshold v_th + beta rho^k.
    assert a_hist == pytest.approx([rho**k for k in range(8)], rel=1e-12)
    # Two spikes in a row accumulate: a = rho + 1 after the second.
    state = alif_init(x[0], p)
    big = torch.full((1, 1), 1e4, dtype=torch.float64)
    for _ in range(2):
        _, state = alif_step(big, state, p, DT)
    assert float(state.a) == pytest.approx(1 + rho, rel=1e-12)


def test_spike_decision_uses_adapted_threshold() -> None:
    beta, tau_a = 0.5, 100e-3
    p = ALIFParams(tau_mem=10e-3, tau_adapt=tau_a, beta=beta, v_th=1.0, reset="subtract", v_reset=0.0)
    b = math.exp(-DT / 10e-3)
    # Start with a = 1 (theta = 1.5) and choose inputs so that v_int = 1.25 or 1.75.
    for v_int, fires in ((1.25, 0.0), (1.75, 1.0)):
        x = torch.tensor([[v_int / (1 - b)]], dtype=torch.float64)
        state = alif_init(x, p)._replace(a=torch.ones(1, 1, dtype=torch.float64))
        s, new = alif_step(x, state, p, DT)
        assert float(s) == fires
        # subtractive reset removes the *effective* threshold theta - v_reset = 1.5.
        assert float(new.v) == pytest.approx(v_int - 1.5 * fires, abs=1e-12)
        assert float(new.a) == pytest.approx(math.exp(-DT / tau_a) + fires, rel=1e-12)


def test_beta_zero_is_lif() -> None:
    from neuroplastic.neurons import LIFParams, lif_init, lif_step

    pa = ALIFParams(tau_mem=10e-3, beta=0.0, t_ref=2e-3)
    pl = LIFParams(tau_mem=10e-3, t_ref=2e-3)
    x = torch.rand(50, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 4
    sa, sl = alif_init(x[0], pa), lif_init(x[0], pl)
    for t in range(50):
        oa, sa = alif_step(x[t], sa, pa, DT)
        ol, sl = lif_step(x[t], sl, pl, DT)
        assert torch.equal(oa, ol) and torch.equal(sa.v, sl.v)


def test_interspike_intervals_grow_under_constant_input() -> None:
    with torch.no_grad():
        spikes, _ = ALIF(tau_mem=10e-3, tau_adapt=100e-3, beta=0.5, v_th=1.0, dt=2e-4)(
            torch.full((2500, 1, 1), 1.6, dtype=torch.float64)
        )
    times = torch.nonzero(spikes.view(-1))[:, 0].double()
    isi = times.diff()
    assert len(isi) >= 6
    assert torch.all(isi.diff() >= -1)  # non-decreasing up to one step of discretisation
    assert isi[-1] > 1.5 * isi[0]
    # The same neuron without adaptation fires at a constant rate, faster.
    with torch.no_grad():
        plain, _ = ALIF(tau_mem=10e-3, tau_adapt=100e-3, beta=0.0, v_th=1.0, dt=2e-4)(
            torch.full((2500, 1, 1), 1.6, dtype=torch.float64)
        )
    isi0 = torch.nonzero(plain.view(-1))[:, 0].double().diff()
    assert isi0.max() - isi0.min() <= 1
    assert plain.sum() > spikes.sum()
