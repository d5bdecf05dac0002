"""Safe checkpoints of fitted estimators: a round trip gives the same predictions, no pickle."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import neuroplastic as npl
from neuroplastic import MLPClassifier, SNNClassifier
from neuroplastic.io import CheckpointError, load_config
from neuroplastic.io.estimator import _from_json, _to_json
from neuroplastic.models import DiehlCook, HybridClassifier


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def _roundtrip(clf, tmp_path, name="clf"):
    path = tmp_path / name
    clf.save(path)
    files = sorted(p.name for p in path.iterdir())
    assert files == ["config.json", "weights.safetensors"]   # nothing pickled beside them
    return npl.load(path)


@pytest.mark.parametrize("make", [
    lambda: SNNClassifier(max_epochs=2, random_state=0, device="cpu"),
    lambda: MLPClassifier(max_epochs=2, random_state=0, device="cpu"),
    lambda: MLPClassifier(architecture="wide", hidden_layer_sizes=(16, 8), max_epochs=2, random_state=0, device="cpu"),
])
def test_gradient_estimators_round_trip(make, iris, tmp_path):
    X, y = iris
    clf = make().fit(X, y)
    clf2 = _roundtrip(clf, tmp_path)
    assert type(clf2) is type(clf)
    assert clf2.get_params() == clf.get_params()          # tuples come back as tuples
    assert isinstance(clf2.get_params()["hidden_layer_sizes"], tuple)
    assert clf2.classes_.dtype == clf.classes_.dtype and clf2.classes_.tolist() == clf.classes_.tolist()
    np.testing.assert_array_equal(clf2.mean_, clf.mean_)
    np.testing.assert_array_equal(clf2.scale_, clf.scale_)
    assert clf2.n_features_in_ == 4 and clf2.n_epochs_ == clf.n_epochs_
    assert clf2.history_ == clf.history_
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))
    np.testing.assert_allclose(clf2.predict_proba(X), clf.predict_proba(X), rtol=0, atol=0)
    clf2.partial_fit(X, y)                                  # training goes on after loading
    assert clf2.n_epochs_ == clf.n_epochs_ + 1


def test_integer_labels_keep_their_dtype(iris, tmp_path):
    X, _ = iris
    y = np.arange(len(X)) % 3 + 10
    clf = MLPClassifier(architecture="wide", max_epochs=1, random_state=0, device="cpu").fit(X, y)
    clf2 = _roundtrip(clf, tmp_path)
    assert clf2.classes_.dtype == clf.classes_.dtype and clf2.classes_.tolist() == [10, 11, 12]
    doc = load_config(tmp_path / "clf")
    assert doc["config"]["fitted"]["classes_"]["kind"] == "ndarray"   # numeric arrays go to safetensors


def test_hybrid_and_plasticity_delegates_round_trip(iris, tmp_path):
    X, y = iris
    clf = HybridClassifier(n_hidden=16, hebb_epochs=1, finetune_epochs=1, random_state=0).fit(X, y)
    clf2 = _roundtrip(clf, tmp_path, "hybrid")
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))
    np.testing.assert_array_equal(clf2.hebbian_.weight.detach(), clf.hebbian_.weight.detach())
    assert clf2._seed == clf._seed
    clf2.partial_fit(X, y)

    snn = SNNClassifier(learning="hybrid", hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X, y)
    snn2 = _roundtrip(snn, tmp_path, "snn_hybrid")
    assert type(snn2.estimator_) is HybridClassifier
    np.testing.assert_array_equal(snn2.predict(X), snn.predict(X))
    np.testing.assert_allclose(snn2.predict_proba(X), snn.predict_proba(X), rtol=0, atol=0)


def test_diehl_cook_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((40, 16))
    y = np.arange(40) % 2
    clf = DiehlCook(n_neurons=6, epochs=1, random_state=0).fit(X, y)
    clf2 = _roundtrip(clf, tmp_path)
    for name in ("weight_", "theta_", "class_rates_", "_sums", "_class_n"):
        assert torch.equal(torch.as_tensor(getattr(clf2, name)), torch.as_tensor(getattr(clf, name)))
    np.testing.assert_array_equal(clf2.labels_, clf.labels_)
    clf2._gen.set_state(clf._gen.get_state())             # Poisson input: same generator state, same spikes
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))


def test_unfitted_and_unsaveable_estimators_are_refused(iris, tmp_path):
    X, y = iris
    with pytest.raises(CheckpointError, match="not fitted: call fit"):
        MLPClassifier().save(tmp_path / "a")
    clf = MLPClassifier(architecture="wide", max_epochs=1, random_state=np.random.RandomState(0), device="cpu").fit(X, y)
    with pytest.raises(CheckpointError, match="random_state.*int seed"):
        clf.save(tmp_path / "b")
    assert not (tmp_path / "b").exists()                   # nothing half-written


def test_tampered_array_shape_is_refused(iris, tmp_path):
    X, y = iris
    clf = MLPClassifier(architecture="wide", max_epochs=1, random_state=0, device="cpu").fit(X, y)
    clf.save(tmp_path / "c")
    cfg = tmp_path / "c" / "config.json"
    doc = json.loads(cfg.read_text())
    doc["config"]["fitted"]["mean_"]["shape"] = [5]
    cfg.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError):
        npl.load(tmp_path / "c")


def test_json_encoding_is_exact_and_strict():
    value = {"a": (1, 2.5, ("x", None)), "b": [True, {"c": (3,)}], "d": [float("inf"), -float("inf")]}
    assert _from_json(json.loads(json.dumps(_to_json(value, "v"), allow_nan=False))) == value
    nan = _from_json(json.loads(json.dumps(_to_json([float("nan")], "v"), allow_nan=False)))[0]
    assert nan != nan                                   # a NaN in a training history survives the trip
    with pytest.raises(CheckpointError, match="str keys"):
        _to_json({1: 2}, "v")
    with pytest.raises(CheckpointError, match="without pickle"):
        _to_json(object(), "v")


@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_hebbian_network_round_trip(arch, tmp_path):
    from neuroplastic.datasets import load_split
    from neuroplastic.models import HebbianNetwork

    d = load_split("digits")
    kw = dict(n_hidden=(8,), kernel_size=(3,)) if arch == "conv" else {}   # dense: default size min(1000, n)
    clf = HebbianNetwork(architecture=arch, readout_epochs=1, random_state=0, **kw).fit(d.x_train[:150], d.y_train[:150])
    clf2 = _roundtrip(clf, tmp_path)
    assert clf2.n_hidden_ == clf.n_hidden_ and clf2.input_shape_ == clf.input_shape_
    for a, b in zip(clf2.layers_.state_dict().values(), clf.layers_.state_dict().values()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(clf2.predict(d.x_test), clf.predict(d.x_test))
    np.testing.assert_allclose(clf2.predict_proba(d.x_test), clf.predict_proba(d.x_test), rtol=0, atol=0)
    clf2.partial_fit(d.x_train[150:200], d.y_train[150:200])

    snn = SNNClassifier(learning="plasticity", max_epochs=1, random_state=0).fit(d.x_train[:150], d.y_train[:150])
    snn2 = _roundtrip(snn, tmp_path, "snn_plasticity")
    np.testing.assert_array_equal(snn2.predict(d.x_test), snn.predict(d.x_test))
