"""scikit-learn estimators: the estimator-check suite, label/feature handling, partial_fit."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from neuroplastic.training.architectures import ARCHITECTURES
from neuroplastic.models import MLPClassifier, SNNClassifier

# Short training so the suite stays fast; every other setting is the default.
CHECKED = [
    SNNClassifier(max_epochs=5, random_state=0, device="cpu"),
    # The 4-4 founding network at its default lr 1e-3 needs ~100 epochs on check_classifiers_train's
    # 300 blobs to pass its > 0.83 training accuracy; lr 1e-2 gets there in 20 epochs.
    MLPClassifier(architecture="founding", max_epochs=20, learning_rate=1e-2, random_state=0, device="cpu"),
    MLPClassifier(architecture="wide", max_epochs=5, random_state=0, device="cpu"),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def blobs(n: int = 90, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    y = np.repeat(np.arange(3), n // 3)
    X = centers[y] + rng.normal(size=(n, 3))
    return X * np.array([1.0, 100.0, 0.01]) + 50.0, y  # wildly different feature scales


def test_defaults_match_the_tuned_architecture() -> None:
    arch = ARCHITECTURES["snn"].defaults()
    params = SNNClassifier().get_params()
    assert list(params["hidden_layer_sizes"]) == list(arch["hidden"])
    for key in ("num_steps", "tau_mem", "tau_out", "dt", "r", "dropout", "readout"):
        assert params[key] == arch[key], key
    compile_defaults = ARCHITECTURES["snn"].compile({"readout": "max"})
    assert params["label_smoothing"] == compile_defaults["loss_options"]["label_smoothing"]
    assert SNNClassifier(max_epochs=1, label_smoothing=0.0, device="cpu").fit(*blobs()).model_.loss.label_smoothing == 0.0
    # __init__ stores settings only
    sig = inspect.signature(SNNClassifier.__init__)
    assert set(sig.parameters) - {"self"} == set(params)


def test_string_labels_standardisation_and_proba() -> None:
    X, y = blobs()
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier(architecture="wide", max_epochs=30, random_state=0, device="cpu").fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"] and clf.n_features_in_ == 3
    np.testing.assert_allclose(clf.mean_, X.mean(0))
    np.testing.assert_allclose(clf.scale_, X.std(0))
    assert clf.score(X, labels) > 0.95
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[p.argmax(1)], clf.predict(X))
    assert len(clf.history_["loss"]) == clf.n_epochs_ == 30


def test_constant_feature_is_only_centred() -> None:
    X, y = blobs()
    X[:, 1] = 7.0
    clf = MLPClassifier(architecture="wide", max_epochs=1, random_state=0, device="cpu").fit(X, y)
    assert clf.scale_[1] == 1.0 and clf.mean_[1] == 7.0


def test_partial_fit_learns_incrementally_and_keeps_the_network() -> None:
    X, y = blobs(150)
    order = np.random.default_rng(1).permutation(150)  # the first batch fixes the scaling: make it representative
    X, y = X[order], y[order]
    clf = SNNClassifier(random_state=0, device="cpu", hidden_layer_sizes=(32,), num_steps=8, learning_rate=1e-2)
    clf.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    net = clf.model_
    before = clf.score(X, y)
    for _ in range(8):
        clf.partial_fit(X, y)
    assert clf.model_ is net and clf.n_epochs_ == 9
    assert clf.score(X, y) > max(before, 0.9)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="3 features"):
        clf.partial_fit(X[:, :2], y)


def test_same_random_state_same_predictions() -> None:
    X, y = blobs()
    a = SNNClassifier(max_epochs=2, random_state=3, device="cpu").fit(X, y).predict_proba(X)
    b = SNNClassifier(max_epochs=2, random_state=3, device="cpu").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode, delegate", [("plasticity", "HebbianNetwork"), ("hybrid", "HybridClassifier")])
def test_plasticity_learning_delegates(mode: str, delegate: str) -> None:
    X, y = blobs()
    clf = SNNClassifier(learning=mode, hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu").fit(X, y)
    assert type(clf.estimator_).__name__ == delegate
    assert list(clf.classes_) == list(np.unique(y)) and clf.predict(X).shape == y.shape
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("est,match", [
    (SNNClassifier(learning="hebb"), "unknown learning"),
    (SNNClassifier(max_epochs=0), "max_epochs"),
    (MLPClassifier(architecture="deep"), "unknown architecture"),
])
def test_bad_settings_fail_at_fit(est, match: str) -> None:
    X, y = blobs()
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_smoke_digits_few_epochs() -> None:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    clf = SNNClassifier(max_epochs=5, random_state=0, device="cpu").fit(X[:600], y[:600])
    assert clf.score(X[600:900], y[600:900]) > 0.8  # the accuracy benchmark is benchmarks/bench_classifiers.py
