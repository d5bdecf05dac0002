"""Plastic connections: inplace vs grad, conv unfold path vs a naive loop, sequences, mixing."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic.plasticity import STDP, Hebb, Oja, Plastic, RSTDP, apply_update, get_rule, unfold_conv
from neuroplastic.synapses import Conv2d, Dense


def _spikes(*shape: int, p: float = 0.3) -> torch.Tensor:
    return (torch.rand(*shape) < p).double()


@pytest.mark.parametrize("rule_name, kw", [("stdp", {}), ("oja", {"lr": 0.05}), ("bcm", {"lr": 0.05}), ("rstdp", {})])
@pytest.mark.parametrize("conv", [False, True])
def test_inplace_and_grad_with_sgd_lr1_agree(rule_name: str, kw: dict, conv: bool) -> None:
    torch.manual_seed(0)
    layer = Conv2d(2, 3, 3, padding=1, bias=False) if conv else Dense(6, 4, bias=False)
    layer = layer.double()
    w0 = layer.weight.detach().clone()
    a = Plastic(layer, get_rule(rule_name, **kw), update="inplace", lr=0.7)
    b = Plastic(copy.deepcopy(layer), get_rule(rule_name, **kw), update="grad", lr=0.7)
    opt = torch.optim.SGD(b.parameters(), lr=1.0)
    sa = sb = None
    for t in range(12):
        pre = _spikes(2, 2, 5, 5) if conv else _spikes(3, 6)
        post = _spikes(2, 3, 5, 5) if conv else _spikes(3, 4)
        m = torch.tensor([1.0, -0.5, 2.0][: pre.shape[0]], dtype=torch.float64)
        sa = a.update(pre, post, sa, modulator=m)
        opt.zero_grad()
        sb = b.update(pre, post, sb, modulator=m)
        opt.step()
        torch.testing.assert_close(a.weight, b.weight)
    assert (a.weight.detach() - w0).abs().max() > 1e-4  # the rule did change the weights


def test_bounds_inplace_and_grad_then_constrain() -> None:
    torch.manual_seed(1)
    layer = nn.Linear(5, 3, bias=False).double()
    a = Plastic(layer, Hebb(lr=0.5), update="inplace", wmin=-0.1, wmax=0.2)
    b = Plastic(copy.deepcopy(layer), Hebb(lr=0.5), update="grad", wmin=-0.1, wmax=0.2)
    opt = torch.optim.SGD(b.parameters(), lr=1.0)
    for _ in range(5):
        pre, post = torch.rand(4, 5, dtype=torch.float64), torch.rand(4, 3, dtype=torch.float64) - 0.3
        a.update(pre, post)
        opt.zero_grad()
        b.update(pre, post)
        opt.step()
        b.constrain_()
        torch.testing.assert_close(a.weight, b.weight)
    assert a.weight.min() >= -0.1 and a.weight.max() <= 0.2
    assert (a.weight == 0.2).any()  # the bound was reached, not just respected by chance


def test_grad_mode_adds_to_surrogate_gradients() -> None:
    torch.manual_seed(2)
    conn = Plastic(nn.Linear(4, 2, bias=False), Hebb(lr=1.0), update="grad", lr=0.1)
    x = torch.rand(3, 4)
    loss = conn(x).pow(2).sum()
    loss.backward()
    backprop = conn.weight.grad.clone()
    post = torch.rand(3, 2)
    conn.update(x, post)
    dw = (post.T @ x) / 3
    torch.testing.assert_close(conn.weight.grad, backprop - 0.1 * dw)


def _naive_conv_hebb_oja(pre, post, w, stride, padding, dilation, oja: bool) -> torch.Tensor:
    """Per-position loop: dw = mean over (sample, position) of y (patch - [y w]) with explicit indices."""
    b_, c_, _, _ = pre.shape
    o_, _, kh, kw = w.shape
    xp = F.pad(pre, (padding, padding, padding, padding))
    dw = torch.zeros_like(w)
    rows = 0
    for b in range(b_):
        for oy in range(post.shape[2]):
            for ox in range(post.shape[3]):
                patch = torch.zeros(c_, kh, kw, dtype=pre.dtype)
                for c in range(c_):
                    for i in range(kh):
                        for j in range(kw):
                            patch[c, i, j] = xp[b, c, oy * stride + i * dilation, ox * stride + j * dilation]
                for o in range(o_):
                    y = post[b, o, oy, ox]
                    dw[o] += y * (patch - y * w[o]) if oja else y * patch
                rows += 1
    return dw / rows


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 1, 2)])
@pytest.mark.parametrize("oja", [False, True])
def test_conv_unfold_path_equals_naive_loop(stride: int, padding: int, dilation: int, oja: bool) -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding, dilation=dilation, bias=False).double()
    pre = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    post = torch.rand_like(conv(pre))
    rule = Oja(lr=1.0) if oja else Hebb(lr=1.0)
    dw, _ = Plastic(conv, rule).compute(pre, post)
    torch.testing.assert_close(dw, _naive_conv_hebb_oja(pre, post, conv.weight.detach(), stride, padding, dilation, oja))


def test_unfold_rows_reproduce_the_convolution() -> None:
    conv = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False).double()
    pre = torch.rand(2, 3, 7, 6, dtype=torch.float64)
    out = conv(pre)
    rows, post_rows = unfold_conv(pre, out, conv.kernel_size, stride=conv.stride, padding=conv.padding)
    torch.testing.assert_close(rows @ conv.weight.reshape(4, -1).T, post_rows)


def test_conv_per_sample_modulator_and_same_padding() -> None:
    torch.manual_seed(4)
    conv = nn.Conv2d(1, 2, 3, padding="same", bias=False).double()
    pre, post = torch.rand(2, 1, 4, 4, dtype=torch.float64), torch.rand(2, 2, 4, 4, dtype=torch.float64)
    conn = Plastic(conv, Hebb(lr=1.0, reduction="sum"))
    m = torch.tensor([2.0, -1.0], dtype=torch.float64)
    dw, _ = conn.compute(pre, post, modulator=m)
    d0, _ = conn.compute(pre[:1], post[:1])
    d1, _ = conn.compute(pre[1:], post[1:])
    torch.testing.assert_close(dw, 2.0 * d0 - d1)


def test_learn_sequence_equals_manual_loop_and_last_step_reward() -> None:
    torch.manual_seed(5)
    pre, post = _spikes(15, 2, 4), _spikes(15, 2, 3)
    layer = nn.Linear(4, 3, bias=False).double()
    a = Plastic(copy.deepcopy(layer), STDP())
    b = Plastic(copy.deepcopy(layer), STDP())
    sa = a.learn_sequence(pre, post)
    sb = None
    for t in range(15):
        sb = b.update(pre[t], post[t], sb)
    torch.testing.assert_close(a.weight, b.weight)
    torch.testing.assert_close(sa.x_pre, sb.x_pre)
    # a reward only at the end of the presentation: dw = lr * m * eligibility(T)
    r = Plastic(copy.deepcopy(layer), RSTDP(lr=0.1), lr=1.0)
    st = r.learn_sequence(pre, post, modulator=torch.tensor([1.0, 3.0], dtype=torch.float64), modulator_steps="last")
    expected = layer.weight + 0.1 * (st.eligibility * torch.tensor([1.0, 3.0]).reshape(2, 1, 1).double()).mean(0)
    torch.testing.assert_close(r.weight, expected)


def test_time_first_forward_and_normalisation() -> None:
    conn = Plastic(Dense(4, 3, bias=False), "hebb", norm=2.0)
    assert conn(torch.rand(5, 2, 4)).shape == (5, 2, 3)
    with torch.no_grad():
        conn.weight.uniform_(0.1, 1.0)
    conn.normalize_()
    np.testing.assert_allclose(conn.weight.detach().sum(1).numpy(), 2.0, rtol=1e-6)
    pre_img = torch.rand(2, 1, 2, 2)  # a flattened image works for a dense layer
    dw, _ = conn.compute(pre_img, torch.rand(2, 3))
    assert dw.shape == (3, 4)


def test_apply_update_functional() -> None:
    w = torch.zeros(2, 2)
    apply_update(w, torch.tensor([[1.0, -1.0], [0.5, 0.0]]), "inplace", lr=2.0, wmin=-1.0, wmax=1.5)
    assert w.tolist() == [[1.5, -1.0], [1.0, 0.0]]
    p = nn.Parameter(torch.zeros(2))
    apply_update(p, torch.tensor([1.0, 2.0]), "grad", lr=0.5)
    apply_update(p, torch.tensor([1.0, 0.0]), "grad", lr=0.5)
    assert p.grad.tolist() == [-1.0, -1.0]


@pytest.mark.parametrize("make, exc, match", [
    (lambda: Plastic(nn.ReLU(), "hebb"), TypeError, "Plastic wraps nn.Linear"),
    (lambda: Plastic(nn.Conv2d(4, 4, 3, groups=2), "hebb"), ValueError, "groups=1"),
    (lambda: Plastic(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), "hebb"), ValueError, "padding_mode='zeros'"),
    (lambda: Plastic(nn.Linear(2, 2), "hebb", reduction="none"), ValueError, "reduction='mean' or 'sum'"),
    (lambda: Plastic(nn.Linear(2, 2), "hebb", wmin=1.0, wmax=0.0), ValueError, "swap them"),
    (lambda: Plastic(nn.Linear(2, 2), "hebb", update="adam"), ValueError, "choose one of 'inplace', 'grad'"),
    (lambda: Plastic(nn.Linear(2, 2), "hebbian"), ValueError, "unknown rule 'hebbian': choose one of"),
    (lambda: Plastic(nn.Linear(2, 2), "hebb").update(torch.rand(3, 5), torch.rand(3, 2)), ValueError, r"\[B, 2\]"),
    (lambda: Plastic(nn.Conv2d(1, 2, 3), "hebb").update(torch.rand(2, 1, 5, 5), torch.rand(2, 2, 4, 4)), ValueError,
     "H'\\*W' = 9"),
    (lambda: apply_update(torch.zeros(2, 2), torch.zeros(3, 2, 2)), ValueError, "reduce dw over the batch"),
])
def test_connection_errors(make, exc, match: str) -> None:
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("rule_name", ["stdp", "triplet_stdp", "bcm", "oja", "rstdp", "krotov"])
@pytest.mark.parametrize("conv", [False, True])
def test_learn_sequence_apply_end_equals_fixed_weight_loop(rule_name: str, conv: bool) -> None:
    """apply="end": the weight is held during the presentation and the summed update applied once."""
    torch.manual_seed(6)
    layer = (nn.Conv2d(2, 3, 3, padding=1, bias=False) if conv else nn.Linear(6, 4, bias=False)).double()
    pre = _spikes(12, 2, 2, 4, 4) if conv else _spikes(12, 2, 6)
    post = _spikes(12, 2, 3, 4, 4) if conv else _spikes(12, 2, 4)
    m = torch.tensor([1.0, -2.0], dtype=torch.float64)
    a = Plastic(copy.deepcopy(layer), rule_name, lr=0.5, wmin=-0.3, wmax=0.3)
    b = Plastic(copy.deepcopy(layer), rule_name, lr=0.5, wmin=-0.3, wmax=0.3)
    for steps in ("all", "last"):
        sa = a.learn_sequence(pre, post, modulator=m, modulator_steps=steps, apply="end")
        total, sb = None, None
        for t in range(12):
            mt = m if (steps == "all" or t == 11) else None
            dw, sb = b.compute(pre[t], post[t], sb, modulator=mt)
            total = dw if total is None else total + dw
        apply_update(b.weight, total, "inplace", lr=0.5, wmin=-0.3, wmax=0.3)
        torch.testing.assert_close(a.weight, b.weight)
        for x, y in zip(sa, sb):
            torch.testing.assert_close(x, y)
