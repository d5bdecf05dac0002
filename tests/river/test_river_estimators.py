"""neuroplastic.river: River's own estimator checks, pipelines, progressive validation, feature policy."""
from __future__ import annotations

import functools
import math
import sys

import numpy as np
import pytest

pytest.importorskip("river")

from river import base, compose, evaluate, metrics, preprocessing  # noqa: E402
from river.checks import yield_checks  # noqa: E402
from river.time_series.base import Forecaster  # noqa: E402

from neuroplastic.river import SpikingAnomalyDetector, SpikingClassifier, SpikingForecaster  # noqa: E402

ESTIMATORS = (SpikingAnomalyDetector, SpikingForecaster, SpikingClassifier)


def _anomaly_stream(n: int, seed: int = 0, every: int | None = None) -> list[tuple[dict, int]]:
    """Three smooth noisy channels with rare spikes (label 1) -- stands in for CreditCard.

    Spikes at random rows (about one in 100) of the last two thirds, or every ``every`` rows.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    X = np.stack([np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 40), 0.5 * np.sin(2 * np.pi * t / 60)], 1)
    X += 0.05 * rng.standard_normal(X.shape)
    y = np.zeros(n, dtype=int)
    if every is None:
        spikes = rng.choice(np.arange(n // 3, n), size=max(3, n // 100), replace=False)
    else:
        spikes = np.arange(n // 3, n, every)
    X[spikes, rng.integers(0, 3, spikes.size)] += 4.0
    y[spikes] = 1
    return [({f"v{j}": float(X[i, j]) for j in range(3)}, int(y[i])) for i in range(n)]


def _checks():
    """Every check River yields for each estimator and each of its unit-test parameter sets.

    River runs the anomaly detector's dataset checks on CreditCard, a download: those checks run
    here on a synthetic labelled stream of the same kind (same sizes: 1000, or 10000 for the
    memory-growth check, cut to 3000 to stay fast) instead of being skipped.
    """
    out = []
    for cls in ESTIMATORS:
        for p_i, params in enumerate(cls._unit_test_params()):
            model = cls(**params)
            for check in yield_checks(model):
                name = check.__name__
                if isinstance(check, functools.partial) and "dataset" in check.keywords and isinstance(model, base.AnomalyDetector):
                    n = 3000 if name == "check_bounded_memory_growth" else 1000
                    check = functools.update_wrapper(functools.partial(check.func, dataset=_anomaly_stream(n)), check.func)
                    name += "[synthetic]"
                out.append(pytest.param(cls, params, check, id=f"{cls.__name__}-{p_i}-{name}-{len(out)}"))
    return out


@pytest.mark.parametrize("cls, params, check", _checks())
def test_river_check_suite(cls, params, check):
    model = cls(**params)
    if check.__name__ in model._unit_test_skips():
        pytest.skip(f"{check.__name__} is in {cls.__name__}._unit_test_skips()")
    check(model.clone())


def test_not_imported_by_neuroplastic():
    import subprocess

    code = "import sys, neuroplastic; print('neuroplastic.river' in sys.modules, 'river' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def _blobs(n: int, seed: int = 0, n_classes: int = 3) -> list[tuple[dict, str]]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 10.0], [0.0, 3.0, -10.0]])[:n_classes]
    labels = rng.integers(0, n_classes, n)
    X = centres[labels] * np.array([1.0, 1.0, 1.0]) + rng.standard_normal((n, 3)) * np.array([1.0, 1.0, 4.0])
    X[:, 2] += 100.0  # an offset the running standardisation must remove
    return [({"a": float(r[0]), "b": float(r[1]), "c": float(r[2])}, "abc"[k]) for r, k in zip(X, labels)]


def test_classifier_pipeline_progressive_accuracy():
    stream = _blobs(1500)
    acc = evaluate.progressive_val_score(stream, compose.Pipeline(preprocessing.StandardScaler(), SpikingClassifier()),
                                         metrics.Accuracy())
    # three balanced classes (chance 1/3), Bayes accuracy ~0.95 on these blobs
    assert acc.get() > 0.85
    bare = evaluate.progressive_val_score(stream, SpikingClassifier(), metrics.Accuracy())
    assert bare.get() > 0.85


def test_classifier_new_class_online():
    stream = _blobs(600, n_classes=2) + _blobs(600, seed=1)
    clf = SpikingClassifier()
    for x, y in stream[:600]:
        clf.learn_one(x, y)
    assert sorted(clf.classes) == ["a", "b"]
    for x, y in stream[600:]:
        clf.learn_one(x, y)
    assert sorted(clf.classes) == ["a", "b", "c"]
    test = _blobs(300, seed=2)
    hits = sum(clf.predict_one(x) == y for x, y in test if y == "c")
    assert hits / sum(y == "c" for _, y in test) > 0.8


def test_classifier_missing_feature_is_its_running_mean():
    stream = _blobs(200)
    clf = SpikingClassifier()
    for x, y in stream:
        clf.learn_one(x, y)
    mean_b = float(np.mean([x["b"] for x, _ in stream]))  # independent of the model's Welford sums
    x = {"a": 1.5, "c": 100.0}
    p_missing = clf.predict_proba_one(x)
    p_mean = clf.predict_proba_one({**x, "b": mean_b})
    assert p_missing.keys() == p_mean.keys()
    for k in p_missing:
        assert p_missing[k] == pytest.approx(p_mean[k], abs=1e-9)
    # a feature never learned is ignored, and an emerging one is learned from then on
    assert clf.predict_proba_one({**x, "new": 5.0}) == pytest.approx(p_missing)
    assert clf.learn_one({**x, "new": 5.0}, "a") is None


def test_anomaly_detector_pipeline_ranks_spikes():
    from sklearn.metrics import roc_auc_score

    # isolated spikes, further apart than the detector's refractory periods (50 and 200 rows)
    stream = _anomaly_stream(3000, seed=3, every=250)
    model = compose.Pipeline(preprocessing.MinMaxScaler(), SpikingAnomalyDetector(steps=(1,), rows_per_step=0, warmup=32))
    scores, labels = [], []
    for x, y in stream:
        scores.append(model.score_one(x))
        model.learn_one(x)
        labels.append(y)
    auc = roc_auc_score(labels[1000:], scores[1000:])
    assert auc > 0.9, auc


class _Persistence(Forecaster):
    """The reference: every step forecasts the last value seen."""

    def __init__(self):
        self.last = 0.0

    def learn_one(self, y, x=None):
        self.last = float(y)

    def forecast(self, horizon, xs=None):
        return [self.last] * horizon


def test_forecaster_progressive_beats_persistence():
    ys = [math.sin(2 * math.pi * i / 20) for i in range(2000)]
    stream = [({}, y) for y in ys]
    ours = evaluate.evaluate(stream, SpikingForecaster(time_neurons=0), metrics.MAE(), horizon=3)
    ref = evaluate.evaluate(stream, _Persistence(), metrics.MAE(), horizon=3)
    for h, (m, r) in enumerate(zip(ours.metrics, ref.metrics), start=1):
        # (River's evaluate asks for the forecast before learning the current y and scores it on
        # the h values after it, so even a perfect one-step model pays one step of lag here)
        assert m.get() < 0.6 * r.get(), (h, m.get(), r.get())


def test_forecast_does_not_learn_and_matches_the_sine():
    f = SpikingForecaster(time_neurons=0)
    for i in range(2000):
        f.learn_one(math.sin(2 * math.pi * i / 20))
    first = f.forecast(horizon=5)
    assert f.forecast(horizon=5) == first  # the model state did not move
    truth = [math.sin(2 * math.pi * i / 20) for i in range(2000, 2005)]
    assert np.abs(np.array(first) - truth).max() < 0.1
    assert f.forecast(horizon=1) == first[:1]
    with pytest.raises(ValueError, match="horizon"):
        f.forecast(horizon=0)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_numeric_feature_refused_by_name(cls):
    model = cls()
    x = {"ok": 1.0, "colour": "red"}
    with pytest.raises(TypeError, match="colour"):
        if isinstance(model, SpikingForecaster):
            model.learn_one(1.0, x)
        elif isinstance(model, SpikingAnomalyDetector):
            model.learn_one(x)
        else:
            model.learn_one(x, True)


def _fit(model, n=300):
    stream = _anomaly_stream(n)
    for x, y in stream:
        if isinstance(model, SpikingForecaster):
            assert model.learn_one(x["v0"], x) is None
        elif isinstance(model, SpikingAnomalyDetector):
            assert model.learn_one(x) is None
        else:
            assert model.learn_one(x, bool(y)) is None
    return model


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_is_unfitted_with_same_params(cls):
    params = next(iter(cls._unit_test_params()))
    model = _fit(cls(**params))
    twin = model.clone()
    assert twin._get_params() == model._get_params() == {**cls()._get_params(), **params}
    fresh = cls(**params)
    x = {"v0": 4.0, "v1": 0.0, "v2": 0.0}
    if isinstance(model, SpikingForecaster):
        assert twin.forecast(3) == fresh.forecast(3) == [0.0, 0.0, 0.0]
        assert model.forecast(3) != [0.0, 0.0, 0.0]
    elif isinstance(model, SpikingAnomalyDetector):
        assert twin.n_features == 0 and twin.score_one(x) == 0.0
        assert model.n_features == 3
    else:
        assert twin.predict_proba_one(x) == {} and twin.predict_one(x) is None
        assert set(model.predict_proba_one(x)) == {False, True}


def test_classifier_two_steps_by_hand():
    """Two learn_one calls and a prediction, recomputed from the formulas in the module docstring."""
    n, z_max, lr = 8, 2.5, 0.5
    clf = SpikingClassifier(n_neurons=n, z_max=z_max, learning_rate=lr)
    clf.learn_one({"a": 1.0}, "x")  # one class: softmax is 1, the gradient is zero
    clf.learn_one({"a": 3.0}, "y")  # one point seen before: z = 0; two classes at p = 1/2

    centres = np.linspace(-z_max, z_max, n)
    sigma = centres[1] - centres[0]

    def phi(z):
        return np.concatenate([np.exp(-((z - centres) ** 2) / (2 * sigma**2)), [z / z_max, 1.0]])

    p0 = phi(0.0)
    W = -(lr / (1 + p0 @ p0)) * np.outer([0.5, -0.5], p0)
    z = (3.0 - 2.0) / math.sqrt(2.0)  # running mean 2, sample std sqrt(2)
    logits = W @ phi(z)
    expected = np.exp(logits) / np.exp(logits).sum()
    got = clf.predict_proba_one({"a": 3.0})
    assert list(got) == ["x", "y"]
    assert [got["x"], got["y"]] == pytest.approx(expected.tolist(), abs=1e-12)
    assert got["y"] > got["x"]


@pytest.mark.parametrize("module", ["neuroplastic.river.anomaly", "neuroplastic.river.forecast",
                                    "neuroplastic.river.classifier"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_missing_river_names_the_extra():
    import subprocess

    code = ("import sys; sys.modules['river'] = None\n"
            "try:\n    import neuroplastic.river\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install neuroplastic[river]" in out


def test_anomaly_score_is_max_of_independent_channels():
    """The wrapper equals one streaming detector per feature; a missing feature's channel waits."""
    from neuroplastic.streaming import SpikingAnomalyDetector as Stream

    params = {"steps": (1,), "rows_per_step": 0, "warmup": 16}
    det, ref = SpikingAnomalyDetector(**params), {k: Stream(**params) for k in ("v0", "v1", "v2")}
    for i, (x, _) in enumerate(_anomaly_stream(900, seed=4)):
        if i % 3 == 0:
            x = {k: v for k, v in x.items() if k != "v2"}  # v2 missing on every third row
        want = max([ref[k].score_one(v) for k, v in x.items()])
        assert det.score_one(x) == want
        det.learn_one(x)
        for k, v in x.items():
            ref[k].learn_one(v)
    assert det.n_features == 3
