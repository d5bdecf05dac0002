"""Contract of the one training loop: gradients only, plasticity only, both (issue 13 item 1).

References are independent of ``Model.fit``: numpy's eigendecomposition for Oja's rule, and
hand-written loops over ``Plastic.compute`` and autograd for the mixed modes.
"""
from __future__ import annotations

import copy
import io
import contextlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neuroplastic.io import CheckpointError
from neuroplastic.network.sequential import Sequential
from neuroplastic.neurons import LIF, LI
from neuroplastic.encoding import ConstantEncoder
from neuroplastic.plasticity import Oja, Plastic
from neuroplastic.synapses import Dense
from neuroplastic.training import LambdaCallback, Model, ModelCheckpoint, register_architecture


def _pca_data(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Zero-mean Gaussian data in 4-D whose covariance has one clearly leading eigenvector."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    x = (rng.normal(size=(n, 4)) * np.array([0.6, 0.2, 0.15, 0.1])) @ q.T
    return (x - x.mean(0)).astype("float32")


def _data(n: int = 48, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")


def _hebb_net(update: str = "inplace", seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    return Sequential(Plastic(Dense(4, 3, bias=False), "hebb", lr=0.05, update=update, wmin=-2.0, wmax=2.0),
                      nn.Tanh(), Dense(3, 2))


# ---------------------------------------------------------------------------------------- the bar


def test_unsupervised_fit_recovers_the_first_principal_component() -> None:
    x = _pca_data()
    torch.manual_seed(0)
    model = Model(Sequential(Plastic(Dense(4, 1, bias=False), "oja", lr=1.0)), device="cpu")
    hist = model.fit(x, epochs=3, batch_size=128, verbose=0, seed=0)  # no labels, no compile
    w = model.module[0].weight.detach().double().numpy().ravel()
    _, vecs = np.linalg.eigh(np.cov(x.T.astype(np.float64)))
    cos = abs(w @ vecs[:, -1]) / np.linalg.norm(w)
    assert cos >= 0.99, cos
    assert abs(np.linalg.norm(w) - 1.0) < 0.05  # Oja normalises the weight vector
    assert set(hist.history) == {"weight_change"} and len(hist.history["weight_change"]) == 3


def test_plastic_lr_is_the_one_learning_rate() -> None:
    conn = Plastic(Dense(3, 2, bias=False), "oja", lr=0.01)
    assert conn.rule.lr == 1.0 and conn.lr == 0.01
    pre = torch.rand(5, 3)
    post = conn(pre).detach()
    w = conn.weight.detach().clone()
    conn.update(pre, post)
    expected = w + 0.01 * ((post.T @ pre) / 5 - (post * post).mean(0).unsqueeze(1) * w)
    torch.testing.assert_close(conn.weight.detach(), expected)
    assert Plastic(Dense(3, 2), Oja(lr=0.05)).rule.lr == 0.05  # a rule object keeps its rate
    with pytest.warns(UserWarning, match="multiplies the rate of Oja"):
        Plastic(Dense(3, 2), Oja(lr=0.05), lr=0.5)


# --------------------------------------------------------------------------------- the three modes


def test_gradient_only_equals_the_same_net_without_plasticity() -> None:
    x, y = _data()
    a = Model(_hebb_net(), device="cpu").compile("sgd", "cross_entropy", lr=0.1)
    plain = copy.deepcopy(a.module)
    plain[0] = plain[0].layer  # the bare Dense
    b = Model(plain, device="cpu").compile("sgd", "cross_entropy", lr=0.1)
    a.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, learning="grad")
    b.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    torch.testing.assert_close(a.module[0].weight, b.module[0].weight, rtol=0, atol=0)
    torch.testing.assert_close(a.module[2].weight, b.module[2].weight, rtol=0, atol=0)


def test_plasticity_only_matches_a_hand_written_hebb_loop_and_leaves_the_rest() -> None:
    x, _ = _data()
    model = Model(_hebb_net(), device="cpu")
    w = model.module[0].weight.detach().double().clone()
    readout = {k: v.clone() for k, v in model.module[2].state_dict().items()}
    model.fit(x, epochs=2, batch_size=16, verbose=0, shuffle=False)
    xs = torch.from_numpy(x).double()
    for _ in range(2):
        for i in range(0, len(xs), 16):
            xb = xs[i:i + 16]
            yb = xb @ w.T
            w = (w + 0.05 * (yb.T @ xb) / len(xb)).clamp(-2.0, 2.0)
    torch.testing.assert_close(model.module[0].weight.detach().double(), w, rtol=1e-5, atol=1e-6)
    for k, v in model.module[2].state_dict().items():
        assert torch.equal(v, readout[k]), f"the readout's {k} changed in an unsupervised fit"


@pytest.mark.parametrize("update", ["grad", "inplace"])
def test_both_matches_a_hand_written_loop(update: str) -> None:
    x, y = _data()
    model = Model(_hebb_net(update), device="cpu").compile("sgd", "cross_entropy", lr=0.3)
    ref = copy.deepcopy(model.module)
    opt = torch.optim.SGD(ref.parameters(), lr=0.3)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    conn = ref[0]
    for _ in range(2):
        for i in range(0, len(xs), 16):
            xb, yb = xs[i:i + 16], ys[i:i + 16]
            opt.zero_grad()
            post = conn(xb)
            out, _ = ref(xb)
            nn.functional.cross_entropy(out, yb).backward()
            dw, _ = conn.compute(xb, post.detach())
            if update == "grad":
                conn.weight.grad -= conn.lr * dw
                opt.step()
                conn.constrain_()
            else:
                opt.step()
                with torch.no_grad():
                    conn.weight.add_(conn.lr * dw).clamp_(-2.0, 2.0)
    for (k, v), (_, r) in zip(model.module.state_dict().items(), ref.state_dict().items()):
        torch.testing.assert_close(v, r, rtol=1e-5, atol=1e-6, msg=k)
    assert (model.module[0].weight - _hebb_net(update)[0].weight).abs().max() > 1e-3  # it did learn


@pytest.mark.parametrize("labels", [True, False])
def test_grad_and_inplace_give_the_same_weights_with_sgd_at_rate_1(labels: bool) -> None:
    x, y = _data()
    out = []
    for update in ("grad", "inplace"):
        model = Model(_hebb_net(update), device="cpu").compile("sgd", "cross_entropy", lr=1.0)
        model.fit(x, y if labels else None, epochs=2, batch_size=16, verbose=0, seed=0)
        out.append(model.module.state_dict())
    for k in out[0]:
        assert torch.allclose(out[0][k], out[1][k], atol=1e-6), k


def test_spiking_post_activity_is_the_driven_neuron_layer() -> None:
    """In a Sequential, a Plastic followed by neurons learns from their spikes (STDP-style rules need them)."""
    torch.manual_seed(0)
    net = Sequential(ConstantEncoder(6), Plastic(Dense(4, 3, bias=False), "hebb", lr=0.1), LIF(v_th=0.05))
    model = Model(net, device="cpu")
    xs = torch.rand(8, 4)
    w = net[1].weight.detach().clone()
    model.fit(xs, epochs=1, batch_size=8, verbose=0, shuffle=False)
    with torch.no_grad():
        pre = xs.unsqueeze(0).expand(6, 8, 4)
        spikes, _ = LIF(v_th=0.05)(pre @ w.T)
    assert spikes.sum() > 0
    expected = w + 0.1 * torch.einsum("tbo,tbi->oi", spikes, pre) / 8
    torch.testing.assert_close(net[1].weight.detach(), expected)


# ------------------------------------------------------------------------------ phases, freezing


def test_phases_plasticity_then_readout_then_fine_tuning() -> None:
    x, y = _data()
    model = Model(_hebb_net(), device="cpu").compile("adam", "cross_entropy", lr=0.01)

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in model.module.state_dict().items()}

    def changed(before: dict[str, torch.Tensor]) -> set[str]:
        return {k for k, v in model.module.state_dict().items() if not torch.equal(v, before[k])}

    s0 = snapshot()
    model.fit(x, epochs=1, verbose=0, seed=0)  # 1. the rule only
    assert changed(s0) == {"0.layer.weight"}
    s1 = snapshot()
    assert model.freeze(Plastic) == ["0.layer.weight"]
    model.fit(x, y, epochs=1, verbose=0, seed=0, learning="grad")  # 2. the readout only
    assert changed(s1) == {"2.weight", "2.bias"}
    s2 = snapshot()
    model.unfreeze()
    model.fit(x, y, epochs=1, verbose=0, seed=0, learning="grad")  # 3. everything by gradients
    assert changed(s2) == set(s2)
    s3 = snapshot()
    model.freeze("0")  # a frozen Plastic layer still learns by its rule
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    assert changed(s3) == set(s3)


# -------------------------------------------------------------------------- callbacks, checkpoints


@register_architecture("test_bcm_features", fit={"epochs": 2, "batch_size": 8})
def _bcm_features(n_in: int, n_out: int, hidden: int = 5) -> nn.Module:
    return Sequential(Plastic(Dense(n_in, hidden, bias=False), "bcm", lr=0.5, wmin=-1.0, wmax=1.0), nn.ReLU(),
                      Dense(hidden, n_out))


def _bcm_model(compiled: bool) -> Model:
    from neuroplastic.training import build_model

    return build_model("test_bcm_features", n_in=4, n_out=2, seed=0, device="cpu", compile=False) if not compiled \
        else build_model("test_bcm_features", n_in=4, n_out=2, seed=0, device="cpu", compile=False).compile(
            "adam", "cross_entropy", lr=0.01)


@pytest.mark.parametrize("labels", [False, True])
def test_model_checkpoint_and_resume_continue_exactly(tmp_path: Path, labels: bool) -> None:
    x, y = _data(40)
    y = y if labels else None
    a = _bcm_model(labels)
    a.fit(x, y, epochs=4, batch_size=8, verbose=0, seed=3)
    assert a._plastic_state["0"]["theta"].abs().sum() > 0  # BCM's threshold moved and is kept
    b = _bcm_model(labels)
    b.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=3,
          callbacks=[ModelCheckpoint(tmp_path / "ck", monitor="weight_change" if not labels else "loss")])
    torch.manual_seed(999)
    c = Model.load(tmp_path / "ck")
    torch.testing.assert_close(c._plastic_state["0"]["theta"], b._plastic_state["0"]["theta"])
    hist = c.fit(x, y, epochs=4, verbose=0, resume=tmp_path / "ck")
    assert hist.epoch == [2, 3]
    for k, v in a.module.state_dict().items():
        assert torch.equal(v, c.module.state_dict()[k]), k


def test_callbacks_and_progress_bar_in_an_unsupervised_fit() -> None:
    x, _ = _data()
    seen: list[tuple[str, dict]] = []
    cb = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(("batch", dict(logs))),
                        on_epoch_end=lambda e, logs: seen.append(("epoch", dict(logs))))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        Model(_hebb_net(), device="cpu").fit(x, epochs=2, batch_size=16, verbose=2, callbacks=[cb])
    assert [kind for kind, _ in seen].count("epoch") == 2 and [kind for kind, _ in seen].count("batch") == 6
    assert all("weight_change" in logs and logs["weight_change"] > 0 for _, logs in seen)
    assert "weight_change" in buf.getvalue()


def test_hand_built_sequential_saves_and_loads(tmp_path: Path) -> None:
    x, y = _data()
    torch.manual_seed(0)
    net = Sequential(ConstantEncoder(4), Plastic(Dense(4, 6, bias=False), "bcm", lr=0.2, wmin=-1.0, wmax=1.0),
                     LIF(tau_mem=5e-3, v_th=0.2, surrogate={"name": "arctan", "alpha": 2.0}), nn.Dropout(0.1),
                     Dense(6, 2), LI(tau_mem=1e-2))
    model = Model(net, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"], lr=0.01)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0)
    model.save(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilding the Plastic layer must not warn about its rate
        loaded = Model.load(tmp_path / "m")
    assert repr(loaded.module) == repr(model.module)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    torch.testing.assert_close(loaded._plastic_state["1"]["theta"], model._plastic_state["1"]["theta"])
    loaded.fit(x, y, epochs=1, verbose=0, seed=0)  # and trains on

    class Mine(nn.Module):
        def forward(self, x):  # pragma: no cover - never run
            return x

    with pytest.raises(CheckpointError, match=r"module\.1 is a .*Mine.*register_architecture"):
        Model(Sequential(Dense(4, 2), Mine()), device="cpu").save(tmp_path / "bad")


# ---------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("make, kwargs, match", [
    (lambda: Model(nn.Linear(4, 2), device="cpu"), {}, r"fit\(x\) without y trains only Plastic layers.*fit\(x, y\)"),
    (lambda: Model(nn.Linear(4, 2), device="cpu").compile("sgd", "mse"), {"learning": "plastic"},
     "has none: use learning='grad'"),
    (lambda: Model(_hebb_net(), device="cpu"), {"y": np.zeros(48, "int64"), "learning": "plastic"},
     "without y"),
    (lambda: Model(_hebb_net(), device="cpu"), {"learning": "hebbian"}, "choose one of"),
    (lambda: Model(_hebb_net(), device="cpu"), {"validation_split": 0.25}, "validation needs labels and a loss"),
    (lambda: Model(_hebb_net(), device="cpu"), {"strategy": "horovod"}, "unknown strategy 'horovod'.*ddp"),
])
def test_errors_name_the_fix(make, kwargs, match) -> None:
    x, _ = _data()
    with pytest.raises(ValueError, match=match):
        make().fit(x, epochs=1, verbose=0, **kwargs)


def test_supervised_fit_of_an_uncompiled_plastic_model_names_compile() -> None:
    x, y = _data()
    with pytest.raises(RuntimeError, match=r"model.compile"):
        Model(_hebb_net(), device="cpu").fit(x, y, verbose=0)


def test_strategy_by_name_and_object() -> None:
    from neuroplastic.distributed import Strategy

    x, _ = _data()
    for strategy in (None, "none", "auto", Strategy()):
        Model(_hebb_net(), device="cpu").fit(x, epochs=1, verbose=0, strategy=strategy)
    with pytest.raises(TypeError, match="lacks"):
        Model(_hebb_net(), device="cpu").fit(x, epochs=1, verbose=0, strategy=object())


def test_unlabelled_dataloader_trains_the_plastic_layers_like_arrays() -> None:
    from torch.utils.data import DataLoader

    x, _ = _data()
    a = Model(_hebb_net(), device="cpu")
    a.fit(x, epochs=1, batch_size=16, verbose=0, shuffle=False)
    b = Model(_hebb_net(), device="cpu").compile("sgd", "cross_entropy")  # compiled: say learning='plastic'
    b.fit(DataLoader(torch.from_numpy(x), batch_size=16), epochs=1, verbose=0, learning="plastic")
    torch.testing.assert_close(a.module[0].weight, b.module[0].weight, rtol=0, atol=0)
    with pytest.raises(ValueError, match="learning='plastic'"):
        b.fit(DataLoader(torch.from_numpy(x), batch_size=16), epochs=1, verbose=0)
