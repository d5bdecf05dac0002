r"""Online classifier: running-standardised features, a population-coded rate layer, softmax readout.

Each feature ``k`` is standardised with its own running mean and standard deviation (Welford,
from the points seen *before* the current one), clipped to ``[-4 z_max, 4 z_max]`` and encoded by
``n_neurons`` Gaussian receptive fields with centres on ``[-z_max, z_max]`` (the firing rates of
a sensory population) plus the clipped value itself (``z / z_max``). A softmax readout
``p = softmax(W phi)`` over the classes seen so far is trained by one normalised SGD step on the
cross-entropy per sample,

.. math::  W \leftarrow W - \eta\, \frac{(p - e_y)\,\phi^\top}{1 + \lVert\phi\rVert^2},

so the step size does not depend on the number of features. A new class gets a zero row (it
starts at the logit of the others); a new feature gets zero columns.
"""
from __future__ import annotations

import math
from typing import Any, Hashable

import numpy as np
from river.base import Classifier

from neuroplastic.encoding.stream import population_code
from neuroplastic.river._features import numeric_items, sort_key

__all__ = ["SpikingClassifier"]


class SpikingClassifier(Classifier):
    """Population-coded online softmax classifier, as a River ``Classifier`` (see the module docstring).

    Features are matched by name, so their order never matters. A feature seen for the first time
    starts from fresh running statistics; a known feature missing from ``x`` (or NaN) is treated
    as its running mean (it encodes as ``z = 0``); a feature never learned is ignored by
    ``predict_proba_one``. A non-numeric value raises ``TypeError`` naming the feature. Classes
    may appear at any time; ``predict_proba_one`` is ``{}`` before the first ``learn_one``.

    Parameters:
        n_neurons: Gaussian receptive fields per feature (``>= 2``).
        z_max: the receptive fields tile ``[-z_max, z_max]`` standard deviations.
        learning_rate: ``eta`` of the normalised SGD step.
        l2: weight decay per step (``0``: none).

    Example:
        >>> clf = SpikingClassifier()
        >>> for i in range(200):
        ...     v = float(i % 7)
        ...     clf.learn_one({"a": v, "b": -v}, "big" if v > 3 else "small")
        >>> clf.predict_one({"a": 6.0, "b": -6.0}), clf.predict_one({"a": 0.0, "b": 0.0})
        ('big', 'small')
    """

    def __init__(self, n_neurons: int = 8, z_max: float = 2.5, learning_rate: float = 0.5, l2: float = 0.0) -> None:
        if int(n_neurons) != n_neurons or n_neurons < 2:
            raise ValueError(f"n_neurons must be an integer >= 2, got {n_neurons!r}")
        for name, v in (("z_max", z_max), ("learning_rate", learning_rate)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (isinstance(l2, (int, float)) and 0 <= l2 < 1):
            raise ValueError(f"l2 must be in [0, 1), got {l2!r}")
        self.n_neurons = n_neurons
        self.z_max = z_max
        self.learning_rate = learning_rate
        self.l2 = l2
        self._index: dict[Hashable, int] = {}  # feature -> position
        self._count = np.zeros(0)  # running statistics per feature
        self._mean = np.zeros(0)
        self._m2 = np.zeros(0)
        self._classes: list[Any] = []
        self._w = np.zeros((0, 1))  # [classes, features * (n_neurons + 1) + 1]

    @property
    def _multiclass(self) -> bool:
        return True

    @property
    def classes(self) -> list[Any]:
        """The classes seen so far, in order of appearance."""
        return list(self._classes)

    # ---------------------------------------------------------------- encoding
    def _values(self, xs: dict[Hashable, float]) -> tuple[np.ndarray, np.ndarray]:
        """``(values, present)`` over the known features; missing ones hold the running mean."""
        vals = self._mean.copy()
        present = np.zeros(vals.size, dtype=bool)
        for k, v in xs.items():
            i = self._index.get(k)
            if i is not None:
                vals[i] = v
                present[i] = True
        return vals, present

    def _encode(self, vals: np.ndarray) -> np.ndarray:
        std = np.sqrt(self._m2 / np.maximum(self._count - 1, 1))
        ok = (self._count >= 2) & (std > 0)
        z = np.where(ok, (vals - self._mean) / np.where(ok, std, 1.0), 0.0)
        lim = 4.0 * self.z_max
        z = np.clip(z, -lim, lim)
        rates = population_code(z, int(self.n_neurons), -self.z_max, self.z_max).reshape(z.size, -1)
        return np.concatenate([np.concatenate([rates, (z / self.z_max)[:, None]], axis=1).ravel(), [1.0]])

    def _proba(self, phi: np.ndarray) -> np.ndarray:
        logits = self._w @ phi
        e = np.exp(logits - logits.max())
        return e / e.sum()

    # ---------------------------------------------------------------- River API
    def predict_proba_one(self, x: dict) -> dict[Any, float]:
        xs = numeric_items(x)
        if not self._classes:
            return {}
        p = self._proba(self._encode(self._values(xs)[0]))
        return {c: float(pi) for c, pi in zip(self._classes, p)}

    def learn_one(self, x: dict, y: Any) -> None:
        xs = numeric_items(x)
        if y is None:
            raise ValueError("y is None: learn_one needs a class label")
        new = sorted((k for k in xs if k not in self._index), key=sort_key)
        if new:
            self._add_features(new)
        if y not in self._classes:
            self._classes.append(y)
            self._w = np.concatenate([self._w, np.zeros((1, self._w.shape[1]))])
        vals, present = self._values(xs)
        phi = self._encode(vals)
        p = self._proba(phi)
        p[self._classes.index(y)] -= 1.0
        if self.l2:
            self._w *= 1.0 - self.l2
        self._w -= (self.learning_rate / (1.0 + float(phi @ phi))) * np.outer(p, phi)
        # running statistics (Welford) of the features present, after the prediction
        n = self._count[present] + 1
        d = vals[present] - self._mean[present]
        self._mean[present] += d / n
        self._m2[present] += d * (vals[present] - self._mean[present])
        self._count[present] = n

    def _add_features(self, new: list[Hashable]) -> None:
        for k in new:
            self._index[k] = len(self._index)
        m = len(new)
        self._count = np.concatenate([self._count, np.zeros(m)])
        self._mean = np.concatenate([self._mean, np.zeros(m)])
        self._m2 = np.concatenate([self._m2, np.zeros(m)])
        block = int(self.n_neurons) + 1
        w = self._w
        self._w = np.concatenate([w[:, :-1], np.zeros((w.shape[0], m * block)), w[:, -1:]], axis=1)

    @classmethod
    def _unit_test_params(cls):
        yield {"n_neurons": 4}
