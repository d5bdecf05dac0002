"""State threading: sequence module == repeated Cell == pure step loop; split runs; NetState."""
from __future__ import annotations

import copy

import pytest
import torch

from neuroplastic.network import NetState, Sequential, is_stateful
from neuroplastic.neurons import (
    ALIF,
    LI,
    LIF,
    ALIFCell,
    Izhikevich,
    IzhikevichCell,
    LICell,
    LIFCell,
    alif_step,
    izhikevich_step,
    li_step,
    lif_step,
)
from neuroplastic.synapses import Dense, RecurrentLIF

# (sequence class, cell class, pure step, kwargs, input gain): gains make the neurons fire.
MODELS = {
    "lif": (LIF, LIFCell, lif_step, dict(tau_mem=5e-3, t_ref=2e-3, surrogate="arctan"), 3.0),
    "lif_zero": (LIF, LIFCell, lif_step, dict(reset="zero", detach_reset=True), 3.0),
    "alif": (ALIF, ALIFCell, alif_step, dict(beta=0.4, tau_adapt=30e-3), 4.0),
    "izhikevich": (Izhikevich, IzhikevichCell, izhikevich_step, dict(preset="chattering"), 30.0),
    "li": (LI, LICell, li_step, dict(tau_mem=4e-3), 1.0),
}


def make(name: str):
    seq_cls, cell_cls, step, kw, gain = MODELS[name]
    torch.manual_seed(0)
    dense = Dense(3, 4).double()
    with torch.no_grad():  # positive weights scaled so that the neurons fire
        dense.weight.uniform_(0.0, gain)
        dense.bias.uniform_(0.0, 0.5 * gain)
    x = torch.rand(12, 2, 3, dtype=torch.float64).requires_grad_(True)
    return seq_cls(**kw), cell_cls(**kw), step, dense, x


def grads(out: torch.Tensor, final_state, x: torch.Tensor, dense: Dense):
    loss = (out * torch.linspace(0.5, 1.5, out.shape[-1], dtype=out.dtype)).sum() + final_state[0].pow(2).sum()
    return torch.autograd.grad(loss, (x, dense.weight, dense.bias), retain_graph=True)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sequence_equals_cell_loop_equals_pure_steps(name: str) -> None:
    seq, cell, step, dense, x = make(name)
    i = dense(x)
    out_seq, st_seq = seq(i)

    outs, st = [], None
    for t in range(x.shape[0]):
        o, st = cell(i[t], st)
        outs.append(o)
    out_cell, st_cell = torch.stack(outs), st

    st = seq.init_state(i[0])
    outs = []
    for t in range(x.shape[0]):
        o, st = step(i[t], st, seq.params, seq.dt)
        outs.append(o)
    out_pure, st_pure = torch.stack(outs), st

    if name != "li":
        assert out_seq.sum() > 0, "inputs should make the neurons fire"
    for out, state in ((out_cell, st_cell), (out_pure, st_pure)):
        torch.testing.assert_close(out, out_seq, rtol=1e-10, atol=1e-12)
        for a, b in zip(state, st_seq):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    g_seq = grads(out_seq, st_seq, x, dense)
    for out, state in ((out_cell, st_cell), (out_pure, st_pure)):
        for a, b in zip(grads(out, state, x, dense), g_seq):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert all(g.abs().sum() > 0 for g in g_seq)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_split_sequence_equals_one_call(name: str) -> None:
    seq, _, _, dense, x = make(name)
    i = dense(x)
    out, st = seq(i)
    out1, st1 = seq(i[:5])
    out2, st2 = seq(i[5:], st1)
    torch.testing.assert_close(torch.cat([out1, out2]), out, rtol=1e-10, atol=1e-12)
    for a, b in zip(st2, st):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    g_one = torch.autograd.grad(out.sum() + st[0].sum(), x, retain_graph=True)[0]
    g_two = torch.autograd.grad(torch.cat([out1, out2]).sum() + st2[0].sum(), x)[0]
    torch.testing.assert_close(g_two, g_one, rtol=1e-12, atol=1e-12)


def manual_recurrent(layer: RecurrentLIF, x: torch.Tensor):
    """Independent loop: I_t = W x_t + b + V S_{t-1} into lif_step."""
    w, b, v = layer.ff.weight, layer.ff.bias, layer.rec.weight
    s = x.new_zeros(x.shape[1], v.shape[0])
    st = None
    outs = []
    for t in range(x.shape[0]):
        cur = x[t] @ w.T + b + s @ v.T
        if st is None:
            from neuroplastic.neurons import lif_init

            st = lif_init(cur, layer.params)
        s, st = lif_step(cur, st, layer.params, layer.dt)
        outs.append(s)
    return torch.stack(outs), st


def test_recurrent_lif_equals_manual_loop_and_splits() -> None:
    torch.manual_seed(1)
    layer = RecurrentLIF(3, 5, tau_mem=5e-3, t_ref=1e-3).double()
    with torch.no_grad():
        layer.ff.weight.uniform_(0.0, 4.0)
        layer.rec.weight.mul_(4.0)  # strong recurrence so that it matters
    x = (torch.rand(15, 2, 3, dtype=torch.float64) * 4).requires_grad_(True)
    out, st = layer(x)
    ref, ref_st = manual_recurrent(layer, x)
    assert out.sum() > 0
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st.neuron.v, ref_st.v, rtol=0, atol=1e-12)
    torch.testing.assert_close(st.spikes, out[-1])
    params = (x, layer.ff.weight, layer.rec.weight)
    g = torch.autograd.grad(out.sum() + st.neuron.v.sum(), params, retain_graph=True)
    g_ref = torch.autograd.grad(ref.sum() + ref_st.v.sum(), params)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    o1, s1 = layer(x[:7])
    o2, s2 = layer(x[7:], s1)
    torch.testing.assert_close(torch.cat([o1, o2]), out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(s2.neuron.v, st.neuron.v, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="state batch 2 != input batch 3: pass state=None"):
        layer(torch.rand(4, 3, 3, dtype=torch.float64), st)


def net_and_input():
    torch.manual_seed(2)
    net = Sequential(Dense(3, 6), LIF(tau_mem=5e-3), Dense(6, 4), ALIF(beta=0.3), Dense(4, 2), LI()).double()
    x = torch.rand(10, 2, 3, dtype=torch.float64) * 3
    return net, x


def test_sequential_threads_state_and_splits() -> None:
    net, x = net_and_input()
    y, state = net(x)
    assert isinstance(state, NetState) and len(state) == 6
    assert [s is None for s in state] == [True, False, True, False, True, False]
    # Manual chain of the same layers.
    h, manual_states = x, []
    for layer in net:
        if is_stateful(layer):
            h, s = layer(h)
            manual_states.append(s)
        else:
            h = layer(h)
    torch.testing.assert_close(y, h, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(state[5].v, manual_states[-1].v, rtol=1e-10, atol=1e-12)
    # Two calls with the returned NetState equal one call; the NetState is updated in place.
    st = NetState()
    y1, st_back = net(x[:4], st)
    assert st_back is st
    y2, st = net(x[4:], st)
    torch.testing.assert_close(torch.cat([y1, y2]), y, rtol=1e-10, atol=1e-12)
    # A list of per-layer states works too.
    y2b, _ = net(x[4:], list(net(x[:4])[1]))
    torch.testing.assert_close(y2b, y2, rtol=1e-10, atol=1e-12)
    with pytest.raises(TypeError, match="state must be a NetState, a list or None"):
        net(x, state="fresh")


def test_forward_record_returns_every_layer_output() -> None:
    net, x = net_and_input()
    y, state, outs = net.forward_record(x)
    y_plain, _ = net(x)
    assert len(outs) == len(net)
    torch.testing.assert_close(outs[-1], y_plain, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(outs[0], net[0](x))
    torch.testing.assert_close(outs[1], net[1](outs[0])[0])
    assert [tuple(o.shape) for o in outs] == [(10, 2, 6), (10, 2, 6), (10, 2, 4), (10, 2, 4), (10, 2, 2), (10, 2, 2)]
    assert set(outs[1].unique().tolist()) <= {0.0, 1.0}


def test_netstate_reset_detach_to() -> None:
    net, x = net_and_input()
    xg = x.clone().requires_grad_(True)
    _, st = net(xg)
    assert st[1].v.requires_grad
    assert st.detach() is st
    assert all(not t.requires_grad for s in st if s is not None for t in s)
    # Continuing from a detached state equals continuing from the attached one (values only).
    y_next, _ = net(x, copy.deepcopy(st))
    st32 = copy.deepcopy(st).to(torch.float32)
    assert st32[1].v.dtype == torch.float32 and st32[3].a.dtype == torch.float32 and st32[0] is None
    assert st[1].v.dtype == torch.float64  # deepcopy kept the original
    assert st.to("cpu") is st
    assert st.reset() is st and len(st) == 0 and st[3] is None
    y_fresh, _ = net(x, st)
    y_none, _ = net(x)
    torch.testing.assert_close(y_fresh, y_none, rtol=1e-10, atol=1e-12)
    assert not torch.equal(y_next, y_none)
    assert "LIFState" in repr(net(x)[1])


def test_detached_state_stops_gradient_at_the_split() -> None:
    seq = LIF(tau_mem=5e-3)
    x = (torch.rand(8, 2, 3, dtype=torch.float64) * 3).requires_grad_(True)
    out1, st1 = seq(x[:4])
    out2, _ = seq(x[4:], NetState([st1]).detach()[0])
    g = torch.autograd.grad(out2.sum(), x)[0]
    assert g[:4].abs().sum() == 0 and g[4:].abs().sum() > 0


@pytest.mark.parametrize("seq_cls", [LIF, ALIF, Izhikevich, LI])
def test_state_batch_mismatch_names_the_fix(seq_cls) -> None:
    m = seq_cls()
    _, st = m(torch.rand(3, 4, 5))
    with pytest.raises(ValueError, match=r"state batch 4 != input batch 2: pass state=None to start fresh"):
        m(torch.rand(3, 2, 5), st)
    with pytest.raises(ValueError, match=r"state shape \(4, 5\) != input step shape \(4, 6\): pass state=None"):
        m(torch.rand(3, 4, 6), st)
    cell = LIFCell()
    _, cst = cell(torch.rand(4, 5))
    with pytest.raises(ValueError, match="state batch 4 != input batch 2: pass state=None"):
        cell(torch.rand(2, 5), cst)
