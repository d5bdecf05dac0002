"""Integrate-and-fire: closed-form spike counts, resets, surrogate gradient, bad input."""
import math

import pytest
import torch

from neuroplastic.neurons import IF, IFCell, IFParams, if_init, if_step


@pytest.mark.parametrize("x", [0.0, 0.125, 0.375, 0.765625, 0.984375])  # binary fractions: sums are exact
@pytest.mark.parametrize("v_init", [0.0, 0.5])
def test_spike_count_is_floor_of_integrated_input(x, v_init):
    t = 200
    s, state = IF(v_th=1.0, v_init=v_init)(torch.full((t, 3, 2), x, dtype=torch.float64))
    expected = math.floor(v_init + t * x + 1e-9)
    assert torch.all(s.sum(0) == expected)
    # the residue is what the subtractive reset leaves: v_init + T x - count
    assert torch.allclose(state.v, torch.full_like(state.v, v_init + t * x - expected), atol=1e-9)


def test_zero_reset_and_gain():
    p = IFParams(v_th=1.0, r=2.0, reset="zero", v_reset=-0.5)
    state = if_init(torch.zeros(1, 1), p)
    s, state = if_step(torch.full((1, 1), 0.6), state, p)  # v = 1.2 -> spike, reset to -0.5
    assert s.item() == 1.0 and state.v.item() == pytest.approx(-0.5)
    s, state = if_step(torch.full((1, 1), 0.6), state, p)  # v = 0.7
    assert s.item() == 0.0 and state.v.item() == pytest.approx(0.7)


def test_cell_matches_sequence_and_has_surrogate_gradient():
    x = torch.rand(20, 4, 5, requires_grad=True)
    s_seq, st_seq = IF(v_th=0.7)(x)
    cell, state, outs = IFCell(v_th=0.7), None, []
    for t in range(x.shape[0]):
        o, state = cell(x[t], state)
        outs.append(o)
    assert torch.equal(torch.stack(outs), s_seq) and torch.equal(state.v, st_seq.v)
    s_seq.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, name", [({"v_th": float("nan")}, "v_th"), ({"r": float("inf")}, "r"),
                                          ({"v_th": 0.0, "v_reset": 0.0}, "v_th"), ({"reset": "soft"}, "reset")])
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IFParams(**kwargs)
