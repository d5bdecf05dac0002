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
import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.io import register_serializable
from neuroplastic.streaming._state_io import register_state_class
from neuroplastic.streaming.online import OnlineModel
from neuroplastic.streaming.resonance import ResonanceLayer

__all__ = ["SpikingAnomalyConfig", "SpikingAnomalyDetector", "haar_matrix"]


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

    def scale_at(self, row: int) -> int:
        """Scale read out at 0-based ``row``."""
        if self.rows_per_step == 0:
            return self.steps[0]
        want = min(max(1, int(round(row / self.rows_per_step))), self.steps[-1])
        i = bisect.bisect_right(self.steps, want) - 1
        return self.steps[max(i, 0)]


@register_state_class("SpikingAnomalyDetector.channel")
class _Channel:
    """One time scale: sensory integration, pattern features, resonance, vigilance, novelty."""

    def __init__(self, cfg: SpikingAnomalyConfig, step: int, haar: np.ndarray) -> None:
        self.cfg, self.step_rows, self.haar = cfg, step, haar
        w = cfg.window
        self.layer = ResonanceLayer(2 * w, n_level=w)
        self.block: list[float] = []
        self.avg: float | None = None
        self.low, self.high = math.inf, -math.inf
        self.median_sorted: list[float] = []
        self.median_fifo: deque[float] = deque()
        self.recent: deque[float] = deque(maxlen=w)
        self.i = 0
        self.warm: list[np.ndarray] | None = []
        self.last_fire = 0
        self.last_fire_match = 0.0
        self.last_update = 0
        self.masked = False
        self.calm = 0
        self.fire_matches: list[float] = []
        self.match_sum = 0.0
        self.match_n = 0
        self.recent_match: deque[float] = deque([1.0] * (cfg.warmup // 2 + 1), maxlen=cfg.warmup // 2 + 1)
        self.recent_gap: deque[float] = deque([0.0] * (cfg.warmup + 1), maxlen=cfg.warmup + 1)

    # ------------------------------------------------------------- sensory stage
    def push(self, v: float, low: float, high: float) -> float:
        """One row; returns the channel's novelty confidence (0 unless it fires)."""
        self.block.append(v)
        if len(self.block) < self.step_rows:
            return 0.0
        blk, self.block = self.block, []
        mean = sum(blk) / len(blk)
        hi, lo = max(blk), min(blk)
        self.avg = mean if self.avg is None else 0.5 * (self.avg + mean)
        d = lo if abs(hi - self.avg) < abs(lo - self.avg) else hi
        cfg = self.cfg
        if abs(d - mean) < cfg.spike_fraction * abs(mean):
            d = mean
        span = high - low if high > low else 1.0
        d = low + round((d - low) / span * cfg.levels) / cfg.levels * span
        bisect.insort(self.median_sorted, d)
        self.median_fifo.append(d)
        if len(self.median_fifo) > cfg.median_memory:
            old = self.median_fifo.popleft()
            del self.median_sorted[bisect.bisect_left(self.median_sorted, old)]
        med = self.median_sorted[len(self.median_sorted) // 2]
        if abs(d - med) < cfg.deadband * span:
            d = med
        self.recent.append(d)
        self.layer.set_range(low, span)
        self.i += 1
        w = cfg.window
        if self.i >= w:
            win = np.fromiter(self.recent, dtype=np.float64, count=w)
            shape = win - win.min()
            top = shape.max()
            if top:
                shape /= top
            coef = self.haar @ shape
            coef -= coef.min()
            top = coef.max()
            if top:
                coef /= top
            feats = np.concatenate([coef, win])
        else:
            feats = np.concatenate([np.zeros(w), np.full(w, low)])
        if self.warm is not None:
            self.warm.append(feats)
            if self.i == cfg.warmup:
                self._end_warmup()
            return 0.0
        return self._detect(feats, self.i)

    # ------------------------------------------------------------- warm-up
    def _end_warmup(self) -> None:
        cfg = self.cfg
        feats = np.array(self.warm)
        self.warm = None
        pats = feats[cfg.window - 1 :]
        x = np.array([self.layer.normalise(f) for f in pats])
        norm = np.linalg.norm(x, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = (x @ x.T) / np.outer(norm, norm)
        zero = norm == 0
        sim[zero, :] = 1.0 - norm[None, :]
        sim[:, zero] = (1.0 - norm)[:, None]
        np.fill_diagonal(sim, 1.0)
        order = np.argsort(sim.sum(axis=0), kind="stable")
        probe = ResonanceLayer(2 * cfg.window, n_level=cfg.window)
        probe.set_range(self.layer.low, self.layer.span)
        probe.set_vigilance(cfg.initial_vigilance, cfg.initial_vigilance)
        matches = [probe.step(pats[k]).match for k in order]
        rho = float(np.mean(matches[cfg.warmup // 2 - 1 :]))
        self.layer.set_vigilance(rho, rho)
        for k, f in enumerate(feats):
            self._detect(f, k + 1)

    # ------------------------------------------------------------- novelty neuron
    def _detect(self, f: np.ndarray, i: int) -> float:
        cfg, layer = self.cfg, self.layer
        refr = cfg.refractory
        since = i - self.last_fire
        update_after = since == refr
        update_trend = (i - self.last_update) >= cfg.warmup // 2
        refractory = since <= refr
        if i > cfg.warmup + refr and self.masked and self.calm >= refr:
            self.masked = False
        if i < cfg.window:
            res = layer.step(f, learn=False)
            novel = True
        else:
            res = layer.step(f)
            novel = res.novel
        a = res.match
        self.calm = 0 if novel else self.calm + 1
        self.match_sum += a
        self.match_n += 1
        self.recent_match.append(a)
        self.recent_gap.append(layer.rho_high - a)
        if since < refr and self.fire_matches and a < self.fire_matches[-1]:
            self.fire_matches[-1] = a
        below_last = a < self.last_fire_match * (0.9 if refractory else 0.7)
        out = 0.0
        if i > cfg.warmup and novel and (not (self.masked or refractory) or below_last):
            m = min(0.999, a)
            hi = 1.0 - (1.0 - layer.rho_high) / (1.0 - m)
            lo = 1.0 - (1.0 - layer.rho_low) / (1.0 - m)
            out = min(1.0, max(0.0, 0.35 * hi + 0.65 * lo + 1.5 * (1.0 - res.level_match)))
            self.fire_matches.append(a)
            self.last_fire_match = a
            self.last_fire = i
        self.masked = novel or self.masked
        if i > cfg.warmup and (update_after or update_trend):
            self._homeostasis(i)
        return out

    def _homeostasis(self, i: int) -> None:
        cfg, layer = self.cfg, self.layer
        lowest = min(self.recent_match)
        high = min(cfg.vigilance_cap, self.match_sum / self.match_n)
        low = layer.rho_low
        if low <= lowest:
            low += (lowest - low) * cfg.vigilance_gain
        else:
            relax = 0.0
            if i > 2 * cfg.warmup:
                gaps = [min(0.37, g) for g in self.recent_gap if g > 0.05]
                if gaps:
                    relax = sum(gaps) / len(gaps)
            low -= max(0.01, relax) / 2.0
            if self.fire_matches:
                low = max(sum(self.fire_matches) / len(self.fire_matches), low)
        layer.set_vigilance(min(high, low), high)
        self.last_update = i
        self.masked = True


@register_state_class("SpikingAnomalyDetector.unit")
@dataclass
class _Unit:
    """Everything learned about one input feature."""

    channels: dict[int, _Channel]
    low: float = math.inf
    high: float = -math.inf
    rows: int = 0
    last_edge: int = -(10**9)
    last_fire: int = -(10**9)
    last_strength: float = 0.0


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
        self._haar = haar_matrix(self.config.window)
        super().__init__()

    # ------------------------------------------------------------- OnlineModel hooks
    def _fresh_state(self, n_features: int | None) -> list[_Unit]:
        return []

    def _new_unit(self) -> _Unit:
        return _Unit({s: _Channel(self.config, s, self._haar) for s in self.config.steps})

    def _step(self, v: np.ndarray, y: float | None, learn: bool) -> tuple[float, float]:
        units: list[_Unit] = self._state
        if not units:
            units.extend(self._new_unit() for _ in range(v.size))
        elif len(units) != v.size:
            raise ValueError(
                f"got {v.size} features, the detector was started with {len(units)}: "
                "pass the same features every time or call reset()"
            )
        score = 0.0
        for u, x in zip(units, v.tolist()):
            score = max(score, self._unit_step(u, x))
        return score, score

    def _unit_step(self, u: _Unit, x: float) -> float:
        cfg = self.config
        t = u.rows
        edge = 0.0
        if cfg.edge_margin is not None and t >= cfg.edge_warmup and u.high > u.low:
            margin = cfg.edge_margin * (u.high - u.low)
            if (x > u.high + margin or x < u.low - margin) and t - u.last_edge > cfg.edge_refractory:
                edge = 1.0
                u.last_edge = t
        u.low, u.high = min(u.low, x), max(u.high, x)
        read = cfg.scale_at(t)
        out = 0.0
        for s in list(u.channels):
            if s < read:  # the schedule never returns to a smaller scale
                del u.channels[s]
                continue
            c = u.channels[s].push(x, u.low, u.high)
            if s == read:
                out = c
        u.rows += 1
        score = max(out, edge)
        if score > 0.0:
            if t - u.last_fire <= cfg.output_refractory and score <= u.last_strength:
                return 0.0  # relatively refractory: only a stronger firing passes
            u.last_fire, u.last_strength = t, score
        return score

    # ------------------------------------------------------------- checkpoints
    def _has_stream_state(self) -> bool:
        return bool(self._state)

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments and, once the detector has seen data, its learned state
        under ``"stream_state"`` (so ``neuroplastic.load`` of a checkpoint continues the stream)."""
        d = asdict(self.config)
        d["steps"] = list(d["steps"])
        state = self._stream_state()
        if state is not None:
            d["stream_state"] = state
        return d

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpikingAnomalyDetector:
        """The detector of :meth:`get_config` output: fresh, or continuing its saved stream."""
        cfg = dict(config)
        state = cfg.pop("stream_state", None)
        cfg["steps"] = tuple(cfg["steps"])
        det = cls(SpikingAnomalyConfig(**cfg))
        det._restore_stream_state(state)
        return det

    def state_dict(self) -> dict[str, torch.Tensor]:
        """No tensors: the configuration and the learned state are JSON (see :meth:`get_config`)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        """Accept the empty state of :meth:`state_dict`."""
        if strict and state:
            raise KeyError(f"unexpected keys {sorted(state)}: this detector saves no tensors")
