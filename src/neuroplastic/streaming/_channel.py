"""The in-place working form of the detector's state, and the kernel that updates it.

:func:`neuroplastic.streaming.anomaly.detector_step` is the pure step over the NamedTuple
:class:`~neuroplastic.streaming._detector_state.DetectorState`; it thaws that state into the
small mutable records below, runs :func:`unit_step` on them and freezes the result. The wrappers
(:class:`~neuroplastic.streaming.SpikingAnomalyDetector`) keep the working form between calls and
run the same kernel in place, which is what keeps ``process_one`` at NAB throughput (a per-row
freeze/thaw would cost more than the step). Both paths run this code, so they agree bit for bit.

The records keep the attribute names of neuroplastic 0.1.0's private classes (registered with
:mod:`neuroplastic.streaming._state_io` under the same names), which is how a 0.1.0 checkpoint
is read (:func:`neuroplastic.streaming._detector_state.migrate_v1`).

Forgetting (bounded state): the resonance layer holds at most ``max_categories`` prototypes
(the oldest is forgotten first, see :class:`~neuroplastic.streaming.resonance.ResonanceLayer`)
and the novelty neuron remembers the matches of its last ``fire_memory`` firings; the running
median already forgets beyond ``median_memory`` steps. So the state stops growing however long
the stream.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neuroplastic.streaming._state_io import register_state_class
from neuroplastic.streaming.resonance import ResonanceLayer

if TYPE_CHECKING:
    from neuroplastic.streaming.anomaly import SpikingAnomalyConfig

__all__ = ["_Channel", "_Unit", "unit_step", "peek_unit_step", "new_unit"]


@register_state_class("SpikingAnomalyDetector.channel")
class _Channel:
    """One time scale: sensory integration, pattern features, resonance, vigilance, novelty."""

    def copy(self) -> _Channel:
        """An independent copy (containers copied, settings shared)."""
        new = _Channel.__new__(_Channel)
        d = dict(self.__dict__)
        d["layer"] = self.layer.copy()
        for k in ("block", "median_sorted", "fire_matches"):
            d[k] = list(d[k])
        for k in ("median_fifo", "recent", "recent_match", "recent_gap"):
            d[k] = deque(d[k], maxlen=d[k].maxlen)
        if d["warm"] is not None:
            d["warm"] = list(d["warm"])
        new.__dict__.update(d)
        return new

    def __init__(self, cfg: SpikingAnomalyConfig, step: int, haar: np.ndarray) -> None:
        self.cfg, self.step_rows, self.haar = cfg, step, haar
        w = cfg.window
        self.layer = ResonanceLayer(2 * w, n_level=w, max_categories=cfg.max_categories)
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
        probe = ResonanceLayer(2 * cfg.window, n_level=cfg.window, max_categories=cfg.max_categories)
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
            if len(self.fire_matches) > cfg.fire_memory:
                del self.fire_matches[0]
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


def new_unit(cfg: SpikingAnomalyConfig, haar: np.ndarray) -> _Unit:
    """A fresh unit (one per input feature) with one channel per scale."""
    return _Unit({s: _Channel(cfg, s, haar) for s in cfg.steps})


def unit_step(u: _Unit, x: float, cfg: SpikingAnomalyConfig) -> float:
    """One row of one feature, in place; returns the unit's score."""
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


def peek_unit_step(u: _Unit, x: float, cfg: SpikingAnomalyConfig) -> float:
    """The score :func:`unit_step` would give, leaving ``u`` unchanged.

    Copy on write: only the channel read out at this row, and only when its block of rows
    completes (the only time it computes anything), is copied and stepped.
    """
    t = u.rows
    edge = 0.0
    if cfg.edge_margin is not None and t >= cfg.edge_warmup and u.high > u.low:
        margin = cfg.edge_margin * (u.high - u.low)
        if (x > u.high + margin or x < u.low - margin) and t - u.last_edge > cfg.edge_refractory:
            edge = 1.0
    low, high = min(u.low, x), max(u.high, x)
    read = cfg.scale_at(t)
    out = 0.0
    c = u.channels.get(read)
    if c is not None and len(c.block) + 1 >= c.step_rows:
        out = c.copy().push(x, low, high)
    score = max(out, edge)
    if score > 0.0 and t - u.last_fire <= cfg.output_refractory and score <= u.last_strength:
        return 0.0
    return score
