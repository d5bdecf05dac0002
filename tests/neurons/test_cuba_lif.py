"""CUBA LIF neuron: closed-form membrane under constant input and after a current jump; reset,
refractory period, validation, module wrappers."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import (
    CubaLIF,
    CubaLIFCell,
    CubaLIFParams,
    cuba_lif_init,
    cuba_lif_step,
)

DT = 1e-4


def test_membrane_under_constant_bias_is_the_exponential_relaxation() -> None:
    # tau dv/dt = -(v - v_rest) + i_bias  =>  v(t) = v_inf + (v0 - v_inf) exp(-t / tau), v_inf = v_rest + i_bias
    p = CubaLIFParams(tau_mem=20e-3, v_rest=-70e-3, i_bias=15e-3, v_th=0.0, v_reset=-80e-3, t_ref=0.0)
    x = torch.zeros(3, dtype=torch.float64)
    state = cuba_lif_init(x, p)._replace(v=torch.tensor([-70e-3, -60e-3, -50e-3], dtype=torch.float64))
    v0 = state.v.clone()
    for n in range(1, 401):
        s, state = cuba_lif_step(x, state, p, DT)
        assert not s.any()
        t = n * DT
        expected = -55e-3 + (v0 + 55e-3) * math.exp(-t / p.tau_mem)
        torch.testing.assert_close(state.v, expected, rtol=0, atol=1e-15)


def test_constant_synaptic_input_converges_to_the_closed_form() -> None:
    # A constant input x per step is a train of current jumps: after n steps
    # I_n = x (1 - c^n) / (1 - c), and v follows tau dv/dt = -(v - v_inf) + I exactly between steps,
    # u_{n+1} = a u_n + b I_n; at the fixed point u* = b I* / (1 - a).
    p = CubaLIFParams(tau_mem=10e-3, tau_syn_exc=4e-3, v_rest=0.0, v_th=1.0, v_reset=-1.0, t_ref=0.0)
    x = torch.full((1,), 2e-3, dtype=torch.float64)
    state = cuba_lif_init(x, p)
    a, b, c = math.exp(-DT / 10e-3), None, math.exp(-DT / 4e-3)
    b = 4e-3 / (4e-3 - 10e-3) * (c - a)  # the textbook form of the propagator
    u, cur = 0.0, 0.0
    for n in range(3000):
        _, state = cuba_lif_step(x, state, p, DT)
        u, cur = a * u + b * cur, c * cur + 2e-3
        assert state.v.item() == pytest.approx(u, rel=1e-12, abs=1e-18)
        assert state.i_exc.item() == pytest.approx(cur, rel=1e-12)
    i_star = 2e-3 / (1 - c)
    assert state.i_exc.item() == pytest.approx(i_star, rel=1e-9)
    assert state.v.item() == pytest.approx(b * i_star / (1 - a), rel=1e-6)


def test_single_current_jump_gives_the_difference_of_exponentials() -> None:
    # I(0) = w, v(0) = v_rest:  v(t) - v_rest = w tau_s / (tau_s - tau_m) (exp(-t/tau_s) - exp(-t/tau_m))
    tau_m, tau_s, w = 20e-3, 5e-3, 3e-3
    p = CubaLIFParams(tau_mem=tau_m, tau_syn_inh=tau_s, v_rest=0.0, v_th=1.0, v_reset=-1.0, t_ref=0.0)
    x = torch.zeros(1, dtype=torch.float64)
    state = cuba_lif_init(x, p)._replace(i_inh=torch.full((1,), w, dtype=torch.float64))
    for n in range(1, 500):
        _, state = cuba_lif_step(x, state, p, DT)
        t = n * DT
        ref = w * tau_s / (tau_s - tau_m) * (math.exp(-t / tau_s) - math.exp(-t / tau_m))
        assert state.v.item() == pytest.approx(ref, rel=1e-11, abs=1e-18)
        assert state.i_inh.item() == pytest.approx(w * math.exp(-t / tau_s), rel=1e-12)


def test_spike_reset_and_refractory_steps() -> None:
    p = CubaLIFParams(tau_mem=10e-3, v_rest=0.0, i_bias=1.5, v_th=1.0, v_reset=0.0, t_ref=2e-3)
    x = torch.zeros(1, dtype=torch.float64)
    state = cuba_lif_init(x, p)
    a = math.exp(-DT / 10e-3)
    n_cross = math.ceil(math.log(0.5 / 1.5) / math.log(a))
    spikes, vs = [], []
    for n in range(400):
        s, state = cuba_lif_step(x, state, p, DT)
        spikes.append(int(s.item()))
        vs.append(state.v.item())
    first = spikes.index(1)
    assert first == n_cross - 1
    assert spikes[first + 1:first + 20] == [0] * 19
    assert vs[first:first + 20] == [0.0] * 20  # held at v_reset for n_ref = 20 steps
    assert vs[first + 20] > 0.0
    assert spikes.index(1, first + 1) == first + 20 + n_cross - 1


def test_inputs_are_not_mutated_and_inhibitory_input_lands_on_i_inh() -> None:
    p = CubaLIFParams()
    x = torch.full((2, 3), 1e-3)
    state = cuba_lif_init(x, p)
    before = [t.clone() for t in state]
    _, new = cuba_lif_step(x, state, p, DT, x_inh=-2 * x)
    assert all(torch.equal(a, b) for a, b in zip(state, before))
    assert torch.equal(new.i_exc, x) and torch.equal(new.i_inh, -2 * x)


def test_modules_match_the_step_function() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 2, 4, generator=g, dtype=torch.float64) * 5e-3
    seq = CubaLIF(dt=DT, i_bias=2e-3)
    out, state = seq(x)
    cell = CubaLIFCell(dt=DT, i_bias=2e-3)
    st = None
    for t in range(50):
        s, st = cell(x[t], st)
        assert torch.equal(s, out[t])
    assert all(torch.equal(a, b) for a, b in zip(st, state))


@pytest.mark.parametrize("kwargs,match", [
    (dict(tau_mem=0.0), "tau_mem"),
    (dict(tau_syn_exc=-1e-3), "tau_syn_exc"),
    (dict(t_ref=-1e-3), "t_ref"),
    (dict(v_reset=-40e-3), "below v_th"),
    (dict(v_rest=float("nan")), "finite"),
])
def test_bad_parameters_name_the_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CubaLIFParams(**kwargs)


def test_refractory_period_must_be_whole_steps_and_state_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="whole number"):
        CubaLIFParams(t_ref=1.5e-4).constants(1e-4)
    p = CubaLIFParams()
    with pytest.raises(ValueError, match="state=None|cuba_lif_init"):
        cuba_lif_step(torch.zeros(3), cuba_lif_init(torch.zeros(2), p), p, DT)
