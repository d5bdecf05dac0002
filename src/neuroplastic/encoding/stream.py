r"""Causal stream encoders: online normalisation, population and delta codes, time features.

(Moved here from ``neuroplastic.streaming.encoders``, which still re-exports every name.)

Everything here sees a stream one point at a time and uses only that point and earlier ones;
:meth:`StreamEncoder.encode` of point ``t`` normalises it with statistics of points ``< t``
*before* folding it in. The arithmetic is numpy on scalars and small arrays (a per-point torch
call costs more than the whole step), but the codes are those of :mod:`neuroplastic.encoding`:
:func:`population_code` equals :func:`neuroplastic.encoding.population_encode` and
:class:`DeltaCoder` equals :func:`neuroplastic.encoding.delta_step` (checked by tests).

* Running mean/variance (Welford; optional exponential forgetting with half-life ``h`` points,
  :math:`\alpha = 1 - 2^{-1/h}`):
  :math:`\mu_t = \mu_{t-1} + \alpha_t (x_t - \mu_{t-1})`,
  :math:`\sigma^2_t = (1 - \alpha_t)(\sigma^2_{t-1} + \alpha_t (x_t - \mu_{t-1})^2)`, with
  :math:`\alpha_t = \max(1/t, \alpha)`.
* Running quantiles over the last ``window`` points (exact, a sorted buffer).
* Population code: :math:`r_j = \exp(-(z - c_j)^2 / 2\sigma^2)`, centres ``c_j`` evenly spaced.
* Time features: :math:`(\sin, \cos)(2\pi \phi)` of the phase ``phi`` within the day and week.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from neuroplastic._core.checks import check_in_choices, check_positive

__all__ = [
    "RunningStats",
    "RunningQuantile",
    "DeltaCoder",
    "population_code",
    "time_features",
    "StreamEncoderConfig",
    "StreamEncoder",
]


class RunningStats:
    """Running mean and variance of a scalar stream (Welford, optionally forgetting).

    Args:
        half_life: points after which an old point weighs half; ``None`` keeps all history
            with equal weights.

    Example:
        >>> rs = RunningStats()
        >>> for x in (1.0, 2.0, 3.0, 4.0):
        ...     rs.update(x)
        >>> rs.mean, rs.var
        (2.5, 1.25)
    """

    def __init__(self, half_life: float | None = None) -> None:
        if half_life is not None:
            check_positive("half_life", half_life)
        self.half_life = half_life
        self._alpha = 0.0 if half_life is None else 1.0 - 2.0 ** (-1.0 / half_life)
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self.n = 0
        self.mean = 0.0
        self.var = 0.0

    def update(self, x: float) -> None:
        """Fold in one point."""
        self.n += 1
        a = max(1.0 / self.n, self._alpha)
        d = x - self.mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)

    @property
    def std(self) -> float:
        """Standard deviation (population)."""
        return math.sqrt(self.var)

    def standardise(self, x: float, floor: float = 1e-12) -> float:
        """``(x - mean) / max(std, floor)`` with the statistics so far (0 before any point)."""
        if self.n == 0:
            return 0.0
        return (x - self.mean) / max(self.std, floor)


class RunningQuantile:
    """Exact quantiles of the last ``window`` points (``None``: all points).

    Insertion is ``O(log n)`` search plus a memory move of the sorted buffer, cheap for windows
    of a few thousand points.

    Example:
        >>> rq = RunningQuantile(window=3)
        >>> for x in (5.0, 1.0, 3.0, 9.0):
        ...     rq.update(x)
        >>> rq.quantile(0.5)     # median of the last three (1, 3, 9)
        3.0
    """

    def __init__(self, window: int | None = None) -> None:
        if window is not None and int(window) < 1:
            raise ValueError(f"window must be >= 1 or None, got {window}")
        self.window = None if window is None else int(window)
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self._sorted: list[float] = []
        self._fifo: deque[float] = deque()

    def __len__(self) -> int:
        return len(self._sorted)

    def update(self, x: float) -> None:
        """Fold in one point (dropping the oldest beyond the window)."""
        bisect.insort(self._sorted, x)
        if self.window is not None:
            self._fifo.append(x)
            if len(self._fifo) > self.window:
                old = self._fifo.popleft()
                del self._sorted[bisect.bisect_left(self._sorted, old)]

    def quantile(self, q: float) -> float:
        """Lower empirical ``q``-quantile (element ``floor(q n)``, clipped); NaN when empty."""
        n = len(self._sorted)
        if n == 0:
            return math.nan
        return self._sorted[min(n - 1, max(0, int(q * n)))]

    @property
    def median(self) -> float:
        """Upper median (element ``n // 2``)."""
        return self.quantile(0.5)


class DeltaCoder:
    """Send-on-delta spikes for a scalar stream, numpy twin of :func:`~neuroplastic.encoding.delta_step`.

    With :math:`k = \\operatorname{trunc}((x_t - ref)/\\theta)`, emits ON when ``k > 0``, OFF
    when ``k < 0`` and moves ``ref`` by ``sign(k) theta`` (one threshold per event, so the events
    alone rebuild ``ref``); the first point only sets ``ref``.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = check_positive("threshold", threshold)
        self.ref: float | None = None

    def reset(self) -> None:
        """Forget the reference level."""
        self.ref = None

    def step(self, x: float) -> tuple[float, float]:
        """One point -> ``(on, off)`` spikes (0.0 or 1.0)."""
        if self.ref is None:
            self.ref = x
        k = math.trunc((x - self.ref) / self.threshold)
        if k:
            self.ref += math.copysign(self.threshold, k)
        return float(k > 0), float(k < 0)


def population_code(z: float | np.ndarray, n: int, low: float, high: float, sigma: float | None = None) -> np.ndarray:
    """Gaussian receptive-field responses, as :func:`neuroplastic.encoding.population_encode`.

    Args:
        z: scalar or array of values.
        n: neurons per value (``>= 2``), centres evenly spaced on ``[low, high]``.
        low, high: range of the centres.
        sigma: receptive-field width; default the centre spacing.

    Returns:
        ``[..., n]`` responses in ``(0, 1]`` (flattened feature-major for arrays).
    """
    if n < 2:
        raise ValueError("n must be >= 2 for population coding")
    if not high > low:
        raise ValueError(f"high ({high}) must exceed low ({low})")
    s = (high - low) / (n - 1) if sigma is None else sigma
    check_positive("sigma", s)
    centres = np.linspace(low, high, n)
    zz = np.asarray(z, dtype=np.float64)
    r = np.exp(-((zz[..., None] - centres) ** 2) / (2.0 * s * s))
    return r.reshape(*zz.shape[:-1], -1) if zz.ndim else r


_DAY = 86400.0
_WEEK = 7 * _DAY


def time_features(timestamp: np.datetime64 | float | None) -> np.ndarray:
    """``[sin, cos]`` of the phase in the day, then in the week (Monday 00:00 is phase 0).

    Args:
        timestamp: ``numpy.datetime64``, seconds since the Unix epoch, or ``None`` (zeros).
    """
    if timestamp is None:
        return np.zeros(4)
    if isinstance(timestamp, np.datetime64):
        sec = float(timestamp.astype("datetime64[ms]").astype(np.int64)) / 1000.0
    else:
        sec = float(timestamp)
    day = 2 * math.pi * (sec % _DAY) / _DAY
    week = 2 * math.pi * ((sec + 3 * _DAY) % _WEEK) / _WEEK  # 1970-01-01 was a Thursday
    return np.array([math.sin(day), math.cos(day), math.sin(week), math.cos(week)])


@dataclass(frozen=True)
class StreamEncoderConfig:
    """Settings of :class:`StreamEncoder`.

    Attributes:
        norm: ``"standard"`` ((x - mean) / std, running) or ``"robust"`` ((x - median) / IQR
            over the last ``window`` points).
        half_life: forgetting of the standard normaliser (points), ``None`` for none.
        window: history of the robust normaliser (points).
        n_neurons: population-code neurons; centres span ``[-z_max, z_max]``.
        z_max: range of the population code in normalised units.
        delta: send-on-delta threshold in normalised units (0 disables the ON/OFF pair).
        time: add day/week phase features when a timestamp is given.
    """

    norm: str = "standard"
    half_life: float | None = None
    window: int = 1000
    n_neurons: int = 16
    z_max: float = 3.0
    delta: float = 0.5
    time: bool = True

    def __post_init__(self) -> None:
        check_in_choices("norm", self.norm, ("standard", "robust"))
        if self.half_life is not None:
            check_positive("half_life", self.half_life)
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        if self.n_neurons < 2:
            raise ValueError(f"n_neurons must be >= 2, got {self.n_neurons}")
        check_positive("z_max", self.z_max)
        check_positive("delta", self.delta, allow_zero=True)


class StreamEncoder:
    """Causal encoder of a scalar stream into a spike/rate feature vector.

    ``encode(x, timestamp)`` returns ``[population code of z (n_neurons), ON, OFF, time (4)]``
    where ``z`` is ``x`` normalised with the statistics of the *previous* points only; then the
    point is folded into the statistics. ``normalise``/``denormalise`` convert with the current
    statistics (used by forecasters to map predictions back).

    Example:
        >>> enc = StreamEncoder(StreamEncoderConfig(time=False, delta=0.0))
        >>> enc.encode(10.0).shape                    # 16 population neurons
        (16,)
    """

    def __init__(self, config: StreamEncoderConfig | None = None) -> None:
        self.config = config or StreamEncoderConfig()
        c = self.config
        self.stats = RunningStats(c.half_life)
        self.quant = RunningQuantile(c.window)
        self.delta = DeltaCoder(c.delta) if c.delta > 0 else None
        self.n_features = c.n_neurons + (2 if self.delta else 0) + (4 if c.time else 0)

    def reset(self) -> None:
        """Forget all statistics."""
        self.stats.reset()
        self.quant.reset()
        if self.delta:
            self.delta.reset()

    def _centre_scale(self) -> tuple[float, float]:
        if self.config.norm == "standard":
            if self.stats.n == 0:
                return 0.0, 1.0
            return self.stats.mean, max(self.stats.std, 1e-9 * (1.0 + abs(self.stats.mean)))
        if len(self.quant) == 0:
            return 0.0, 1.0
        iqr = self.quant.quantile(0.75) - self.quant.quantile(0.25)
        med = self.quant.median
        return med, max(iqr / 1.349, 1e-9 * (1.0 + abs(med)))

    def normalise(self, x: float) -> float:
        """``x`` in the current normalised units (past points only)."""
        c, s = self._centre_scale()
        return (x - c) / s

    def denormalise(self, z: float) -> float:
        """Inverse of :meth:`normalise` with the current statistics."""
        c, s = self._centre_scale()
        return c + z * s

    def observe(self, x: float) -> None:
        """Fold ``x`` into the statistics."""
        self.stats.update(x)
        if self.config.norm == "robust":
            self.quant.update(x)

    def encode(self, x: float, timestamp: np.datetime64 | float | None = None, *, learn: bool = True) -> np.ndarray:
        """Feature vector of ``x`` (normalised with earlier points), then learn from ``x``."""
        c = self.config
        z = min(max(self.normalise(x), -4.0 * c.z_max), 4.0 * c.z_max)
        parts = [population_code(z, c.n_neurons, -c.z_max, c.z_max)]
        if self.delta is not None:
            if learn:
                parts.append(np.array(self.delta.step(z)))
            else:
                ref = self.delta.ref if self.delta.ref is not None else z
                k = math.trunc((z - ref) / self.delta.threshold)
                parts.append(np.array([float(k > 0), float(k < 0)]))
        if c.time:
            parts.append(time_features(timestamp))
        if learn:
            self.observe(x)
        return np.concatenate(parts)
