"""Fuzz the public constructors with bad settings: each either works or raises a ValueError or
TypeError (the library's own errors derive from them), never AttributeError/KeyError/IndexError
and the like from deep inside, and an error names the setting it is about."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroplastic.datasets import TableEncoder
from neuroplastic.streaming import SpikingAnomalyDetector, SpikingForecaster
from neuroplastic.streaming.anomaly import SpikingAnomalyConfig
from neuroplastic.streaming.forecast import SpikingForecasterConfig

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
BAD = st.sampled_from([-1, 0, 1, 3, 0.5, -0.005, math.nan, math.inf, "x", None, True, (), (0,), (2, 1), [1, -1]])
X = np.sin(np.arange(120) / 5.0)


def _fields(cls):
    return [f for f in cls.__dataclass_fields__]


#: What a bad setting may raise: a value or type error (the library's own errors derive from
#: ValueError), OverflowError being one (int(inf)); never AttributeError, KeyError, IndexError,
#: RuntimeError ... from deep inside.
ALLOWED = (ValueError, TypeError, OverflowError)
GRID = [-1, 0, 1, 3, 0.5, -0.005, math.nan, math.inf, "x", None, True, (), (0,), (2, 1), [1, -1]]


def _expected(exc: BaseException, name: str) -> None:
    assert isinstance(exc, ALLOWED), f"{name}: {type(exc).__name__}: {exc}"


def _grid(cls, cfg_cls, use):
    """Every setting x every bad value: (name, value, exception or None)."""
    out = []
    for name in _fields(cfg_cls):
        for value in GRID:
            try:
                model = cls(**{name: value})
            except Exception as e:  # noqa: BLE001 - the test inspects the type
                out.append((name, value, e))
                continue
            try:   # a bad value accepted at construction may only fail when used, the same way
                use(model)
            except Exception as e:  # noqa: BLE001
                out.append((name, value, e))
                continue
            out.append((name, value, None))
    return out


def _use_detector(det):
    scores = np.array([det.process_one(v) for v in X[:40]])
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()


def _use_forecaster(fc):
    assert np.isfinite([fc.forecast_one(v) for v in X[:40]]).all()


@pytest.mark.parametrize("cls, cfg_cls, use", [(SpikingAnomalyDetector, SpikingAnomalyConfig, _use_detector),
                                               (SpikingForecaster, SpikingForecasterConfig, _use_forecaster)])
def test_stream_model_settings_fail_only_with_value_or_type_errors(cls, cfg_cls, use):
    for name, value, e in _grid(cls, cfg_cls, use):
        if e is not None:
            _expected(e, f"{name}={value!r}")


@pytest.mark.xfail(strict=True, reason="streaming/anomaly.py and forecast.py validate settings without naming "
                                       "them (e.g. window='x': \"'<' not supported ...\"); for their owner")
@pytest.mark.parametrize("cls, cfg_cls, use", [(SpikingAnomalyDetector, SpikingAnomalyConfig, _use_detector),
                                               (SpikingForecaster, SpikingForecasterConfig, _use_forecaster)])
def test_stream_model_setting_errors_name_the_setting(cls, cfg_cls, use):
    unnamed = [(n, v, str(e)) for n, v, e in _grid(cls, cfg_cls, use) if e is not None and n not in str(e)]
    assert not unnamed, unnamed[:5]


CLASSIFIER_PARAMS = ["hidden_layer_sizes", "num_steps", "tau_mem", "dt", "r", "dropout", "readout",
                     "label_smoothing", "learning", "max_epochs", "batch_size", "learning_rate", "random_state"]


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CLASSIFIER_PARAMS), BAD)
def test_snn_classifier_settings(name, value):
    from neuroplastic import SNNClassifier

    x = np.random.default_rng(0).normal(size=(24, 3)).astype(np.float32)
    y = np.arange(24) % 2
    kw = {"max_epochs": 1, "hidden_layer_sizes": (4,), "num_steps": 2, name: value}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = SNNClassifier(**kw).fit(x, y)
            pred = set(np.asarray(clf.predict(x)).tolist())
    except Exception as e:  # noqa: BLE001
        if name == "hidden_layer_sizes" and isinstance(e, RuntimeError):
            pytest.xfail("models/snn.py: hidden_layer_sizes=-1 reaches torch (RuntimeError); for its owner")
        _expected(e, name)
        return
    assert pred <= {0, 1}


def test_snn_classifier_names_tau_out():
    from neuroplastic import SNNClassifier

    with pytest.raises(ValueError, match="tau_out"):
        SNNClassifier(tau_out=-0.005, max_epochs=1).fit(np.zeros((8, 2), np.float32), np.arange(8) % 2)


@FUZZ
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.none(),
                          st.integers(-2**70, 2**70)), min_size=4, max_size=12),
       st.lists(st.sampled_from(["a", "b", 1, 2, "01", "1", 2**63, -3]), min_size=4, max_size=12))
def test_table_encoder_on_any_cells(cells, labels):
    n = min(len(cells), len(labels))
    table = {"f": cells[:n], "y": labels[:n]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            enc = TableEncoder("y").fit(table)
            x, y = enc.transform(table), enc.transform_target(table)
    except Exception as e:  # noqa: BLE001
        _expected(e, "table")
        return
    assert x.shape[0] == n and np.isfinite(x).all()
    back = enc.inverse_transform_target(y).tolist()
    assert [str(v) for v in back] == [str(v).strip() for v in labels[:n]]   # labels round-trip exactly
    again = TableEncoder.from_config(enc.to_config())
    np.testing.assert_array_equal(again.transform(table), x)
