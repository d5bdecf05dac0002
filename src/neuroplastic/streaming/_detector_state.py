"""The detector's explicit state: NamedTuples of arrays and numbers, and how they are saved.

:class:`DetectorState` is what :func:`~neuroplastic.streaming.anomaly.detector_step` takes and
returns; it is immutable (tuples and read-only numpy arrays), so a step can never change a state
it was given. :func:`freeze` / :func:`thaw` convert to and from the in-place working form of
:mod:`neuroplastic.streaming._channel` (every float is carried bit for bit).

On disk (:func:`to_flat` / :func:`from_flat`) the arrays become named float64 tensors (the
checkpoint's ``weights.safetensors``) and the numbers a small JSON tree whose arrays are
``{"tensor": name}`` references; non-finite floats are written as ``{"f": "inf"}``. The tree is
versioned (:data:`STATE_VERSION`); version 1 is neuroplastic 0.1.0's ``_state_io`` encoding of
the working objects, read by :func:`migrate_v1`.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from neuroplastic.streaming._channel import _Channel, _Unit
from neuroplastic.streaming.resonance import ResonanceLayer

__all__ = ["STATE_VERSION", "ChannelState", "DetectorState", "ResonanceState", "UnitState", "freeze", "from_flat",
           "migrate_v1", "skeleton", "thaw", "to_flat"]

#: version of the saved stream-state tree (1 was 0.1.0's object encoding)
STATE_VERSION = 2


class ResonanceState(NamedTuple):
    """A resonance layer: committed prototypes ``weights`` ``[K, 2D]`` and its scalars."""

    weights: np.ndarray
    rho_low: float
    rho_high: float
    low: float
    span: float
    primed: bool
    oldest: int


class ChannelState(NamedTuple):
    """One time scale of one feature (see :mod:`neuroplastic.streaming.anomaly`, stages 1-5)."""

    step_rows: int
    layer: ResonanceState
    block: np.ndarray          # rows of the block being integrated
    avg: float                 # running block average (NaN before the first block)
    median_sorted: np.ndarray  # the last median_memory levels, sorted
    median_fifo: np.ndarray    # the same, oldest first
    recent: np.ndarray         # the last ``window`` levels
    i: int                     # steps so far
    warm: np.ndarray | None    # warm-up features ``[n, 2 window]`` (None once warm)
    last_fire: int
    last_fire_match: float
    last_update: int
    masked: bool
    calm: int
    fire_matches: np.ndarray
    match_sum: float
    match_n: int
    recent_match: np.ndarray
    recent_gap: np.ndarray


class UnitState(NamedTuple):
    """Everything learned about one input feature: its channels (by scale) and its output stage."""

    scales: tuple[int, ...]
    channels: tuple[ChannelState, ...]
    low: float
    high: float
    rows: int
    last_edge: int
    last_fire: int
    last_strength: float


class DetectorState(NamedTuple):
    """State of a :class:`~neuroplastic.streaming.SpikingAnomalyDetector`: one unit per input feature
    (an empty tuple before the first point)."""

    units: tuple[UnitState, ...] = ()


def _ro(values: Any, width: int | None = None) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    if width is not None and a.size == 0:
        a = a.reshape(0, width)
    a.setflags(write=False)
    return a


def _freeze_layer(layer: ResonanceLayer) -> ResonanceState:
    return ResonanceState(_ro(layer.weights[: layer.size]), layer.rho_low, layer.rho_high, layer.low, layer.span,
                          layer.primed, getattr(layer, "oldest", 0))


def _freeze_channel(c: _Channel) -> ChannelState:
    w = c.cfg.window
    return ChannelState(
        c.step_rows, _freeze_layer(c.layer), _ro(c.block), math.nan if c.avg is None else c.avg,
        _ro(c.median_sorted), _ro(c.median_fifo), _ro(c.recent), c.i,
        None if c.warm is None else _ro(c.warm, 2 * w), c.last_fire, c.last_fire_match, c.last_update, c.masked,
        c.calm, _ro(c.fire_matches), c.match_sum, c.match_n, _ro(c.recent_match), _ro(c.recent_gap),
    )


def freeze(units: list[_Unit]) -> DetectorState:
    """The immutable :class:`DetectorState` of working units (copies every array)."""
    return DetectorState(tuple(
        UnitState(tuple(u.channels), tuple(_freeze_channel(c) for c in u.channels.values()), u.low, u.high, u.rows,
                  u.last_edge, u.last_fire, u.last_strength)
        for u in units))


def _thaw_layer(s: ResonanceState, cfg: Any) -> ResonanceLayer:
    w = cfg.window
    layer = ResonanceLayer(2 * w, n_level=w, max_categories=cfg.max_categories)
    k = s.weights.shape[0]
    layer.weights = np.ones((max(64, 2 * k), 4 * w))
    layer.weights[:k] = s.weights
    layer.size = k
    layer.rho_low, layer.rho_high, layer.low, layer.span = s.rho_low, s.rho_high, s.low, s.span
    layer.primed, layer.oldest = bool(s.primed), int(s.oldest)
    return layer


def _floats(a: np.ndarray) -> list[float]:
    return a.tolist()


def _thaw_channel(s: ChannelState, cfg: Any, haar: np.ndarray) -> _Channel:
    c = _Channel(cfg, s.step_rows, haar)
    w = cfg.window
    c.layer = _thaw_layer(s.layer, cfg)
    c.block = _floats(s.block)
    c.avg = None if math.isnan(s.avg) else s.avg
    c.median_sorted = _floats(s.median_sorted)
    c.median_fifo = deque(_floats(s.median_fifo))
    c.recent = deque(_floats(s.recent), maxlen=w)
    c.i = int(s.i)
    c.warm = None if s.warm is None else [row.copy() for row in np.asarray(s.warm)]
    c.last_fire, c.last_fire_match, c.last_update = int(s.last_fire), s.last_fire_match, int(s.last_update)
    c.masked, c.calm = bool(s.masked), int(s.calm)
    c.fire_matches = _floats(s.fire_matches)
    c.match_sum, c.match_n = s.match_sum, int(s.match_n)
    c.recent_match = deque(_floats(s.recent_match), maxlen=cfg.warmup // 2 + 1)
    c.recent_gap = deque(_floats(s.recent_gap), maxlen=cfg.warmup + 1)
    return c


def thaw(state: DetectorState, cfg: Any, haar: np.ndarray) -> list[_Unit]:
    """Working units (fresh containers) holding the same numbers as ``state``."""
    out = []
    for u in state.units:
        chans = {int(s): _thaw_channel(c, cfg, haar) for s, c in zip(u.scales, u.channels)}
        out.append(_Unit(chans, u.low, u.high, int(u.rows), int(u.last_edge), int(u.last_fire), u.last_strength))
    return out


# ----------------------------------------------------------------------------- on disk
def _num(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return v if math.isfinite(v) else {"f": repr(v)}


def _unnum(v: Any) -> Any:
    return float(v["f"]) if isinstance(v, dict) else v


def _tree(nt: Any, name: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, v in zip(nt._fields, nt):
        key = f"{name}.{field}"
        if isinstance(v, np.ndarray):
            tensors[key] = v
            out[field] = {"tensor": key, "shape": list(v.shape)}
        elif isinstance(v, tuple) and v and hasattr(v[0], "_fields"):
            out[field] = [_tree(item, f"{key}.{k}", tensors) for k, item in enumerate(v)]
        elif hasattr(v, "_fields"):
            out[field] = _tree(v, key, tensors)
        elif isinstance(v, tuple):
            out[field] = [_num(x) for x in v]
        else:
            out[field] = None if v is None else _num(v)
    return out


def to_flat(state: DetectorState) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(tree, arrays)``: JSON-able numbers with ``{"tensor": name}`` references, and the arrays."""
    arrays: dict[str, np.ndarray] = {}
    units = [_tree(u, f"unit{k}", arrays) for k, u in enumerate(state.units)]
    return {"version": STATE_VERSION, "units": units}, arrays


def _untree(cls: type, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    vals = []
    for field in cls._fields:
        v = doc[field]
        if isinstance(v, dict) and "tensor" in v:
            a = np.array(arrays[v["tensor"]], dtype=np.float64)
            a.setflags(write=False)
            vals.append(a)
        elif field == "layer":
            vals.append(_untree(ResonanceState, v, arrays))
        elif field == "channels":
            vals.append(tuple(_untree(ChannelState, c, arrays) for c in v))
        elif field == "scales":
            vals.append(tuple(int(s) for s in v))
        else:
            vals.append(None if v is None else _unnum(v))
    return cls(*vals)


def from_flat(tree: dict[str, Any], arrays: dict[str, np.ndarray]) -> DetectorState:
    """Inverse of :func:`to_flat`."""
    if tree.get("version") != STATE_VERSION:
        raise ValueError(f"stream state version {tree.get('version')!r} is not {STATE_VERSION}: "
                         "read it with neuroplastic.load, which migrates older checkpoints")
    missing = sorted({ref for ref in _refs(tree)} - set(arrays))
    if missing:
        raise ValueError(f"the checkpoint's tensors lack {missing[:3]}: the file is incomplete; save the stream again")
    return DetectorState(tuple(_untree(UnitState, u, arrays) for u in tree["units"]))


def _refs(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        if "tensor" in doc:
            return [doc["tensor"]]
        return [r for v in doc.values() for r in _refs(v)]
    if isinstance(doc, list):
        return [r for v in doc for r in _refs(v)]
    return []


def skeleton(tree: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every array a saved tree refers to."""
    out: dict[str, tuple[int, ...]] = {}

    def walk(doc: Any) -> None:
        if isinstance(doc, dict):
            if "tensor" in doc:
                out[doc["tensor"]] = tuple(doc["shape"])
            else:
                for v in doc.values():
                    walk(v)
        elif isinstance(doc, list):
            for v in doc:
                walk(v)

    walk(tree)
    return out


def migrate_v1(encoded: Any, cfg: Any) -> DetectorState:
    """The :class:`DetectorState` of a 0.1.0 ``stream_state["state"]`` (``_state_io`` encoding)."""
    from neuroplastic.streaming._state_io import decode

    units = decode(encoded)
    for u in units:
        for c in u.channels.values():
            c.cfg = cfg  # 0.1.0 stored the settings in every channel; the detector's own win
            c.layer.max_categories = cfg.max_categories
            c.layer.oldest = getattr(c.layer, "oldest", 0)
    return freeze(units)
