r"""Streaming anomaly detection by resonance, homeostasis and refractoriness.

:class:`SpikingAnomalyDetector` scores every point of a stream in one causal pass (the score of
point ``t`` depends only on points ``<= t``). Per input feature it runs:

1. **Sensory integration** at several time scales ``s`` (rows per step, 1..7 by default). A step
   summarises its ``s`` rows by the extreme that departs most from a running average (spikes
   survive, as in ARTime), quantises it to ``levels`` steps of the running range and snaps it to
   the running median when within ``deadband`` of it (sensory adaptation).
2. **Features** of the last ``window`` steps: the window's shape (min-max normalised, then its
   Haar wavelet coefficients, min-max normalised) and its levels in signal units.
3. A :class:`~neuroplastic.streaming.resonance.ResonanceLayer` of prototype neurons learning by
   fast Hebbian commit, recruiting a neuron for every unmatched pattern (structural plasticity).
4. **Homeostatic vigilance**: the high threshold tracks the mean match (capped), the low one
   climbs toward the lowest recent match and relaxes after novelties, so the rate of novelty
   stays low whatever the stream's noise.
5. A **novelty neuron** that fires when a pattern finds no resonance, unless refractory (after a
   firing or a burst of recruitment), with confidence

   .. math::  c = \min\Big(1,\; 0.35\,\frac{\rho_h - m}{1 - m} + 0.65\,\frac{\rho_l - m}{1 - m}
              + 1.5\,(1 - e)\Big),

   ``m`` the best match, ``e`` its level match and ``rho_l <= rho_h`` the vigilance levels.
6. An **edge pathway**: a value beyond the running range by more than ``edge_margin`` of it (an
   edge receptive field that never fired) spikes with score 1, refractory ``edge_refractory`` rows.
7. The output is **relatively refractory**: for ``output_refractory`` rows after a firing only a
   stronger firing passes (the score is the larger of the channel's and the edge's).

The time scale read out grows with experience: at row ``t`` the channel of scale
``clip(round(t / rows_per_step), 1, max(steps))`` is reported (a developmental schedule; every
channel learns from row 0, a channel no longer reachable is switched off). ARTime instead picks
one scale from the file's length and normalises by the file's min/max; neither is causal, and
neither is used here.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.arange(3000) * 2 * np.pi / 100) + 0.05 * rng.standard_normal(3000)
    >>> x[2500:2520] += 3.0                       # a burst
    >>> det = SpikingAnomalyDetector()
    >>> scores = det.score_many(x)
    >>> int(np.argmax(scores[2000:])) + 2000 in range(2500, 2520)
    True
"""
from __future__ import annotations

import bisect
import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.io import register_serializable
from neuroplastic.streaming import _detector_state as _ds
from neuroplastic.streaming._channel import _Unit, new_unit, peek_unit_step, unit_step
from neuroplastic.streaming._detector_state import DetectorState
from neuroplastic.streaming._state_io import register_state_class
from neuroplastic.streaming.online import OnlineModel

__all__ = ["DetectorState", "SpikingAnomalyConfig", "SpikingAnomalyDetector", "detector_step", "haar_matrix"]


def haar_matrix(n: int) -> np.ndarray:
    """Orthonormal multi-level Haar transform matrix ``[n, n]`` (``n`` a power of two).

    Row order: the overall average, then details from the coarsest to the finest level.
    """
    if n < 1 or n & (n - 1):
        raise ValueError(f"window must be a power of two for the Haar transform, got {n}")
    out = np.eye(n)
    length = n
    r = 1.0 / math.sqrt(2.0)
    while length > 1:
        a = (out[0:length:2] + out[1:length:2]) * r
        d = (out[0:length:2] - out[1:length:2]) * r
        out[: length // 2], out[length // 2 : length] = a, d
        length //= 2
    return out


@register_state_class("SpikingAnomalyConfig")
@dataclass(frozen=True)
class SpikingAnomalyConfig:
    """Settings of :class:`SpikingAnomalyDetector` (validated on construction).

    Attributes:
        steps: time scales (rows integrated per step) of the channels.
        rows_per_step: experience (rows) per unit of read-out scale; ``0`` reads out the
            smallest scale only.
        window: steps of history per pattern (a power of two).
        levels: quantisation levels over the running range.
        deadband: snap to the running median within this fraction of the range.
        spike_fraction: a step keeps its block mean unless the extreme departs from it by more
            than this fraction of the mean.
        median_memory: steps in the running median.
        warmup: steps of learning before a channel reports (vigilance then starts from the
            mean match of the warm-up patterns, presented from the least to the most typical).
        initial_vigilance: vigilance while choosing the starting vigilance.
        refractory: steps of refractoriness after a firing (also gates vigilance updates).
        vigilance_cap: upper bound of the high vigilance.
        vigilance_gain: rate at which the low vigilance climbs toward the lowest recent match.
        edge_margin: edge pathway margin as a fraction of the running range (``None``: off).
        edge_warmup: rows before the edge pathway may fire.
        edge_refractory: rows of refractoriness of the edge pathway.
        output_refractory: relative refractory period of the output (rows): within it, a new
            firing passes only if it is stronger than the last one (0 disables).
        max_categories: prototypes kept per channel; a full channel forgets its oldest one
            (bounds the state; ``None``: unbounded). The NAB streams stay below the default.
        fire_memory: firings whose match the novelty neuron remembers (its low-vigilance floor
            is their mean); older ones are forgotten.
    """

    steps: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    rows_per_step: float = 693.3
    window: int = 8
    levels: int = 80
    deadband: float = 0.075
    spike_fraction: float = 0.1
    median_memory: int = 5000
    warmup: int = 104
    initial_vigilance: float = 0.8
    refractory: int = 12
    vigilance_cap: float = 0.97
    vigilance_gain: float = 0.19
    edge_margin: float | None = 0.05
    edge_warmup: int = 300
    edge_refractory: int = 200
    output_refractory: int = 50
    max_categories: int | None = 2048
    fire_memory: int = 10000

    def __post_init__(self) -> None:
        steps = tuple(int(s) for s in self.steps)
        if not steps or min(steps) < 1 or len(set(steps)) != len(steps):
            raise ValueError(f"steps must be distinct integers >= 1, got {self.steps}")
        object.__setattr__(self, "steps", tuple(sorted(steps)))
        check_positive("rows_per_step", self.rows_per_step, allow_zero=True)
        haar_matrix(self.window)
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        for name in ("levels", "median_memory", "refractory"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < self.window + 2:
            raise ValueError(f"warmup ({self.warmup}) must be >= window + 2 ({self.window + 2})")
        for name in ("deadband", "spike_fraction", "edge_warmup", "edge_refractory", "output_refractory"):
            check_positive(name, getattr(self, name), allow_zero=True)
        for name in ("initial_vigilance", "vigilance_cap", "vigilance_gain"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")
        if self.edge_margin is not None:
            check_positive("edge_margin", self.edge_margin, allow_zero=True)
        if self.max_categories is not None and int(self.max_categories) < 2:
            raise ValueError(f"max_categories must be >= 2 or None, got {self.max_categories}")
        if int(self.fire_memory) < 1:
            raise ValueError(f"fire_memory must be >= 1, got {self.fire_memory}")

    def scale_at(self, row: int) -> int:
        """Scale read out at 0-based ``row``."""
        if self.rows_per_step == 0:
            return self.steps[0]
        want = min(max(1, int(round(row / self.rows_per_step))), self.steps[-1])
        i = bisect.bisect_right(self.steps, want) - 1
        return self.steps[max(i, 0)]


@functools.lru_cache(maxsize=8)
def _haar(window: int) -> np.ndarray:
    h = haar_matrix(window)
    h.setflags(write=False)
    return h


def detector_step(
    x: float | np.ndarray, state: DetectorState | None, params: SpikingAnomalyConfig | None = None
) -> tuple[float, DetectorState]:
    """One row through the detector: a pure step, ``(score, new_state)``; ``state`` is not changed.

    Args:
        x: the row, a number or ``[F]`` features (one independent unit per feature; the score is
            the largest of theirs).
        state: the state after the previous row, or ``None`` to start a new stream.
        params: the settings (default :class:`SpikingAnomalyConfig`).

    Returns:
        ``(score, state)``: the score in ``[0, 1]`` of ``x`` given the past, and the state that
        has learned ``x``.

    Example:
        >>> state, scores = None, []
        >>> for v in [0.0, 1.0] * 200:
        ...     s, state = detector_step(v, state)
        ...     scores.append(s)
        >>> len(state.units), state.units[0].rows
        (1, 400)
    """
    cfg = params or SpikingAnomalyConfig()
    v = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if v.ndim != 1 or not np.isfinite(v).all():
        raise ValueError(f"x must be a finite number or 1-D array of features, got {x!r}: impute missing values first")
    units = _ds.thaw(state, cfg, _haar(cfg.window)) if state is not None and state.units else []
    score = _units_step(units, v, cfg)
    return score, _ds.freeze(units)


def _units_step(units: list[_Unit], v: np.ndarray, cfg: SpikingAnomalyConfig) -> float:
    if not units:
        units.extend(new_unit(cfg, _haar(cfg.window)) for _ in range(v.size))
    elif len(units) != v.size:
        raise ValueError(
            f"got {v.size} features, the detector was started with {len(units)}: "
            "pass the same features every time or call reset()"
        )
    score = 0.0
    for u, xi in zip(units, v.tolist()):
        score = max(score, unit_step(u, xi, cfg))
    return score


@register_serializable("streaming.SpikingAnomalyDetector")
class SpikingAnomalyDetector(OnlineModel):
    """Causal one-pass anomaly detector (see the module docstring), River-style.

    Scores are in ``[0, 1]``; most points score 0 and a firing novelty neuron reports its
    confidence. A multi-feature input runs one independent detector per feature and reports the
    largest score. ``predict_one`` returns the same score as ``score_one`` (there is nothing else
    to predict); threshold it to get a decision.

    Args:
        config: a :class:`SpikingAnomalyConfig`; keyword arguments override its fields.

    Example:
        >>> det = SpikingAnomalyDetector(steps=(2,), rows_per_step=0)
        >>> det.learn_one({"cpu": 0.5}).score_one({"cpu": 0.5})
        0.0
    """

    def __init__(self, config: SpikingAnomalyConfig | None = None, **overrides: Any) -> None:
        base = config or SpikingAnomalyConfig()
        self.config = SpikingAnomalyConfig(**{**asdict(base), **overrides}) if overrides else base
        self._haar = _haar(self.config.window)
        self._unloaded: dict[str, Any] | None = None  # a saved tree waiting for load_state_dict
        self._from_v1 = False  # migrated from a 0.1.0 config: its file holds no tensors
        super().__init__()

    # ------------------------------------------------------------- explicit state
    @property
    def state(self) -> DetectorState:
        """The learned state as an immutable :class:`DetectorState` (a snapshot)."""
        return _ds.freeze(self._state)

    @state.setter
    def state(self, value: DetectorState) -> None:
        if not isinstance(value, DetectorState):
            raise TypeError(f"state must be a DetectorState, got {type(value).__name__}")
        self._state = _ds.thaw(value, self.config, self._haar)
        self._pending = None

    # ------------------------------------------------------------- OnlineModel hooks
    def _fresh_state(self, n_features: int | None) -> list[_Unit]:
        return []

    def _step(self, v: np.ndarray, y: float | None, learn: bool) -> tuple[float, float]:
        if self._unloaded is not None or self._from_v1:
            if self._unloaded is None:
                self._from_v1 = False  # stepping on: the next save writes arrays
                return self._step(v, y, learn)
            raise RuntimeError("this detector was built from a checkpoint config whose arrays were not loaded: "
                               "use neuroplastic.load(path), or call load_state_dict with the checkpoint's tensors")
        score = _units_step(self._state, v, self.config)
        return score, score

    def _peek(self, x: Any) -> tuple[float, float]:
        """Score ``x`` without learning it: copy on write of the one channel that computes."""
        v = self._vector(x)
        units: list[_Unit] = self._state
        if not units:
            return 0.0, 0.0  # a first point is never novel
        if len(units) != v.size:
            raise ValueError(f"got {v.size} features, the detector was started with {len(units)}: "
                             "pass the same features every time or call reset()")
        score = 0.0
        for u, xi in zip(units, v.tolist()):
            score = max(score, peek_unit_step(u, xi, self.config))
        self._pending = None
        return score, score

    # ------------------------------------------------------------- checkpoints
    def _has_stream_state(self) -> bool:
        return bool(self._state) or self._unloaded is not None

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments and, once the detector has seen data, the numbers of its
        :class:`DetectorState` under ``"stream_state"`` (its arrays are in :meth:`state_dict`), so
        ``neuroplastic.load`` of a checkpoint continues the stream. A 0.1.0 checkpoint (the whole
        state as encoded objects) is migrated on load."""
        d = asdict(self.config)
        d["steps"] = list(d["steps"])
        if self._unloaded is not None:
            d["stream_state"] = self._unloaded
        elif self._state:
            tree, _ = _ds.to_flat(self.state)
            d["stream_state"] = {**tree, "keys": None if self._keys is None else list(self._keys)}
        return d

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpikingAnomalyDetector:
        """The detector of :meth:`get_config` output: fresh, or continuing its saved stream (then
        :meth:`load_state_dict` supplies the arrays)."""
        cfg = dict(config)
        doc = cfg.pop("stream_state", None)
        cfg["steps"] = tuple(cfg["steps"])
        det = cls(SpikingAnomalyConfig(**cfg))
        if doc is None:
            return det
        if "version" not in doc:  # neuroplastic 0.1.0: {"keys", "state": encoded objects}
            det._keys = None if doc["keys"] is None else tuple(doc["keys"])
            det.state = _ds.migrate_v1(doc["state"], det.config)
            det._from_v1 = True
        else:
            det._unloaded = doc
        return det

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The arrays of the learned state (float64 tensors, named as in ``get_config()["stream_state"]``)."""
        if self._unloaded is not None:  # the shapes the file must hold
            return {k: torch.zeros(shape, dtype=torch.float64) for k, shape in _ds.skeleton(self._unloaded).items()}
        if self._from_v1 or not self._state:
            return {}
        _, arrays = _ds.to_flat(self.state)
        return {k: torch.from_numpy(np.array(a, dtype=np.float64)) for k, a in arrays.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        """Fill in the arrays of a state whose numbers came with :meth:`from_config`."""
        if self._unloaded is None:
            self._from_v1 = False
            if strict and state:
                raise KeyError(f"unexpected keys {sorted(state)[:3]}: this detector has no saved stream waiting "
                               "for its arrays")
            return
        arrays = {k: t.detach().cpu().double().numpy() for k, t in state.items()}
        doc = self._unloaded
        tree = {k: v for k, v in doc.items() if k != "keys"}
        restored = _ds.from_flat(tree, arrays)
        self._unloaded = None
        self._keys = None if doc.get("keys") is None else tuple(doc["keys"])
        self.state = restored

    def reset(self) -> SpikingAnomalyDetector:
        """Forget everything learned: the next point starts a new stream."""
        self._unloaded, self._from_v1 = None, False
        super().reset()
        return self
