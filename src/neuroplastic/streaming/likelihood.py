r"""Causal anomaly likelihood: how unusual is the recent raw score for this stream?

Our implementation of the post-processing HTM uses on NAB (Ahmad et al. 2017, "Unsupervised
real-time anomaly detection for streaming data"): a raw anomaly score ``r_t`` is averaged over the
last ``short`` points, :math:`\bar r_t`, and compared with a Gaussian fitted to the averages of
the last ``long`` points (re-fitted every ``refit`` points, after ``learning`` points):

.. math::

    L_t = 1 - Q\Big(\frac{\bar r_t - \mu}{\sigma}\Big), \qquad
    Q(z) = \tfrac12 \operatorname{erfc}(z / \sqrt 2),

with :math:`\mu \ge 0.03` and :math:`\sigma^2 \ge 0.0003` (floors that stop a silent stream
from turning the first blip into certainty). Values below the mean are reflected, so only the
upper tail counts as unusual. Reported on a log scale in ``[0, 1]``,
:math:`s_t = \ln(1 + 10^{-10} - L_t) / \ln(10^{-10})`, which maps ``L = 0.99999`` (five nines)
to 0.5. Only points ``< t`` enter the fitted Gaussian of point ``t``.

Example:
    >>> al = AnomalyLikelihood(short=1, long=200, learning=50, refit=10)
    >>> scores = [al.update(0.1 + 0.01 * (i % 3)) for i in range(300)]
    >>> round(scores[-1], 3) < 0.5 < al.update(1.0)
    True
"""
from __future__ import annotations

import math
from collections import deque

__all__ = ["AnomalyLikelihood"]

_LOG_EPS = math.log(1e-10)


class AnomalyLikelihood:
    """Streaming Gaussian tail likelihood of a moving-average raw score (see the module doc).

    Args:
        short: points in the moving average of the raw score.
        long: points of moving averages the Gaussian is fitted to.
        learning: points before any likelihood is reported (score 0 until then).
        refit: re-fit the Gaussian every ``refit`` points.
        min_mean: floor of the fitted mean.
        min_var: floor of the fitted variance.
    """

    def __init__(self, short: int = 10, long: int = 8640, learning: int = 300, refit: int = 100,
                 min_mean: float = 0.03, min_var: float = 0.0003) -> None:
        for name, v in (("short", short), ("long", long), ("learning", learning), ("refit", refit)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.short, self.long, self.learning, self.refit = int(short), int(long), int(learning), int(refit)
        self.min_mean, self.min_var = float(min_mean), float(min_var)
        self.reset()

    def reset(self) -> None:
        """Forget the history."""
        self._recent: deque[float] = deque(maxlen=self.short)
        self._averages: deque[float] = deque(maxlen=self.long)
        self._n = 0
        self._mean = 0.5
        self._std = 1e3

    def likelihood(self, average: float) -> float:
        """``L`` of a moving average under the current Gaussian (upper tail only)."""
        x = average if average >= self._mean else 2 * self._mean - average
        z = (x - self._mean) / self._std
        return 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))

    def update(self, raw: float) -> float:
        """Fold in one raw score; returns the log-likelihood score of this point in ``[0, 1]``."""
        if not math.isfinite(raw):
            raise ValueError(f"raw score {raw} is not finite: pass a finite number")
        self._recent.append(float(raw))
        avg = sum(self._recent) / len(self._recent)
        score = 0.0
        if self._n >= self.learning:
            if (self._n - self.learning) % self.refit == 0:
                self._fit()
            lik = self.likelihood(avg)
            score = min(1.0, max(0.0, math.log(1.0 + 1e-10 - lik) / _LOG_EPS))
        self._averages.append(avg)
        self._n += 1
        return score

    def _fit(self) -> None:
        n = len(self._averages)
        mean = sum(self._averages) / n
        var = sum((a - mean) ** 2 for a in self._averages) / n
        self._mean = max(mean, self.min_mean)
        self._std = math.sqrt(max(var, self.min_var))
