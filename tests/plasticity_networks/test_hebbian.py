"""Hebbian feature network: learned features beat a random projection and k-means of the same size."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplastic.models import HebbianNetwork
from neuroplastic.plasticity.networks import kmeans_label_accuracy
from neuroplastic.plasticity.networks._hebb_layers import HebbianConv2d, HebbianDense, triangle


def test_triangle_by_hand() -> None:
    u = torch.tensor([[[[1.0]], [[2.0]], [[6.0]]]])                # [B=1, C=3, 1, 1], channel mean 3
    assert triangle(u, 2.0).flatten().tolist() == [0.0, 0.0, 9.0]


def test_conv_features_beat_random_projection_and_kmeans(digits) -> None:
    kw = dict(n_hidden=(32,), readout_epochs=20, random_state=0)
    hebb = HebbianNetwork(**kw).fit(digits.x_train, digits.y_train)
    rand = HebbianNetwork(feature_learning="random", **kw).fit(digits.x_train, digits.y_train)
    acc_h = hebb.score(digits.x_test, digits.y_test)
    acc_r = rand.score(digits.x_test, digits.y_test)
    km = kmeans_label_accuracy(digits.x_train, digits.y_train, digits.x_test, digits.y_test, 32, seed=0)
    assert hebb.architecture_ == "conv" and hebb.n_features_out_ == rand.n_features_out_
    assert acc_h > acc_r                                           # same size, same readout, learned filters win
    assert acc_h > km["test_accuracy"] + 0.03                      # k-means, 32 units + label assignment


def test_dense_winner_take_all_units_learn_class_prototypes(digits) -> None:
    kw = dict(architecture="dense", n_hidden=(64,), hebb_epochs=3, readout_epochs=20, random_state=0)
    x, y = digits.x_train[:600], digits.y_train[:600]
    hebb = HebbianNetwork(**kw).fit(x, y)
    rand = HebbianNetwork(feature_learning="random", **kw).fit(x, y)
    la_h = hebb.label_assignment_score(x, y, digits.x_test, digits.y_test)
    la_r = rand.label_assignment_score(x, y, digits.x_test, digits.y_test)
    assert la_h > 0.85 and la_h > la_r + 0.3                       # random units' winners carry little label
    assert hebb.score(digits.x_test, digits.y_test) > rand.score(digits.x_test, digits.y_test)
    w = hebb.layers_[0].weight
    assert torch.allclose(w.norm(dim=1), torch.ones(64), atol=0.15)  # SoftHebb's fixed point: unit norm


def test_sklearn_interface(digits) -> None:
    x, y = digits.x_train[:300], digits.y_train[:300]
    clf = HebbianNetwork(n_hidden=(8,), readout_epochs=2, random_state=0).fit(x, y)
    proba = clf.predict_proba(digits.x_test[:20])
    assert proba.shape == (20, 10) and np.allclose(proba.sum(1), 1.0)
    assert clf.predict(digits.x_test[:20]).shape == (20,)
    assert clf.transform(x[:5]).shape == (5, clf.n_features_out_) == (5, 8 * 4 * 4)
    before = clf.layers_[0].weight.clone()
    clf.partial_fit(digits.x_train[300:400], digits.y_train[300:400])
    assert not torch.equal(before, clf.layers_[0].weight)        # plasticity kept learning
    fresh = HebbianNetwork(n_hidden=(8,), readout_epochs=1, random_state=0)
    fresh.partial_fit(x[:50], y[:50], classes=np.arange(10))
    assert fresh.predict(x[:3]).shape == (3,)


def test_auto_architecture_and_input_shape() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 10)).astype(np.float32), np.arange(40) % 2
    dense = HebbianNetwork(n_hidden=(6,), readout_epochs=1, random_state=0).fit(X, y)
    assert dense.architecture_ == "dense" and isinstance(dense.layers_[0], HebbianDense)
    conv = HebbianNetwork(n_hidden=(4,), input_shape=(2, 1, 5), kernel_size=1, readout_epochs=1,
                          random_state=0).fit(X, y)
    assert conv.architecture_ == "conv" and isinstance(conv.layers_[0], HebbianConv2d)
    assert conv.input_shape_ == (2, 1, 5)


def test_krotov_dense_rule_runs() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 16)).astype(np.float32), np.arange(60) % 3
    clf = HebbianNetwork(architecture="dense", rule="krotov", n_hidden=(10,), readout_epochs=2, random_state=0).fit(X, y)
    assert clf.layers_[0].activation == "relu_power" and np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("kw, match", [
    (dict(architecture="graph"), "architecture"),
    (dict(rule="oja"), "rule"),
    (dict(feature_learning="pca"), "feature_learning"),
    (dict(n_hidden=(0,)), "n_hidden"),
    (dict(hebb_lr=(0.1, 0.2, 0.3)), "one per layer"),
    (dict(input_shape=(3, 3)), "input_shape"),
    (dict(architecture="conv", input_shape=None), "not a square image"),
    (dict(kernel_size=4, input_shape=(4, 5)), "odd"),
    (dict(readout_epochs=0), "readout_epochs"),
    (dict(dropout=1.0), "dropout"),
    (dict(hebb_epochs=-1), "hebb_epochs"),
])
def test_bad_settings_name_the_fix(kw: dict, match: str) -> None:
    X = np.random.default_rng(0).random((12, 20)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        HebbianNetwork(**kw).fit(X, np.arange(12) % 2)


def test_single_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        HebbianNetwork().fit(np.zeros((4, 64)), [1, 1, 1, 1])
