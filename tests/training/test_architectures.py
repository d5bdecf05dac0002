"""Baselines and config-driven builders: exact layer sizes, Keras initialisation, registry, save/load."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import neuroplastic.io as npio
from neuroplastic import LI, LIF, ConstantEncoder, Dense
from neuroplastic.neurons.rate import Rate
from neuroplastic.training import Model, build, build_model, founding_mlp, founding_model, register_architecture
from neuroplastic.training.architectures import ARCHITECTURES, full_config
from neuroplastic.training.baselines import glorot_uniform_, wide_mlp, wide_model
from neuroplastic.training.losses import BinaryCrossEntropy, CrossEntropy


def test_founding_mlp_is_exactly_the_founding_network() -> None:
    net = founding_mlp(64, 10)
    layers = list(net)
    assert [type(layer) for layer in layers] == [Rate, Rate, Rate]
    assert [(layer.linear.in_features, layer.linear.out_features) for layer in layers] == [(64, 4), (4, 4), (4, 10)]
    assert [layer.activation for layer in layers] == ["relu", "relu", "sigmoid"]
    assert sum(p.numel() for p in net.parameters()) == 64 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10 == 330
    x = torch.randn(5, 64)
    h = torch.relu(layers[1].linear(torch.relu(layers[0].linear(x))))
    torch.testing.assert_close(net(x)[0], torch.sigmoid(layers[2].linear(h)))


def test_keras_glorot_uniform_and_zero_bias() -> None:
    torch.manual_seed(0)
    lin = glorot_uniform_(nn.Linear(300, 200))
    a = math.sqrt(6 / 500)
    w = lin.weight.detach()
    assert float(w.abs().max()) <= a and float(w.abs().max()) > 0.99 * a
    assert abs(float(w.var()) - a * a / 3) < 0.02 * a * a  # variance of U(-a, a)
    assert torch.count_nonzero(lin.bias) == 0
    with pytest.raises(TypeError):
        glorot_uniform_(nn.Conv1d(1, 1, 1))


def test_founding_model_compile_matches_keras_defaults() -> None:
    m = founding_model(64, 10, device="cpu", seed=0)
    opt = m.optimizer
    assert isinstance(opt, torch.optim.Adam)
    g = opt.param_groups[0]
    assert g["lr"] == 1e-3 and g["betas"] == (0.9, 0.999) and g["eps"] == 1e-7
    assert isinstance(m.loss, BinaryCrossEntropy) and [x.name for x in m.metrics] == ["accuracy"]
    assert m.fit_defaults["batch_size"] == 32


def test_wide_mlp_shapes_and_loss() -> None:
    net = wide_mlp(30, 2)
    assert [layer.linear.out_features for layer in net] == [256, 128, 2]
    assert [layer.activation for layer in net] == ["relu", "relu", "identity"]
    m = wide_model(30, 2, hidden=(16,), device="cpu", seed=0)
    assert isinstance(m.loss, CrossEntropy) and m.architecture["config"]["hidden"] == [16]
    with pytest.raises(ValueError, match="dropout"):
        wide_mlp(3, 2, dropout=1.0)


def test_snn_structure_and_output_shape() -> None:
    net = build("snn", n_in=64, n_out=10, hidden=[32, 16], num_steps=7, dropout=0.1, seed=0)
    kinds = [type(m) for m in net]
    assert kinds == [ConstantEncoder, Dense, LIF, nn.Dropout, Dense, LIF, nn.Dropout, Dense, LI]
    lif = net[2]
    assert lif.params.r == ARCHITECTURES["snn"].defaults()["r"] and lif.params.surrogate.name == "fast_sigmoid"
    y, _ = net(torch.randn(3, 64))
    assert y.shape == (7, 3, 10)
    m = build_model("snn", n_in=64, n_out=10, readout="mean", device="cpu")
    assert m.loss.readout == "mean"
    with pytest.raises(ValueError, match="readout"):
        build("snn", n_in=4, n_out=2, readout="count")


def test_build_is_seeded_without_touching_global_rng() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build("snn", n_in=5, n_out=3, seed=1)
    after = torch.rand(1)
    b = build("snn", n_in=5, n_out=3, seed=1)
    assert torch.equal(before, after)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_registry_errors_and_custom_architecture(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        build("transformer", n_in=1, n_out=1)
    with pytest.raises(TypeError, match="no option"):
        build("snn", n_in=4, n_out=2, hiden=[3])
    with pytest.raises(TypeError, match="n_in"):
        build("snn", n_out=2)

    @register_architecture("tests.tiny", compile={"optimizer": "sgd", "loss": "ce", "lr": 0.1}, fit={"epochs": 3})
    def tiny(n_in: int, n_out: int, width: int = 3) -> nn.Module:
        return nn.Sequential(nn.Linear(n_in, width), nn.Tanh(), nn.Linear(width, n_out))

    assert full_config("tests.tiny", n_in=2, n_out=2) == {"n_in": 2, "n_out": 2, "width": 3}
    m = build_model("tests.tiny", n_in=2, n_out=2, width=5, seed=0, device="cpu")
    x = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    m.fit(x, (x[:, 0] > 0).astype(np.int64), epochs=m.fit_defaults["epochs"], verbose=0)
    npio.save(m, tmp_path / "tiny")
    back = npio.load(tmp_path / "tiny")
    assert isinstance(back, Model) and back.architecture["config"]["width"] == 5
    np.testing.assert_array_equal(back.predict_proba(x), m.predict_proba(x))
    ARCHITECTURES.pop("tests.tiny")


@pytest.mark.parametrize("name", ["snn", "mlp_founding", "mlp_wide"])
def test_every_architecture_round_trips_through_neuroplastic_io(name: str, tmp_path) -> None:
    m = build_model(name, n_in=6, n_out=3, seed=0, device="cpu")
    x = np.random.default_rng(1).normal(size=(9, 6)).astype(np.float32)
    m.fit(x, np.arange(9) % 3, epochs=1, verbose=0, seed=0)
    m.save(tmp_path / name)
    back = Model.load(tmp_path / name)
    np.testing.assert_array_equal(back.predict_proba(x), m.predict_proba(x))
    assert back._compile_config == m._compile_config
    assert npio.load_config(tmp_path / name)["class"] == "neuroplastic.training.Model"


def test_fit_callbacks_cosine_schedule() -> None:
    from neuroplastic.training.architectures import fit_callbacks

    m = build_model("mlp_wide", n_in=2, n_out=2, hidden=[4], seed=0, device="cpu")
    m.fit_defaults["schedule"] = "cosine"
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    hist = m.fit(x, (x[:, 0] > 0).astype(np.int64), epochs=4, verbose=0, callbacks=fit_callbacks(m, 4))
    np.testing.assert_allclose(hist.history["lr"], [1e-3 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    m.fit_defaults["schedule"] = None
    assert fit_callbacks(m, 4) == []
    m.fit_defaults["schedule"] = "step"
    with pytest.raises(ValueError, match="unknown schedule"):
        fit_callbacks(m, 4)
