"""River forecaster over :class:`neuroplastic.streaming.SpikingForecaster`."""
from __future__ import annotations

import copy
import math
from typing import Any, Hashable

from river.time_series.base import Forecaster

from neuroplastic.river._features import numeric_items
from neuroplastic.streaming import SpikingForecaster as _StreamForecaster

__all__ = ["SpikingForecaster"]


class SpikingForecaster(Forecaster):
    """Population-coded history with a plastic (normalised LMS) readout, as a River ``Forecaster``.

    ``learn_one(y, x)`` folds in the next observation ``y`` (the readout learns from the error its
    last forecast made on it). ``forecast(horizon)`` returns the one-step forecast and then feeds
    each forecast back as the next observation, on a copy of the state: the model does not learn
    from its own forecasts. Before any ``learn_one`` the forecast is ``0.0`` at every step.

    Exogenous features ``x`` are checked (a non-numeric value raises ``TypeError`` naming the
    feature) and otherwise not used, except ``x[timestamp_key]`` (a ``datetime``/``datetime64`` or
    nanoseconds) which drives the day/week receptive fields; in ``forecast``, ``xs[i]`` gives the
    time of step ``i``. A missing timestamp switches those fields off for that step.

    Parameters:
        lags: past values seen by the readout.
        n_neurons: Gaussian receptive fields per lag.
        learning_rate: rate of the normalised LMS rule.
        time_neurons: receptive fields tiling the day (0: none).
        robust: normalise by the running median/IQR instead of the mean/std.
        window: history of the robust normaliser (points).
        timestamp_key: the key of ``x`` holding the observation's time (``None``: no timestamps).

    Example:
        >>> import math
        >>> f = SpikingForecaster(time_neurons=0)
        >>> for i in range(2000):
        ...     f.learn_one(math.sin(2 * math.pi * i / 20))
        >>> [round(v, 1) for v in f.forecast(horizon=5)]  # sin(2 pi t / 20) for t = 2000..2004
        [-0.0, 0.3, 0.6, 0.8, 1.0]
    """

    def __init__(self, lags: int = 6, n_neurons: int = 10, learning_rate: float = 0.05, time_neurons: int = 24,
                 robust: bool = True, window: int = 1000, timestamp_key: Hashable | None = None) -> None:
        self.lags = lags
        self.n_neurons = n_neurons
        self.learning_rate = learning_rate
        self.time_neurons = time_neurons
        self.robust = robust
        self.window = window
        self.timestamp_key = timestamp_key
        self._model = _StreamForecaster(lags=lags, n_neurons=n_neurons, learning_rate=learning_rate,
                                        time_neurons=time_neurons, robust=robust, window=window)
        self._next: float | None = None
        self.n_seen = 0

    def _stamp(self, x: dict | None) -> Any:
        if x is None:
            return None
        numeric_items({k: v for k, v in x.items() if k != self.timestamp_key})  # refuses non-numeric features
        if self.timestamp_key is None:
            return None
        return x.get(self.timestamp_key)

    def learn_one(self, y: float, x: dict | None = None) -> None:
        try:
            value = float(y)
        except (TypeError, ValueError):
            raise TypeError(f"y must be a number, got {y!r}: the forecaster models one numeric series") from None
        if not math.isfinite(value):
            raise ValueError(f"y is {y!r}: impute missing observations before learn_one")
        self._next = self._model.forecast_one(value, self._stamp(x))
        self.n_seen += 1

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        horizon = int(horizon)
        if xs is not None and len(xs) != horizon:
            raise ValueError(f"{len(xs)} xs for horizon {horizon}: pass one dict per step, or none")
        stamps = [self._stamp(x) for x in xs] if xs is not None else [None] * horizon
        if self._next is None:
            return [0.0] * horizon
        preds = [float(self._next)]
        if horizon > 1:
            model = copy.deepcopy(self._model)  # the real model never learns its own forecasts
            for i in range(horizon - 1):
                preds.append(float(model.forecast_one(preds[-1], stamps[i])))
        return preds

    @classmethod
    def _unit_test_params(cls):
        yield {"lags": 3, "n_neurons": 4, "time_neurons": 0, "window": 50}
