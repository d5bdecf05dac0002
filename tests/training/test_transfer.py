"""Transfer: copied layers, a fresh head, freezing, features; HebbianNetwork.fit_readout."""
import numpy as np
import pytest
import torch

import neuroplastic as npl
from neuroplastic.training import build_model
from neuroplastic.training.transfer import features, last_affine, transfer


def _data(n=96, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5) if k == 3 else (x[:, 2] > 0).astype(np.int64)
    return x, y


def test_transfer_copies_layers_replaces_the_head_and_freezes_the_rest():
    src = build_model("snn", n_in=8, n_out=3, hidden=[16], seed=0, device="cpu")
    x, y = _data()
    src.fit(x, y, epochs=2, verbose=0, seed=0)
    before = {k: v.clone() for k, v in src.get_weights().items()}
    dst = transfer(src, n_out=2, seed=1)
    name, head = last_affine(dst.module)
    assert head.weight.shape == (2, 16) and head.bias.shape == (2,)
    trainable = {n for n, p in dst.module.named_parameters() if p.requires_grad}
    assert trainable == {f"{name}.weight", f"{name}.bias"}
    x2, y2 = _data(k=2, seed=1)
    dst.compile("adam", "cross_entropy", lr=1e-2)
    dst.fit(x2, y2, epochs=2, verbose=0, seed=0)
    after = dst.get_weights()
    for k, v in before.items():   # the source is untouched, the frozen copy unchanged by training
        assert torch.equal(src.get_weights()[k], v)
        if not k.startswith(name):
            assert torch.equal(after[k], v)
    assert not torch.equal(after[f"{name}.weight"], transfer(src, n_out=2, seed=1).get_weights()[f"{name}.weight"])
    assert dst.predict_proba(x2).shape == (len(x2), 2)
    dst.unfreeze()
    assert all(p.requires_grad for p in dst.module.parameters())


def test_transferred_model_saves_and_loads(tmp_path):
    src = build_model("mlp_wide", n_in=8, n_out=3, hidden=[16], seed=0, device="cpu")
    dst = transfer(src, n_out=5)
    dst.save(tmp_path / "m")
    back = npl.load(tmp_path / "m")
    x, _ = _data()
    np.testing.assert_allclose(back.predict_outputs(x), dst.predict_outputs(x), atol=1e-6)


def test_features_is_the_body_without_the_head():
    src = build_model("snn", n_in=8, n_out=3, hidden=[16], seed=0, device="cpu")
    body = features(src)
    x, _ = _data()
    src.module.eval()
    body.module.eval()                            # dropout off in both
    with torch.no_grad():
        full, _, outs = src.module.forward_record(torch.as_tensor(x))
        mine = body.module(torch.as_tensor(x))[0]
    idx = len(body.module) - 1
    assert torch.equal(mine, outs[idx])          # the same activity the full model computes there
    assert not any(p.requires_grad for p in body.module.parameters())


def test_transfer_bad_input():
    src = build_model("mlp_wide", n_in=8, n_out=3, hidden=[16], seed=0, device="cpu")
    with pytest.raises(ValueError, match="exactly one of n_out"):
        transfer(src)
    with pytest.raises(ValueError, match="positive integer"):
        transfer(src, n_out=0)
    with pytest.raises(TypeError, match="Model or an nn.Module"):
        transfer("model", n_out=2)
    with pytest.raises(ValueError, match="no affine layer"):
        transfer(torch.nn.Sequential(torch.nn.ReLU()), n_out=2)


def test_hebbian_fit_readout_keeps_features_and_learns_new_classes():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((6, 10)) * 3
    x = np.concatenate([c + rng.standard_normal((40, 10)) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(6), 40)
    src = npl.HebbianNetwork(n_hidden=24, random_state=0).fit(x[y < 3], y[y < 3])
    layers = [p.detach().clone() for layer in src.layers_ for p in layer.parameters()]
    f_before = src.transform(x[y >= 3])
    src.fit_readout(x[y >= 3], y[y >= 3] * 10)                  # new task, new labels
    assert src.classes_.tolist() == [30, 40, 50]
    assert all(torch.equal(a, p) for a, p in zip(layers, (p for layer in src.layers_ for p in layer.parameters())))
    np.testing.assert_array_equal(src.transform(x[y >= 3]), f_before)
    assert src.score(x[y >= 3], y[y >= 3] * 10) > 0.6          # chance: 1/3 (features were learned on other classes)
