"""ANN-to-SNN conversion: rates approach the ANN's activations as T grows, BatchNorm folding is
exact, the spiking max-pool gate follows hand-computed sequences, and unsupported layers are
named."""
import numpy as np
import pytest
import torch
from torch import nn

from neuroplastic import profile
from neuroplastic.conversion import ConversionError, MaxPoolGate, convert
from neuroplastic.conversion.ann2snn import _ann_activations, _blocks, _layers


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


def test_output_rate_converges_to_ann_logits_as_T_grows():
    ann = _mlp()
    x = torch.rand(128, 6)
    with torch.no_grad():
        target = ann(x)
    errors = []
    for t in (8, 32, 128, 512, 2048):
        snn = convert(ann, x, T=t, percentile=100.0)   # max scaling: no clipping, only quantisation
        with torch.no_grad():
            out, _ = snn(x)
        assert out.shape == (t, 128, 4)
        errors.append(float((out.mean(0) - target).abs().max()))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.02 * float(target.abs().max())


def test_hidden_rates_approach_scaled_activations():
    """Layer-1 spike rate x lambda_1 -> ReLU activation (clipped at lambda_1)."""
    ann = _mlp(1)
    x = torch.rand(64, 6)
    snn = convert(ann, x, T=4096, percentile=100.0)
    with torch.no_grad():
        _, _, outs = snn.forward_record(x)
        act = torch.relu(ann[0](x))
    rate = outs[2].mean(0)        # [Dense, ConstantEncoder, IF, ...]: the first IF layer
    assert torch.allclose(rate * snn.scales[0], act, atol=2e-3 * snn.scales[0] + 1e-6)


def test_batchnorm_is_folded_exactly_and_the_ann_is_untouched():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 25, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    ann.train()
    for _ in range(3):   # give the batch norms non-trivial running statistics
        ann(torch.randn(16, 1, 5, 5) * 2 + 1)
    ann.eval()
    before = {k: v.clone() for k, v in ann.state_dict().items()}
    x = torch.randn(32, 1, 5, 5)
    acts = _ann_activations(_blocks(_layers(ann)), x)
    with torch.no_grad():
        ref1 = ann[:3](x).double()
        ref2 = ann[:7](x).double()
    assert torch.allclose(acts[0], ref1, atol=1e-5) and torch.allclose(acts[1], ref2, atol=1e-5)
    convert(ann, x, T=4)
    assert all(torch.equal(before[k], v) for k, v in ann.state_dict().items())


def test_conv_net_with_pooling_converges():
    torch.manual_seed(3)
    ann = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Conv2d(4, 6, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),   # pool-then-ReLU commutes
                        nn.Flatten(), nn.Linear(6 * 2 * 2, 3)).eval()
    x = torch.rand(48, 1, 8, 8)
    with torch.no_grad():
        target = ann(x)
        errs = [float((convert(ann, x, T=t, percentile=100.0)(x)[0].mean(0) - target).abs().mean()) for t in (16, 1024)]
    assert errs[1] < errs[0] / 4
    assert errs[1] < 0.05 * float(target.abs().mean())


def test_max_pool_gate_passes_the_most_active_unit_by_hand():
    # one 1x2 window: unit 0 spikes every 2nd step, unit 1 every step for 3 steps then never
    s0 = [1, 0, 1, 0, 1, 0, 1, 0]
    s1 = [1, 1, 1, 0, 0, 0, 0, 0]
    x = torch.tensor([s0, s1], dtype=torch.float32).T.reshape(8, 1, 1, 1, 2)
    out, state = MaxPoolGate((1, 2))(x)
    # counts after each step: (1,1) tie -> unit 0; (1,2) -> 1; (2,3) -> 1; (2,3) -> 1; (3,3) tie -> 0 ...
    expected = [1, 1, 1, 0, 1, 0, 1, 0]
    assert out.flatten().tolist() == expected
    assert state.count.flatten().tolist() == [4.0, 3.0]


def test_energy_profile_of_a_converted_network():
    ann = _mlp()
    x = torch.rand(16, 6)
    snn = convert(ann, x, T=32)
    rep = profile(snn, x)
    kinds = [lp.kind for lp in rep.layers]
    assert "IF" in kinds
    # the first layer gets the analog current (MACs); later layers get spikes (ACs only)
    dense = [lp for lp in rep.layers if lp.kind == "dense"]
    # the first layer runs once on the static input: 6 x 32 MACs per sample, not T times that
    assert dense[0].macs == 6 * 32 and dense[0].acs == 0
    dense2 = [lp for lp in rep.layers if lp.acs > 0]
    assert dense2 and all(lp.macs == 0 for lp in dense2)


@pytest.mark.parametrize("ann, match", [
    (nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)), "Sigmoid"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU()), "last affine layer"),
    (nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), "not followed by a ReLU"),
    (nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), "does not follow"),
    (nn.Linear(3, 2), "nn.Sequential"),
])
def test_unsupported_layouts_are_named(ann, match):
    with pytest.raises(ConversionError, match=match):
        convert(ann, torch.rand(4, 3), T=8)


@pytest.mark.parametrize("kwargs, match", [({"T": 0}, "T must"), ({"T": 2.5}, "T must"),
                                           ({"percentile": 0}, "percentile"), ({"v_init": 1.0}, "v_init")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convert(_mlp(), torch.rand(4, 6), **{"T": 8, **kwargs})


def test_bad_calibration_data():
    with pytest.raises(ValueError, match="NaN"):
        convert(_mlp(), np.full((4, 6), np.nan, dtype=np.float32), T=8)
    with pytest.raises(ValueError, match="non-empty"):
        convert(_mlp(), torch.zeros(0, 6), T=8)
