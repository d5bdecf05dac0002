"""Quantization: error bounds, per-channel scales, straight-through gradients, fixed-point LIF."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuroplastic import LI, LIF, ConstantEncoder, Dense, Sequential
from neuroplastic.compress import (
    FixedPointLIF,
    convert_qat,
    dequantize,
    fake_quantize,
    masks,
    prepare_qat,
    profile,
    prune_magnitude,
    quantize,
    quantize_membrane,
    quantize_weights,
    weight_scales,
)


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8, 12])
def test_quantize_dequantize_error_at_most_half_a_step(bits):
    torch.manual_seed(bits)
    w = torch.randn(7, 13) * torch.logspace(-2, 1, 7).unsqueeze(1)
    q, s = quantize(w, bits)
    qmax = 2 ** (bits - 1) - 1
    assert int(q.abs().max()) <= qmax
    err = (dequantize(q, s) - w).abs()
    assert bool((err <= s / 2 + 1e-7 * s).all())
    assert torch.equal(fake_quantize(w, bits), dequantize(q, s))


def test_per_channel_scales_follow_each_row():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.01, 0.02, -0.03], [0.0, 0.0, 0.0]])
    s = weight_scales(w, 4)
    assert s.shape == (3, 1)
    assert torch.allclose(s.squeeze(), torch.tensor([1.0 / 7, 0.03 / 7, 1.0 / 7]))   # zero row: scale 1/7
    q, _ = quantize(w, 4)
    assert q[0, 1] == -7 and q[1, 2] == -7                                          # each row's max uses the full range
    assert torch.equal(q[2], torch.zeros(3, dtype=q.dtype))
    s_tensor = weight_scales(w, 4, per_channel=False)
    assert s_tensor.ndim == 0 and float(s_tensor) == pytest.approx(1.0 / 7)
    conv_w = torch.randn(5, 2, 3, 3)
    assert weight_scales(conv_w, 8).shape == (5, 1, 1, 1)


def test_zero_weights_stay_zero():
    w = torch.randn(4, 9)
    w[w.abs() < 0.5] = 0.0
    assert bool((fake_quantize(w, 3)[w == 0] == 0).all())


def test_ste_gradient_is_identity_inside_the_range_and_zero_outside():
    w = torch.tensor([[-0.9, -0.2, 0.0, 0.3, 0.74, 0.8, 2.0]], requires_grad=True)
    scale = torch.tensor(0.1)                 # 4 bits: range |w| <= 0.7
    up = torch.arange(1.0, 8.0).unsqueeze(0)
    fake_quantize(w, 4, scale=scale).mul(up).sum().backward()
    inside = torch.tensor([[False, True, True, True, False, False, False]])
    assert torch.equal(w.grad, up * inside)
    w2 = torch.randn(3, 5, requires_grad=True)   # scale from w itself: everything inside
    fake_quantize(w2, 4).sum().backward()
    assert torch.equal(w2.grad, torch.ones(3, 5))


@pytest.mark.parametrize("bad", [1, 0, 17, 64, -4])
def test_unsupported_bit_widths_are_errors(bad):
    with pytest.raises(ValueError, match="bit width"):
        fake_quantize(torch.randn(2, 2), bad)
    with pytest.raises(ValueError, match="bit width"):
        quantize_weights(nn.Linear(2, 2), bad)


def test_non_integer_bits_are_errors_and_32_is_float():
    with pytest.raises(TypeError):
        fake_quantize(torch.randn(2, 2), 4.0)
    w = torch.randn(3, 3)
    assert fake_quantize(w, 32) is w


def test_post_training_quantization_puts_weights_on_the_grid():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    errs = quantize_weights(net, 3)
    for layer in (net[0], net[2]):
        s = weight_scales(layer.weight, 3)
        codes = layer.weight.detach() / s
        assert torch.allclose(codes, codes.round(), atol=1e-5) and int(codes.abs().round().max()) <= 3
    assert set(errs) == {"0.weight", "2.weight"}


def test_qat_forward_is_quantized_and_gradients_pass_straight_through():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3, bias=False))
    shadow = net[0].weight
    prepare_qat(net, 4)
    assert net[0].parametrizations.weight.original is shadow       # optimizers built earlier still work
    wq = net[0].weight
    assert torch.equal(wq, fake_quantize(shadow.detach(), 4))
    x = torch.randn(8, 4)
    net(x).pow(2).sum().backward()
    manual = 2 * (x @ wq.detach().T).T @ x                         # d/dWq of sum((x Wq^T)^2)
    assert torch.allclose(shadow.grad, manual, atol=1e-5)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    opt.step()
    convert_qat(net)
    w = net[0].weight.detach()
    codes = w / weight_scales(w, 4)
    assert torch.allclose(codes, codes.round(), atol=1e-5)


def test_qat_respects_pruning_masks():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 4))
    prune_magnitude(net, 0.7)
    m = masks(net)["0.weight"].clone()
    prepare_qat(net, 4)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 10)).sum().backward()
        opt.step()
        assert bool((net[0].weight[~m] == 0).all())
    convert_qat(net)
    assert bool((net[0].weight[~m] == 0).all())


def _fixed_reference(xs: list[float], beta_q: int, gain: float, th: int, f: int, lo: int, hi: int) -> tuple[list[int], list[int]]:
    """Plain-Python integer LIF (subtract reset, v_leak = v_reset = 0)."""
    v, vs, ss = 0, [], []
    for x in xs:
        v = (v * beta_q + (1 << (f - 1))) // (1 << f) + round(x * gain)
        v = min(max(v, lo), hi)
        s = int(v >= th)
        v = v - th if s else v
        vs.append(v)
        ss.append(s)
    return vs, ss


def test_fixed_point_lif_matches_integer_reference():
    torch.manual_seed(0)
    x = torch.rand(40, 1, 1, dtype=torch.float64) * 3.0
    lif = FixedPointLIF(frac_bits=6, total_bits=12, tau_mem=8e-3, v_th=1.0)
    s, state = lif(x)
    f = 6
    beta_q = round(math.exp(-1 / 8) * 2**f)
    gain = (1 - math.exp(-1 / 8)) * 2**f
    vs, ss = _fixed_reference([float(v) for v in x.flatten()], beta_q, gain, 2**f, f, -2048, 2047)
    assert s.flatten().tolist() == ss
    assert int(state.v) == vs[-1] and state.v.dtype == torch.int32


def test_fixed_point_membrane_tracks_float_lif_within_bound():
    torch.manual_seed(1)
    x = torch.rand(60, 3, 5) * 0.8                   # sub-threshold drive: no spikes
    f, tau = 10, 10e-3
    fixed = FixedPointLIF(frac_bits=f, total_bits=24, tau_mem=tau, v_th=1e3)
    flt = LIF(tau_mem=tau, v_th=1e3)
    _, sf = fixed(x)
    _, s = flt(x)
    beta = math.exp(-1e-3 / tau)
    vmax = 0.8
    bound = (2.0**-f + abs(round(beta * 2**f) / 2**f - beta) * vmax) / (1 - beta)
    err = (sf.v.double() * 2.0**-f - s.v.double()).abs().max()
    assert float(err) <= bound


def test_fixed_point_lif_saturates_and_validates():
    lif = FixedPointLIF(frac_bits=4, total_bits=8, tau_mem=1e-3, v_th=5.0, reset="none")
    _, st = lif(torch.full((5, 1, 1), 1e4))
    assert int(st.v) == 127
    with pytest.raises(ValueError, match="fit"):
        FixedPointLIF(frac_bits=7, total_bits=8, v_th=4.0)
    with pytest.raises(ValueError, match="refractory"):
        FixedPointLIF(t_ref=2e-3)


def test_quantize_membrane_swaps_lif_layers_and_stays_profilable():
    torch.manual_seed(0)
    net = Sequential(ConstantEncoder(10), Dense(4, 8), LIF(tau_mem=5e-3, r=2.0), Dense(8, 2), LI())
    q = quantize_membrane(net, frac_bits=10, total_bits=20)
    assert isinstance(q[2], FixedPointLIF) and isinstance(net[2], LIF)
    x = torch.rand(16, 4)
    y_float, _ = net(x)
    y_fixed, _ = q(x)
    assert (y_float - y_fixed).abs().max() < 0.5 * y_float.abs().max()
    assert profile(q, x).layers[2].kind == "LIF"
