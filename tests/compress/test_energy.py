"""Operation counts of `profile` against hand-counted small networks."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from neuroplastic import LI, LIF, ConstantEncoder, Conv2d, Dense, Sequential
from neuroplastic.compress import EnergyModel, profile, register_counter


def _spikes() -> torch.Tensor:
    # T=3, B=2, 4 inputs; 7 spikes in total, input line 1 carries 3 of them
    s = torch.zeros(3, 2, 4)
    s[0, 0, 0] = s[0, 0, 1] = s[1, 0, 1] = s[2, 1, 1] = 1
    s[1, 1, 2] = s[2, 1, 3] = s[0, 1, 3] = 1
    return s


def test_dense_acs_are_spikes_times_fanout():
    layer = Dense(4, 3, bias=False)
    r = profile(Sequential(layer), _spikes(), time_first=True)
    lp = r.layers[0]
    assert lp.kind == "dense" and lp.macs == 0
    assert lp.acs == pytest.approx(7 * 3 / 2)          # per sample (B = 2)
    assert lp.mem_reads == pytest.approx((21 + 7) / 2)  # one weight per AC + one event read per spike
    assert lp.energy_pj == pytest.approx(21 / 2 * 0.9 + 28 / 2 * 5.0)


def test_pruned_synapses_cost_nothing_unless_counted():
    layer = Dense(4, 3, bias=False)
    with torch.no_grad():
        layer.weight[0, 1] = 0.0
        layer.weight[2, 1] = 0.0  # input 1 now reaches one neuron; it spiked 3 times
    r = profile(Sequential(layer), _spikes(), time_first=True)
    assert r.layers[0].acs * 2 == 4 * 3 + 3 * 1
    dense = profile(Sequential(layer), _spikes(), time_first=True, energy_model=EnergyModel(count_zero_weights=True))
    assert dense.layers[0].acs * 2 == 21


def test_bias_adds_and_reads_per_step():
    layer = Dense(4, 3, bias=True)
    r = profile(Sequential(layer), _spikes(), time_first=True)
    lp = r.layers[0]
    assert lp.extra_adds == pytest.approx(3 * 3)   # 3 outputs x 3 steps per sample
    assert lp.mem_reads == pytest.approx((21 + 7) / 2 + 9)


def _conv_reference(spikes: torch.Tensor, kh: int, kw: int, out_ch: int, stride: int, pad: int) -> int:
    """Brute force: for every output position, count kernel taps that land on a spike."""
    _, _, h, w = spikes.shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    total = 0
    for b in range(spikes.shape[0]):
        for c in range(spikes.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    for di in range(kh):
                        for dj in range(kw):
                            y, x = i * stride + di - pad, j * stride + dj - pad
                            if 0 <= y < h and 0 <= x < w and spikes[b, c, y, x] == 1:
                                total += out_ch
    return total


@pytest.mark.parametrize("pos,expected", [((0, 0), 4), ((0, 2), 6), ((2, 2), 9)])
def test_conv_border_clipping_single_spike(pos, expected):
    conv = Conv2d(1, 2, 3, padding=1, bias=False)
    s = torch.zeros(1, 1, 1, 5, 5)
    s[0, 0, 0, pos[0], pos[1]] = 1
    r = profile(Sequential(conv), s, time_first=True)
    assert r.layers[0].acs == expected * 2            # kernel positions x out_channels


def test_conv_counts_match_brute_force_with_stride():
    g = torch.Generator().manual_seed(0)
    s = (torch.rand(2, 3, 2, 7, 6, generator=g) < 0.3).float()   # T=2, B=3, C=2
    conv = Conv2d(2, 4, 3, stride=2, padding=1, bias=False)
    r = profile(Sequential(conv), s, time_first=True)
    ref = _conv_reference(s.reshape(6, 2, 7, 6), 3, 3, 4, 2, 1)
    assert r.layers[0].acs * 3 == ref


def test_conv_analog_input_costs_macs():
    conv = Conv2d(1, 2, 3, padding=0, bias=False)
    x = torch.full((1, 1, 1, 5, 5), 0.5)
    r = profile(Sequential(conv), x, time_first=True)
    assert r.layers[0].acs == 0 and r.layers[0].macs == 3 * 3 * 9 * 2  # 3x3 outputs x 9 taps x 2 channels


def test_mlp_hand_count():
    mlp = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    r = profile(mlp, torch.rand(6, 5))
    t = r.total
    assert t.macs == 5 * 4 + 4 * 3 and t.acs == 0
    assert t.neuron_updates == 4
    assert t.mem_reads == 32 + (5 + 4) + (4 + 3)     # weights + input activations + biases
    assert r.energy_pj == pytest.approx(32 * 4.6 + (7 + 4) * 0.9 + 48 * 5.0)


def test_skip_zero_activations_counts_only_nonzero_inputs():
    mlp = nn.Sequential(nn.Linear(4, 2, bias=False))
    x = torch.tensor([[0.0, 0.5, 0.0, 0.2]])
    r = profile(mlp, x, energy_model=EnergyModel(skip_zero_activations=True))
    assert r.total.macs == 2 * 2


def test_constant_encoder_pays_macs_every_step():
    net = Sequential(ConstantEncoder(5), Dense(3, 4, bias=False), LIF(), Dense(4, 2, bias=False), LI())
    x = torch.tensor([[0.2, 0.7, 0.1]])
    r = profile(net, x)
    assert r.layers[0].kind == "encoder" and r.layers[0].energy_pj == 0
    dense1 = r.layers[1]
    assert dense1.macs == 5 * 3 * 4
    lif, li = r.layers[2], r.layers[4]
    assert lif.neuron_updates == 5 * 4 and li.neuron_updates == 5 * 2 and li.spikes == 0
    # second dense layer sees binary spikes: ACs = spikes x 2
    assert r.layers[3].acs == lif.spikes * 2 and r.layers[3].macs == 0


def test_lif_update_cost_with_known_spikes():
    lif = LIF(tau_mem=1e-3, v_th=1.0, reset="zero")
    x = torch.zeros(4, 1, 3)
    x[0, 0, 0] = 10.0                                    # one certain spike
    r = profile(Sequential(lif), x, time_first=True)
    lp = r.layers[0]
    assert lp.spikes == 1 and lp.neuron_updates == 12
    assert lp.extra_macs == 12 and lp.extra_adds == 12 + 1 and lp.mem_reads == 12
    ref = profile(Sequential(LIF(tau_mem=1e-3, t_ref=2e-3, reset="zero")), x, time_first=True).layers[0]
    assert ref.mem_reads == 24 and ref.extra_adds == 24 + 1


def test_report_is_printable_and_json_able():
    net = Sequential(ConstantEncoder(2), Dense(3, 4), LIF(), Dense(4, 2), LI())
    r = profile(net, torch.rand(2, 3))
    text = str(r)
    assert "energy pJ" in text and "total" in text
    d = json.loads(r.to_json())
    assert d["total"]["energy_pj"] == pytest.approx(r.energy_pj)
    assert [row["kind"] for row in d["layers"]] == ["encoder", "dense", "LIF", "dense", "LI"]


def test_unknown_parametric_layer_is_an_error_and_registration_fixes_it():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.g = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.g

    net = nn.Sequential(nn.Linear(2, 3), Scale())
    with pytest.raises(ValueError, match="register a counter"):
        profile(net, torch.rand(1, 2))

    @register_counter(Scale, "scale")
    def _count(m, x, out, lp, em):
        lp.extra_macs += x.numel()

    assert profile(net, torch.rand(1, 2)).layers[1].extra_macs == 3


def test_energy_model_validation():
    with pytest.raises(ValueError, match="picojoules"):
        EnergyModel(mac_pj=-1.0)
    with pytest.raises(ValueError, match="batch"):
        profile(nn.Linear(2, 2), torch.rand(2))


def test_rate_encoder_spikes_drive_acs():
    from neuroplastic import RateEncoder

    torch.manual_seed(0)
    net = Sequential(RateEncoder(8), Dense(6, 5, bias=False), LIF())
    r = profile(net, torch.rand(4, 6))
    assert r.layers[0].spikes > 0
    assert r.layers[1].acs == pytest.approx(r.layers[0].spikes * 5)
    assert r.layers[1].macs == 0
