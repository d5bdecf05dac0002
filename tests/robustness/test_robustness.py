"""Robustness suite: perturbations do what they say, reports are deterministic, drift recovery works."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from neuroplastic import LI, LIF, Dense, RateEncoder, Sequential
from neuroplastic.robustness import (
    PrototypeNetwork,
    accuracy,
    drift_experiment,
    drift_stream,
    hidden_neuron_layers,
    lesion_synapses,
    plot_drift,
    plot_robustness,
    robustness_report,
    silence_neurons,
)
from neuroplastic.training import build


def _data(n: int = 60, d: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 1).astype("int64")
    return x, y


def _snn(seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    return Sequential(RateEncoder(8), Dense(6, 10), LIF(tau_mem=5e-3, r=3.0), Dense(10, 2), LI())


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 2))


def test_hidden_neuron_layers_skip_the_output():
    assert [n for n, _ in hidden_neuron_layers(_snn())] == ["2"]                    # LIF, not the LI readout
    assert [n for n, _ in hidden_neuron_layers(_mlp())] == ["1"]
    wide = build("mlp_wide", n_in=6, n_out=2, hidden=[8, 4])
    assert [n for n, _ in hidden_neuron_layers(wide)] == ["0", "1"]                  # Rate layers, not the logits


def test_lesion_zeroes_exact_count_and_restores():
    net = _mlp()
    before = [p.detach().clone() for p in net.parameters()]
    with lesion_synapses(net, 0.3, torch.Generator().manual_seed(0)) as n:
        assert n == round(0.3 * 60) + round(0.3 * 20)
        assert int((net[0].weight == 0).sum()) == round(0.3 * 60)
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p, q)


def test_silenced_neurons_emit_nothing_and_hooks_are_removed():
    net = _snn()
    x = torch.rand(5, 6)
    with silence_neurons(net, 0.5, torch.Generator().manual_seed(0)):
        _, _, outs = net.forward_record(x)
        spikes = outs[2]
        dead = spikes.sum((0, 1)) == 0
        assert int(dead.sum()) >= 5
    torch.manual_seed(0)
    _, _, outs = net.forward_record(torch.ones(5, 6))
    assert not net[2]._forward_hooks
    mlp = _mlp()
    with silence_neurons(mlp, 1.0, torch.Generator().manual_seed(0)):
        out = mlp(torch.rand(4, 6))
    assert torch.allclose(out, mlp[2].bias.expand(4, 2))                           # every hidden unit silent


def test_report_is_deterministic_and_level_zero_is_clean():
    x, y = _data()
    models = {"snn": _snn(), "mlp": _mlp()}
    kw = dict(noise=[0.0, 0.3], dropout=[0.0, 0.5], lesion=[0.0, 0.5], death=[0.0, 0.5], seed=3)
    a = robustness_report(models, (x, y), **kw)
    b = robustness_report(models, (x, y), **kw)
    assert a == b
    json.dumps(a)
    for name in models:
        res = a["models"][name]
        for kind in ("noise", "dropout", "lesion", "death"):
            assert res[kind][0] == res["clean"]
    c = robustness_report(models, (x, y), **{**kw, "seed": 4})
    assert c["models"]["snn"] != a["models"]["snn"]        # the rate encoder and draws follow the seed


def test_report_works_with_a_trained_model_wrapper():
    from neuroplastic.training import build_model

    x, y = _data(80)
    model = build_model("mlp_wide", n_in=6, n_out=2, hidden=[16], device="cpu", seed=0)
    model.compile("adam", "cross_entropy", metrics=["accuracy"], lr=0.05)
    model.fit(x, y, epochs=12, batch_size=40, verbose=0, seed=0)
    rep = robustness_report({"mlp": model}, (x, y), noise=[0.0, 2.0], dropout=[0.0], lesion=[0.0, 1.0], death=[0.0])
    res = rep["models"]["mlp"]
    assert res["clean"] > 0.8
    assert res["lesion"][1] == pytest.approx(max(np.mean(y), 1 - np.mean(y)), abs=0.5)  # all synapses gone
    assert res["clean"] == pytest.approx(accuracy(model, x, y))


def test_bad_levels_are_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="lesion"):
        robustness_report({"m": _mlp()}, (x, y), lesion=[1.5])
    with pytest.raises(ValueError, match="at least one model"):
        robustness_report({}, (x, y))


def test_prototype_learning_is_an_exponential_moving_average():
    net = PrototypeNetwork(3, 2, lr=0.1)
    x = torch.tensor([[1.0, -2.0, 0.5]])
    for _ in range(5):
        net.learn(x, torch.tensor([1]))
    expected = x[0] * (1 - 0.9**5)                 # w_{n+1} = w_n + lr (x - w_n), w_0 = 0
    assert torch.allclose(net.conn.weight[1], expected, atol=1e-6)
    assert torch.equal(net.conn.weight[0], torch.zeros(3))
    assert int(net(x).argmax(1)) == 1


def test_drift_stream_moves_the_means():
    s = drift_stream("gradual", n_steps=300, drift_at=100, drift_len=100, seed=1)
    m = s["means"]
    assert np.allclose(m[0], m[99]) and np.allclose(m[200], m[299]) and not np.allclose(m[99], m[200])
    assert np.allclose(m[150], 0.5 * (m[99] + m[200]))
    with pytest.raises(ValueError, match="kind"):
        drift_stream("sudden")


def test_plasticity_recovers_from_abrupt_drift_and_frozen_does_not():
    r1 = drift_experiment("abrupt", n_steps=1200, warmup=200, window=100, seed=0)
    r2 = drift_experiment("abrupt", n_steps=1200, warmup=200, window=100, seed=0)
    assert r1 == r2
    assert r1["after"]["plastic"] > r1["after"]["frozen"] + 0.2
    assert r1["after"]["plastic"] >= r1["before"]["plastic"] - 0.1
    assert r1["recovery_steps"] is not None


def test_plots_are_written(tmp_path):
    x, y = _data(30)
    rep = robustness_report({"mlp": _mlp()}, (x, y), noise=[0.0, 0.2], dropout=[0.0], lesion=[0.0], death=[0.0])
    plot_robustness(rep, str(tmp_path / "r.png"))
    plot_drift(drift_experiment("gradual", n_steps=600, warmup=100, window=50), str(tmp_path / "d.png"))
    assert (tmp_path / "r.png").stat().st_size > 0 and (tmp_path / "d.png").stat().st_size > 0


def test_module_of_reaches_the_network_inside_a_delegating_estimator():
    from sklearn.datasets import load_iris

    from neuroplastic import SNNClassifier
    from neuroplastic.robustness.perturb import module_of

    X, y = load_iris(return_X_y=True)
    clf = SNNClassifier(learning="hybrid", hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X, y)
    assert module_of(clf) is clf.estimator_.model_.module
    with pytest.raises(TypeError, match="fitted estimator"):
        module_of(object())


def test_hebbian_units_can_die_and_inapplicable_perturbations_are_reported_not_flat():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from neuroplastic.models import HebbianNetwork

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    hebb = HebbianNetwork(architecture="dense", n_hidden=(64,), readout_epochs=3, random_state=0).fit(X[:600], y[:600])
    logreg = LogisticRegression(max_iter=300).fit(X[:600], y[:600])
    rep = robustness_report({"hebb": hebb, "logreg": logreg}, (X[600:900], y[600:900]),
                            death=[0.0, 0.9], lesion=[0.0, 0.9], noise=[0.0], dropout=[0.0])
    h = rep["models"]["hebb"]
    assert "not_applicable" not in h
    assert h["death"][0] == h["clean"] and h["death"][1] < h["clean"] - 0.2   # 90 % of its units silenced
    assert h["lesion"][1] < h["clean"] - 0.2
    lr = rep["models"]["logreg"]
    assert lr["lesion"] is None and lr["death"] is None
    assert set(lr["not_applicable"]) == {"lesion", "death"}
    json.dumps(rep)
