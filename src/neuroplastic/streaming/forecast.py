r"""Online one-step-ahead forecasting with a plastic readout of population-coded history.

:class:`SpikingForecaster` encodes the recent history of a scalar stream with the causal
encoders of :mod:`neuroplastic.streaming.encoders` (values normalised with past statistics only,
Gaussian receptive fields per lag, the lags themselves, and receptive fields tiling the phase of
the day and of the week) and learns a linear readout of the *change* to the next point with the
normalised least-mean-squares (delta) rule:

.. math::

    \hat z_{t+1} = z_t + w^\top \phi_t, \qquad
    w \leftarrow w + \eta \, \frac{(z_{t+1} - \hat z_{t+1})\, \phi_t}{\epsilon + \lVert\phi_t\rVert^2},

with ``z`` the normalised value. Starting from ``w = 0`` it *is* persistence and learns to do
better (smoothing noise, following daily shapes) from its own errors. Baselines
:func:`persistence_forecast` and :func:`seasonal_forecast` are given for comparison.

Example:
    >>> import numpy as np
    >>> t = np.arange(2000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.3 * np.random.default_rng(0).standard_normal(2000)
    >>> f = SpikingForecaster(time_neurons=0)
    >>> pred = f.forecast_many(x)                   # pred[i] forecasts x[i + 1]
    >>> err = np.abs(pred[1000:-1] - x[1001:]).mean()
    >>> bool(err < np.abs(x[1000:-1] - x[1001:]).mean())   # beats persistence
    True
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.io import register_serializable
from neuroplastic.encoding.stream import population_code
from neuroplastic.streaming import _forecast_state as _fs
from neuroplastic.streaming._forecast_state import ForecasterState, _ForecastState
from neuroplastic.streaming.online import OnlineModel

__all__ = ["ForecasterState", "SpikingForecasterConfig", "SpikingForecaster", "forecaster_step",
           "persistence_forecast", "seasonal_forecast"]

_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class SpikingForecasterConfig:
    """Settings of :class:`SpikingForecaster`.

    Attributes:
        lags: past values seen by the readout.
        n_neurons: receptive fields per lag, centres on ``[-z_max, z_max]``.
        z_max: range of the receptive fields in normalised units.
        time_neurons: receptive fields tiling the day (and ``time_neurons // 4`` the week) when
            timestamps are given; 0 disables.
        learning_rate: ``eta`` of the normalised LMS rule.
        half_life: forgetting of the running normaliser (points), ``None`` for none.
        error_clip: the error is clipped to ``±error_clip`` (normalised units) before the
            update, which moves the readout toward the conditional median (MAE's optimum) and
            keeps single wild points from wrecking it.
        robust: normalise by the running median and interquartile range of the last ``window``
            points instead of the running mean and standard deviation.
        window: history of the robust normaliser.
        gate_half_life: the forecast reported is the readout's or persistence's, whichever
            has the lower recent absolute error (exponential average with this half-life, in
            points); ``None`` always reports the readout.
    """

    lags: int = 6
    n_neurons: int = 10
    z_max: float = 3.0
    time_neurons: int = 24
    learning_rate: float = 0.05
    half_life: float | None = 2000.0
    error_clip: float = 1.0
    robust: bool = True
    window: int = 1000
    gate_half_life: float | None = 200.0

    def __post_init__(self) -> None:
        if self.lags < 1:
            raise ValueError(f"lags must be >= 1, got {self.lags}")
        if self.n_neurons < 2:
            raise ValueError(f"n_neurons must be >= 2, got {self.n_neurons}")
        check_positive("z_max", self.z_max)
        if self.time_neurons < 0 or self.time_neurons == 1:
            raise ValueError(f"time_neurons must be 0 or >= 2, got {self.time_neurons}")
        check_positive("learning_rate", self.learning_rate)
        check_positive("error_clip", self.error_clip)
        if self.gate_half_life is not None:
            check_positive("gate_half_life", self.gate_half_life)
        if self.window < 4:
            raise ValueError(f"window must be >= 4, got {self.window}")
        if self.half_life is not None:
            check_positive("half_life", self.half_life)


def _circular_code(phase: float, n: int) -> np.ndarray:
    """``n`` von-Mises-like receptive fields on the circle (phase in [0, 1))."""
    centres = np.arange(n) / n
    d = np.abs(phase - centres)
    d = np.minimum(d, 1.0 - d) * n  # distance in units of the spacing
    return np.exp(-0.5 * d * d)


def _centre_scale(st: _ForecastState) -> tuple[float, float]:
    if st.quant is not None and len(st.quant) >= 4:
        med = st.quant.median
        iqr = st.quant.quantile(0.75) - st.quant.quantile(0.25)
        scale = iqr / 1.349 if iqr > 0 else st.stats.std
        return med, max(scale, 1e-9 * (1.0 + abs(med)))
    return st.stats.mean, max(st.stats.std, 1e-9 * (1.0 + abs(st.stats.mean)))


def _features(st: _ForecastState, stamp: float, cfg: SpikingForecasterConfig) -> np.ndarray:
    mean, std = _centre_scale(st)
    hist = st.history[-cfg.lags :]
    z = np.array([(h - mean) / std for h in reversed(hist)])
    z = np.concatenate([z, np.full(cfg.lags - z.size, z[-1] if z.size else 0.0)])
    zc = np.clip(z, -4 * cfg.z_max, 4 * cfg.z_max)
    parts = [population_code(zc, cfg.n_neurons, -cfg.z_max, cfg.z_max), zc / cfg.z_max]
    if cfg.time_neurons:
        n_week = max(2, cfg.time_neurons // 4)
        if math.isfinite(stamp):
            day = (stamp % _DAY_NS) / _DAY_NS
            week = ((stamp + 3 * _DAY_NS) % (7 * _DAY_NS)) / (7 * _DAY_NS)
            parts += [_circular_code(day, cfg.time_neurons), _circular_code(week, n_week)]
        else:
            parts.append(np.zeros(cfg.time_neurons + n_week))
    parts.append(np.ones(1))
    return np.concatenate(parts)


def _learn(st: _ForecastState, target: float, model_pred: float, cfg: SpikingForecasterConfig) -> None:
    std = _centre_scale(st)[1]
    err = (target - model_pred) / std
    clip = cfg.error_clip
    err = max(-clip, min(clip, err))  # a single wild point must not wreck the readout
    phi = st.phi
    st.w += cfg.learning_rate * err * phi / (1e-3 + float(phi @ phi))


def _readout(st: _ForecastState, x: float) -> tuple[float, float]:
    """``(readout forecast, reported forecast)`` of the point after ``x``."""
    model = x + _centre_scale(st)[1] * float(st.w @ st.phi)
    gate = st.gate_model
    use_model = gate is None or gate.n == 0 or gate.mean <= st.gate_persist.mean
    return model, (model if use_model else x)


def _step_inplace(st: _ForecastState, x: float, stamp: float, y: float | None,
                  cfg: SpikingForecasterConfig) -> tuple[float, float]:
    """One observation, in place: ``(surprise score of x, reported forecast of the next value)``."""
    score = 0.0
    if st.honest_pred is not None:
        # judge (and learn from) the forecasts made before anything about x was known
        e = abs(x - st.honest_pred)
        scale = 3.0 * st.abs_err.mean if st.abs_err.n else 0.0
        score = e / (e + scale) if e + scale > 0 else 0.0
        if not st.supervised:
            _learn(st, x, st.honest_model, cfg)
        st.abs_err.update(e)
        if st.gate_model is not None:
            st.gate_model.update(abs(x - st.honest_model))
            st.gate_persist.update(abs(x - st.last))
    st.stats.update(x)
    if st.quant is not None:
        st.quant.update(x)
    st.history.append(x)
    del st.history[: -cfg.lags]
    st.phi = _features(st, stamp, cfg)
    st.last = x
    st.honest_model, st.honest_pred = _readout(st, x)
    st.pred = st.honest_pred
    st.supervised = y is not None
    if y is not None:
        _learn(st, float(y), st.honest_model, cfg)
        st.pred = _readout(st, x)[1]
    return score, st.pred


def _stamp_ns(timestamp: Any) -> float:
    return math.nan if timestamp is None else float(np.datetime64(timestamp, "ns").astype(np.int64))


def forecaster_step(
    x: float, state: ForecasterState | None, params: SpikingForecasterConfig | None = None, *,
    timestamp: Any = None, y: float | None = None,
) -> tuple[tuple[float, float], ForecasterState]:
    """One observation through the forecaster: a pure step; ``state`` is not changed.

    Args:
        x: the next observed value.
        state: the state after the previous observation, or ``None`` to start a new stream.
        params: the settings (default :class:`SpikingForecasterConfig`).
        timestamp: the observation's time (for the day/week fields), or ``None``.
        y: a known next value to learn from at once (supervised), or ``None``.

    Returns:
        ``((score, forecast), state)``: the surprise of ``x`` under the last forecast, the
        forecast of the value after ``x``, and the state that has learned ``x``.

    Example:
        >>> state = None
        >>> for v in [1.0, 2.0, 3.0]:
        ...     (score, nxt), state = forecaster_step(v, state)
        >>> state.history.tolist(), bool(nxt > 2.0)
        ([1.0, 2.0, 3.0], True)
    """
    cfg = params or SpikingForecasterConfig()
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"x is {x!r}: impute it before forecasting")
    st = _fs.thaw(state, cfg) if state is not None else _ForecastState(cfg)
    out = _step_inplace(st, v, _stamp_ns(timestamp), y, cfg)
    return out, _fs.freeze(st)


@register_serializable("streaming.SpikingForecaster")
class SpikingForecaster(OnlineModel):
    """Online one-step-ahead forecaster (see the module docstring), River-style.

    ``learn_one(x)`` folds in the next observation (``x`` a number, or a dict with one numeric
    feature and optionally a ``"timestamp"``); the forecaster learns from the error its last
    forecast made on it. ``learn_one(x, y)`` instead learns at once that ``y`` follows ``x``.
    ``predict_one(x)`` forecasts the value that follows ``x`` without learning, and ``score_one(x)``
    is the surprise of ``x`` under the last forecast, ``|x - forecast| / (|x - forecast| + 3 MAE)``.

    Args:
        config: a :class:`SpikingForecasterConfig`; keyword arguments override its fields.
    """

    def __init__(self, config: SpikingForecasterConfig | None = None, **overrides: Any) -> None:
        base = config or SpikingForecasterConfig()
        self.config = SpikingForecasterConfig(**{**asdict(base), **overrides}) if overrides else base
        self._unloaded: dict[str, Any] | None = None  # a saved state waiting for load_state_dict
        self._from_v1 = False
        super().__init__()

    def _fresh_state(self, n_features: int | None) -> _ForecastState:
        return _ForecastState(self.config)

    @property
    def state(self) -> ForecasterState:
        """The learned state as an immutable :class:`ForecasterState` (a snapshot)."""
        return _fs.freeze(self._state)

    @state.setter
    def state(self, value: ForecasterState) -> None:
        if not isinstance(value, ForecasterState):
            raise TypeError(f"state must be a ForecasterState, got {type(value).__name__}")
        self._state = _fs.thaw(value, self.config)
        self._pending = None

    def _step(self, v: np.ndarray, y: float | None, learn: bool) -> tuple[float, float]:
        self._check_loaded()
        self._from_v1 = False
        return _step_inplace(self._state, float(v[0]), float(v[1]), y, self.config)

    def _check_loaded(self) -> None:
        if self._unloaded is not None:
            raise RuntimeError("this forecaster was built from a checkpoint config whose arrays were not loaded: "
                               "use neuroplastic.load(path), or call load_state_dict with the checkpoint's tensors")

    def _peek(self, x: Any) -> tuple[float, float]:
        self._check_loaded()
        v = self._vector(x)
        st = self._state.copy()
        out = _step_inplace(st, float(v[0]), float(v[1]), None, self.config)
        self._pending = (v, st, out)
        return out

    def _vector(self, x: Any) -> np.ndarray:
        ts = None
        if isinstance(x, Mapping):
            x = dict(x)
            ts = x.pop("timestamp", None)
        v = super()._vector(x)
        if v.size != 1:
            raise ValueError(f"the forecaster takes one numeric feature, got {v.size}: pass one value")
        stamp = math.nan
        if ts is not None:
            stamp = float(np.datetime64(ts, "ns").astype(np.int64))
        return np.array([v[0], stamp])

    def forecast_one(self, value: float, timestamp: Any = None) -> float:
        """Learn the next observation ``value`` (with its optional ``timestamp``) and return the
        forecast of the one after it: one prequential step of :meth:`forecast_many`."""
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"value is {value!r}: impute it before forecasting")
        self._check_loaded()
        self._pending, self._from_v1 = None, False
        return float(_step_inplace(self._state, x, _stamp_ns(timestamp), None, self.config)[1])

    def forecast_many(self, values: Any, timestamps: Any = None) -> np.ndarray:
        """Learn a whole series in order; ``out[i]`` is the forecast of ``values[i + 1]``.

        Args:
            values: 1-D array of the series.
            timestamps: optional ``datetime64`` array of the same length.
        """
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim != 1:
            raise ValueError(f"values must be 1-D, got shape {vals.shape}")
        ts = None if timestamps is None else np.asarray(timestamps).astype("datetime64[ns]")
        if ts is not None and ts.shape != vals.shape:
            raise ValueError(f"{ts.shape[0]} timestamps for {vals.shape[0]} values: pass one per value")
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            raise ValueError(f"value {bad[0]} is {vals[bad[0]]}: impute it before forecasting")
        return np.array([self.forecast_one(x, None if ts is None else ts[i]) for i, x in enumerate(vals.tolist())])

    # ----------------------------------------------------------------- checkpoints
    def _has_stream_state(self) -> bool:
        return bool(self._state.history)

    def reset(self) -> SpikingForecaster:
        """Forget everything learned: the next point starts a new stream."""
        self._unloaded, self._from_v1 = None, False
        super().reset()
        return self

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments and, once the forecaster has seen data, the numbers of its
        :class:`ForecasterState` under ``"stream_state"`` (its arrays are in :meth:`state_dict`), so
        ``neuroplastic.load`` of a checkpoint continues the stream; 0.1.0 checkpoints are migrated."""
        d = asdict(self.config)
        if self._has_stream_state():
            tree, _ = _fs.to_flat(self.state)
            d["stream_state"] = {**tree, "keys": None if self._keys is None else list(self._keys)}
        return d

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpikingForecaster:
        """The forecaster of :meth:`get_config` output: fresh, or continuing its saved stream (then
        :meth:`load_state_dict` supplies the arrays)."""
        cfg = dict(config)
        doc = cfg.pop("stream_state", None)
        f = cls(SpikingForecasterConfig(**cfg))
        if doc is not None:
            f._keys = None if doc.get("keys") is None else tuple(doc["keys"])
            if "version" not in doc:  # neuroplastic 0.1.0: the working objects, encoded
                f._restore_stream_state(doc)
                f._from_v1 = True  # its file holds the readout only
            else:
                f._unloaded = doc
        return f

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The readout weights as ``readout`` and, once the stream has started, every array of the
        state as ``stream.<field>`` (float64)."""
        doc = self._unloaded
        if doc is not None:  # the shapes the file must hold
            out = {"readout": torch.zeros(tuple(doc["w"]["shape"]), dtype=torch.float64)}
            for v in doc.values():
                if isinstance(v, dict) and "tensor" in v:
                    out[v["tensor"]] = torch.zeros(tuple(v["shape"]), dtype=torch.float64)
            return out
        out = {"readout": torch.from_numpy(self._state.w.copy())}
        if self._has_stream_state() and not self._from_v1:
            _, arrays = _fs.to_flat(self.state)
            out.update({k: torch.from_numpy(np.array(a, dtype=np.float64)) for k, a in arrays.items()})
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        """Restore the saved arrays (the readout alone for a fresh stream)."""
        arrays = {k: t.detach().cpu().double().numpy() for k, t in state.items()}
        doc = self._unloaded
        if doc is not None:
            self._unloaded = None
            self.state = _fs.from_flat({k: v for k, v in doc.items() if k != "keys"}, arrays)
            return
        w = arrays["readout"]
        if w.shape != self._state.w.shape:
            raise ValueError(f"readout of shape {w.shape} does not fit {self._state.w.shape}")
        self._state.w = w.copy()
        self._from_v1 = False


def persistence_forecast(values: Any) -> np.ndarray:
    """Persistence: ``out[i] = values[i]`` forecasts ``values[i + 1]``."""
    return np.asarray(values, dtype=np.float64).copy()


def seasonal_forecast(values: Any, timestamps: Any, period: np.timedelta64 = np.timedelta64(1, "D")) -> np.ndarray:
    """Seasonal persistence: forecast ``values[i + 1]`` by the last value at or before ``t_{i+1} - period``.

    Points whose lagged time precedes the series fall back to persistence.

    Args:
        values: 1-D array.
        timestamps: sorted ``datetime64`` array of the same length.
        period: the season.

    Returns:
        ``out`` with ``out[i]`` the forecast of ``values[i + 1]`` (``out[-1]`` repeats the
        persistence forecast, there being no next timestamp).
    """
    v = np.asarray(values, dtype=np.float64)
    ts = np.asarray(timestamps).astype("datetime64[ns]")
    if ts.shape != v.shape:
        raise ValueError(f"{ts.shape[0]} timestamps for {v.shape[0]} values: pass one per value")
    out = v.copy()
    target = ts[1:] - period
    j = np.searchsorted(ts, target, side="right") - 1
    ok = j >= 0
    out[:-1][ok] = v[j[ok]]
    return out
