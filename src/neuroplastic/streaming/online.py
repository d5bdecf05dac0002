"""River-style online learning: ``learn_one`` / ``predict_one`` / ``score_one`` / ``learn_many``.

An :class:`OnlineModel` is one long simulation: its state persists across calls until
:meth:`OnlineModel.reset`. Inputs follow River's conventions: ``x`` is a ``{feature: value}``
dict, or (for convenience) a float or a 1-D array. :func:`evaluate_prequential` runs the usual
test-then-train loop: each point is first predicted or scored, then learned.

Example:
    >>> from neuroplastic.streaming import SpikingForecaster
    >>> stream = [({"v": float(i % 5)}, float((i + 1) % 5)) for i in range(50)]
    >>> mae = evaluate_prequential(SpikingForecaster(), stream, MAE())
    >>> mae.n
    50
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["OnlineModel", "MAE", "RMSE", "as_vector", "evaluate_prequential"]


def as_vector(x: Any, keys: Sequence[str] | None = None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Turn a River-style input into a float64 vector.

    Args:
        x: ``{feature: value}`` dict, a number, or a 1-D array-like.
        keys: feature order fixed by the first dict seen (``None``: take the dict's order).

    Returns:
        ``(vector, keys)``; ``keys`` is ``None`` for non-dict inputs.

    Raises:
        ValueError: missing/extra dict keys, non-finite or non-numeric values, wrong shape.
    """
    if isinstance(x, Mapping):
        if keys is None:
            keys = tuple(x.keys())
        elif set(x.keys()) != set(keys):
            missing = [k for k in keys if k not in x]
            extra = [k for k in x if k not in keys]
            raise ValueError(
                f"input features changed: missing {missing}, unexpected {extra}; pass the same "
                "features at every step (or call reset() to start a new stream)"
            )
        try:
            v = np.array([float(x[k]) for k in keys], dtype=np.float64)
        except (TypeError, ValueError):
            bad = {k: x[k] for k in keys if not _is_number(x[k])}
            raise ValueError(f"non-numeric feature values {bad}: pass numbers") from None
    else:
        try:
            v = np.atleast_1d(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"cannot read {x!r} as numbers: pass a float, an array or a dict") from None
        if v.ndim != 1:
            raise ValueError(f"x has shape {v.shape}: pass one point (a number, 1-D array or dict)")
        keys = None
    if not np.isfinite(v).all():
        raise ValueError(f"x holds NaN or infinite values {v.tolist()}: impute them before learning")
    return v, keys


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


class OnlineModel:
    """Base of the streaming models: River methods over one persistent state.

    Subclasses implement :meth:`_step` ``(vector, y, learn) -> (score, prediction)`` on
    ``self._state`` and :meth:`_fresh_state`. ``score_one`` and ``predict_one`` never change the
    model: they run the step on the state and put the old state back, keeping the result so that
    an immediately following ``learn_one`` of the same ``x`` costs nothing more.
    """

    def __init__(self) -> None:
        self._keys: tuple[str, ...] | None = None
        self._state: Any = self._fresh_state(None)
        self._pending: tuple[Any, Any, Any] | None = None

    # -- to implement
    def _fresh_state(self, n_features: int | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, v: np.ndarray, y: float | None, learn: bool) -> tuple[float, float]:  # pragma: no cover
        raise NotImplementedError

    # -- checkpoints of a running stream (see neuroplastic.streaming._state_io)
    def _has_stream_state(self) -> bool:
        """Whether the model has learned anything since it was built or reset."""
        return self._keys is not None

    def _stream_state(self) -> dict[str, Any] | None:
        """The learned state as JSON-able data (None for a fresh model)."""
        from neuroplastic.streaming._state_io import encode

        if not self._has_stream_state():
            return None
        return {"keys": None if self._keys is None else list(self._keys), "state": encode(self._state)}

    def _restore_stream_state(self, doc: dict[str, Any] | None) -> None:
        """Continue the stream saved by :meth:`_stream_state` (a pending peek is dropped)."""
        from neuroplastic.streaming._state_io import decode

        if doc is None:
            return
        self._keys = None if doc["keys"] is None else tuple(doc["keys"])
        self._state = decode(doc["state"])
        self._pending = None

    # -- River API
    def reset(self) -> OnlineModel:
        """Forget everything learned: the next point starts a new stream."""
        self._keys = None
        self._state = self._fresh_state(None)
        self._pending = None
        return self

    def _vector(self, x: Any) -> np.ndarray:
        v, keys = as_vector(x, self._keys)
        if self._keys is None and keys is not None:
            self._keys = keys
        return v

    def _peek(self, x: Any) -> tuple[float, float]:
        v = self._vector(x)
        saved = copy.deepcopy(self._state)
        out = self._step(v, None, True)
        self._pending = (v, self._state, out)
        self._state = saved
        return out

    def learn_one(self, x: Any, y: float | None = None) -> OnlineModel:
        """Learn from one point (and its target ``y`` for supervised models)."""
        v = self._vector(x)
        if self._pending is not None and y is None and np.array_equal(self._pending[0], v, equal_nan=True):
            self._state = self._pending[1]
        else:
            self._step(v, y, True)
        self._pending = None
        return self

    def score_one(self, x: Any) -> float:
        """Anomaly score in ``[0, 1]`` of ``x`` given the past; the model is not changed."""
        return float(self._peek(x)[0])

    def predict_one(self, x: Any) -> float:
        """Prediction for ``x`` given the past; the model is not changed."""
        return float(self._peek(x)[1])

    def process_one(self, x: Any, y: float | None = None) -> float:
        """Score ``x`` then learn from it, in one pass (a prequential step); returns the score."""
        self._pending = None
        return float(self._step(self._vector(x), y, True)[0])

    def learn_many(self, X: Any, y: Iterable[float] | None = None) -> OnlineModel:
        """Learn from many points in order (rows of an array, a list of dicts, or a 1-D array)."""
        ys = [None] * len(X) if y is None else list(y)
        if len(ys) != len(X):
            raise ValueError(f"{len(X)} inputs but {len(ys)} targets: pass one target per row")
        for xi, yi in zip(_rows(X), ys):
            self.learn_one(xi, yi)
        return self

    def score_many(self, X: Any) -> np.ndarray:
        """Score then learn each point in order; returns one score per row."""
        return np.array([self.process_one(xi) for xi in _rows(X)], dtype=np.float64)


def _rows(X: Any) -> Iterable[Any]:
    if isinstance(X, np.ndarray):
        return X if X.ndim > 1 else X.tolist()
    if hasattr(X, "tolist") and not isinstance(X, (list, tuple)):
        return X.tolist()
    return X


class MAE:
    """Running mean absolute error (River's metric protocol: ``update``, ``get``)."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0

    def update(self, y_true: float, y_pred: float) -> MAE:
        """Add one pair."""
        self.n += 1
        self.total += abs(float(y_true) - float(y_pred))
        return self

    def get(self) -> float:
        """Current value (NaN before any pair)."""
        return self.total / self.n if self.n else math.nan

    def __repr__(self) -> str:
        return f"MAE: {self.get():.6g}"


class RMSE(MAE):
    """Running root mean squared error."""

    def update(self, y_true: float, y_pred: float) -> RMSE:
        """Add one pair."""
        self.n += 1
        self.total += (float(y_true) - float(y_pred)) ** 2
        return self

    def get(self) -> float:
        """Current value (NaN before any pair)."""
        return math.sqrt(self.total / self.n) if self.n else math.nan

    def __repr__(self) -> str:
        return f"RMSE: {self.get():.6g}"


def evaluate_prequential(
    model: OnlineModel,
    stream: Iterable[Any],
    metric: Any = None,
    *,
    mode: str = "predict",
) -> Any:
    """Test-then-train over a stream: each point is predicted (or scored) before it is learned.

    Args:
        model: an :class:`OnlineModel` (or any object with River's methods).
        stream: ``(x, y)`` pairs, or bare ``x`` values (then ``y`` is ``None``).
        metric: River-style metric (``update(y_true, y_pred)``) or a callable
            ``metric(y_true, y_pred)`` called per point; ``None`` collects the outputs.
        mode: ``"predict"`` (uses ``predict_one``; points without ``y`` are skipped by the
            metric) or ``"score"`` (uses ``score_one``; the metric receives ``(y, score)``).

    Returns:
        The metric, or with ``metric=None`` the list of predictions/scores (one per point).
    """
    if mode not in ("predict", "score"):
        raise ValueError(f"unknown mode {mode!r}: choose 'predict' or 'score'")
    outputs: list[float] = []
    update: Callable[[Any, float], Any] | None = None
    if metric is not None:
        update = metric.update if hasattr(metric, "update") else metric
    for item in stream:
        if isinstance(item, tuple) and len(item) == 2:
            x, y = item
        else:
            x, y = item, None
        out = model.predict_one(x) if mode == "predict" else model.score_one(x)
        if update is not None and (y is not None or mode == "score"):
            update(y, out)
        outputs.append(out)
        model.learn_one(x, y)
    return outputs if metric is None else metric
