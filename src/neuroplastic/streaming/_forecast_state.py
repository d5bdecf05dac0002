"""The forecaster's explicit state (NamedTuples of arrays and numbers) and its working form.

:class:`ForecasterState` is what :func:`~neuroplastic.streaming.forecast.forecaster_step` takes and
returns (immutable: tuples and read-only arrays). :class:`_ForecastState` is the in-place working
form the wrapper steps (attribute names of neuroplastic 0.1.0, registered under the same name, so a
0.1.0 checkpoint decodes into it); :func:`freeze` / :func:`thaw` convert bit for bit. On disk the
arrays are float64 tensors named ``stream.<field>`` and the numbers a versioned JSON dict.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

import neuroplastic.streaming.encoders  # noqa: F401  (registers the 0.1.0 state classes)
from neuroplastic.encoding.stream import RunningQuantile, RunningStats
from neuroplastic.streaming._state_io import register_state_class

__all__ = ["FORECAST_STATE_VERSION", "ForecasterState", "MomentsState", "freeze", "from_flat", "thaw", "to_flat"]

FORECAST_STATE_VERSION = 2


class MomentsState(NamedTuple):
    """Running mean/variance (:class:`~neuroplastic.encoding.RunningStats`): count, mean, variance."""

    n: int
    mean: float
    var: float


class ForecasterState(NamedTuple):
    """State of a :class:`~neuroplastic.streaming.SpikingForecaster` (NaN where 0.1.0 had ``None``)."""

    stats: MomentsState
    quant_sorted: np.ndarray | None   # robust normaliser: the window, sorted
    quant_fifo: np.ndarray | None     # the same, oldest first
    history: np.ndarray               # the last ``lags`` raw values, newest last
    phi: np.ndarray | None            # features of the last step
    last: float
    pred: float
    honest_pred: float
    honest_model: float
    supervised: bool
    w: np.ndarray                     # readout weights
    abs_err: MomentsState
    gate_model: MomentsState | None
    gate_persist: MomentsState | None


@register_state_class("SpikingForecaster.state")
class _ForecastState:
    def __init__(self, cfg: Any) -> None:
        self.stats = RunningStats(cfg.half_life)
        self.quant = RunningQuantile(cfg.window) if cfg.robust else None
        self.history: list[float] = []  # raw values, newest last
        self.phi: np.ndarray | None = None  # features of the last step
        self.last: float | None = None
        self.pred: float | None = None  # reported forecast of the next raw value
        self.honest_pred: float | None = None  # the same, before learning from an explicit y
        self.honest_model: float = 0.0  # the readout's own forecast, before any y
        self.supervised = False  # the last step already learned from an explicit y
        n_time = cfg.time_neurons + (max(2, cfg.time_neurons // 4) if cfg.time_neurons else 0)
        self.n_features = cfg.lags * (cfg.n_neurons + 1) + n_time + 1
        self.w = np.zeros(self.n_features)
        self.abs_err = RunningStats(cfg.half_life)
        h = cfg.gate_half_life
        self.gate_model = RunningStats(h) if h else None
        self.gate_persist = RunningStats(h) if h else None

    def copy(self) -> _ForecastState:
        """An independent copy."""
        new = _ForecastState.__new__(_ForecastState)
        d = dict(self.__dict__)
        for k in ("stats", "abs_err", "gate_model", "gate_persist"):
            if d[k] is not None:
                d[k] = _copy_stats(d[k])
        if d["quant"] is not None:
            q = RunningQuantile.__new__(RunningQuantile)
            q.window, q._sorted, q._fifo = d["quant"].window, list(d["quant"]._sorted), deque(d["quant"]._fifo)
            d["quant"] = q
        d["history"] = list(d["history"])
        d["w"] = d["w"].copy()
        new.__dict__.update(d)
        return new


def _copy_stats(rs: RunningStats) -> RunningStats:
    new = RunningStats.__new__(RunningStats)
    new.__dict__.update(rs.__dict__)
    return new


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _none(v: float) -> float | None:
    return None if math.isnan(v) else v


def _ro(a: Any) -> np.ndarray:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def _moments(rs: RunningStats | None) -> MomentsState | None:
    return None if rs is None else MomentsState(rs.n, rs.mean, rs.var)


def freeze(st: _ForecastState) -> ForecasterState:
    """The immutable :class:`ForecasterState` of a working state (arrays copied)."""
    q = st.quant
    return ForecasterState(
        _moments(st.stats), None if q is None else _ro(q._sorted), None if q is None else _ro(q._fifo),
        _ro(st.history), None if st.phi is None else _ro(st.phi), _nan(st.last), _nan(st.pred),
        _nan(st.honest_pred), float(st.honest_model), bool(st.supervised), _ro(st.w), _moments(st.abs_err),
        _moments(st.gate_model), _moments(st.gate_persist),
    )


def _stats(m: MomentsState | None, half_life: float | None) -> RunningStats | None:
    if m is None:
        return None
    rs = RunningStats(half_life)
    rs.n, rs.mean, rs.var = int(m.n), m.mean, m.var
    return rs


def thaw(s: ForecasterState, cfg: Any) -> _ForecastState:
    """A working state holding the same numbers as ``s``."""
    st = _ForecastState(cfg)
    if (s.quant_sorted is None) != (st.quant is None) or s.w.shape != st.w.shape:
        raise ValueError("this forecaster state was made with other settings (robust/lags/neurons): "
                         "use the settings it was saved with")
    st.stats = _stats(s.stats, cfg.half_life)
    if st.quant is not None:
        st.quant._sorted = s.quant_sorted.tolist()
        st.quant._fifo = deque(s.quant_fifo.tolist())
    st.history = s.history.tolist()
    st.phi = None if s.phi is None else np.array(s.phi)
    st.last, st.pred, st.honest_pred = _none(s.last), _none(s.pred), _none(s.honest_pred)
    st.honest_model, st.supervised = s.honest_model, bool(s.supervised)
    st.w = np.array(s.w)
    st.abs_err = _stats(s.abs_err, cfg.half_life)
    st.gate_model = _stats(s.gate_model, cfg.gate_half_life)
    st.gate_persist = _stats(s.gate_persist, cfg.gate_half_life)
    return st


_ARRAYS = ("quant_sorted", "quant_fifo", "history", "phi", "w")


def _num(v: float) -> Any:
    return v if math.isfinite(v) else {"f": repr(v)}


def _unnum(v: Any) -> float:
    return float(v["f"]) if isinstance(v, dict) else float(v)


def to_flat(s: ForecasterState) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(tree, arrays)``: the numbers as JSON, the arrays as ``stream.<field>``."""
    tree: dict[str, Any] = {"version": FORECAST_STATE_VERSION}
    arrays: dict[str, np.ndarray] = {}
    for field, v in zip(s._fields, s):
        if field in _ARRAYS:
            tree[field] = None if v is None else {"tensor": f"stream.{field}", "shape": list(v.shape)}
            if v is not None:
                arrays[f"stream.{field}"] = v
        elif isinstance(v, MomentsState):
            tree[field] = [int(v.n), _num(v.mean), _num(v.var)]
        elif isinstance(v, bool) or v is None:
            tree[field] = v
        else:
            tree[field] = _num(float(v))
    return tree, arrays


def from_flat(tree: dict[str, Any], arrays: dict[str, np.ndarray]) -> ForecasterState:
    """Inverse of :func:`to_flat`."""
    if tree.get("version") != FORECAST_STATE_VERSION:
        raise ValueError(f"forecaster state version {tree.get('version')!r} is not {FORECAST_STATE_VERSION}: "
                         "load the checkpoint with neuroplastic.load, which migrates older ones")
    vals = []
    for field in ForecasterState._fields:
        v = tree[field]
        if field in _ARRAYS:
            vals.append(None if v is None else _ro(arrays[v["tensor"]]))
        elif field in ("stats", "abs_err", "gate_model", "gate_persist"):
            vals.append(None if v is None else MomentsState(int(v[0]), _unnum(v[1]), _unnum(v[2])))
        elif field == "supervised":
            vals.append(bool(v))
        else:
            vals.append(_unnum(v))
    return ForecasterState(*vals)
