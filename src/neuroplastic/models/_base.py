r"""The one estimator base of :mod:`neuroplastic.models`: :class:`Estimator`.

Every classifier of the library (``SNNClassifier``, ``MLPClassifier``, ``HebbianNetwork``,
``DiehlCook``, ``HybridClassifier``) subclasses :class:`Estimator`, which supplies the
scikit-learn plumbing they share:

* validation of ``X`` (2-D, finite, numeric; ``n_features_in_`` set by the first fit) and of
  ``y`` (class labels of any type), in the dtype order the class prefers (``_dtypes``);
* labels: ``classes_`` holds the sorted unique labels (at least two), the networks see indices
  ``0..C-1`` (:meth:`Estimator._encode` names labels it has not seen), ``partial_fit(classes=)``
  is checked against the classes of the first call;
* the seed of a fit, drawn from ``random_state`` (an int, a ``RandomState`` or None);
* ``NotFittedError`` (scikit-learn's) from every method that needs a fitted estimator;
* tags: ``non_deterministic`` when ``random_state`` is None; a model whose ``transform`` gives its
  learned representation subclasses :class:`TransformingEstimator` (scikit-learn's
  ``TransformerMixin``: ``fit_transform`` and transformer tags, no promise about the output dtype);
* ``save(path)`` / :func:`neuroplastic.load`: safetensors + JSON checkpoints, never pickle
  (:class:`~neuroplastic.models._checkpoint.EstimatorCheckpoint`).

Inputs with a limited domain are rescaled with training statistics, so any real input works:
:class:`UnitRange` maps each feature into [0, 1] by the training minimum and maximum, and leaves
data that already lie in [0, 1] unchanged.

Example:
    >>> import numpy as np
    >>> r = UnitRange.fit(np.array([[0.0, -2.0], [0.5, 6.0]]))
    >>> r.apply(np.array([[0.25, 2.0], [2.0, -10.0]])).tolist()   # feature 0 is left as it is
    [[0.25, 0.5], [1.0, 0.0]]
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from neuroplastic.models._checkpoint import EstimatorCheckpoint

__all__ = ["Estimator", "TransformingEstimator", "UnitRange", "looks_like_image"]


def looks_like_image(n_features: int) -> bool:
    """A flat input of a square number (>= 64) of features is taken for an image: scaled as a whole
    (one mean and spread); any other flat input is a table: each feature is standardised.

    Example:
        >>> looks_like_image(64), looks_like_image(784), looks_like_image(30)
        (True, True, False)
    """
    return math.isqrt(n_features) ** 2 == n_features >= 64


class UnitRange(NamedTuple):
    r"""Per-feature affine map into [0, 1] from training statistics:
    :math:`z = \mathrm{clip}((x - lo) / (hi - lo), 0, 1)` with :math:`lo = \min(0, \min x)` and
    :math:`hi = \max(1, \max x)` over the training data, so data already in [0, 1] (pixels) pass
    unchanged and anything else is squeezed into [0, 1]; later inputs beyond the training range
    are clipped."""

    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "UnitRange":
        if len(X) == 0:
            raise ValueError("cannot fit the input range on 0 samples")
        lo = np.minimum(X.min(0), 0.0).astype(np.float64)
        hi = np.maximum(X.max(0), 1.0).astype(np.float64)
        return cls(lo, hi)

    def identity(self) -> bool:
        return bool((self.lo == 0).all() and (self.hi == 1).all())

    def apply(self, X: np.ndarray) -> np.ndarray:
        if self.identity():
            return X
        return np.clip((X - self.lo) / (self.hi - self.lo), 0.0, 1.0).astype(X.dtype, copy=False)


class Estimator(EstimatorCheckpoint, ClassifierMixin, BaseEstimator):
    """The base of the library's classifiers (see the module): validation, labels, seeds, tags,
    ``NotFittedError`` and checkpoints.

    Subclasses store their settings in ``__init__`` (nothing else), and implement ``fit``,
    ``predict`` and ``predict_proba`` with the helpers below.
    """

    #: accepted dtypes of ``X``, the first is used for anything else
    _dtypes: Sequence[type] = (np.float64, np.float32)

    # ---------------------------------------------------------------- validation
    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        """``X`` (and ``y``, checked to be class labels, when given: None is an error naming the fix)
        validated; ``reset`` sets ``n_features_in_``."""
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, dtype=list(self._dtypes))
        X, y = validate_data(self, X, y, reset=reset, dtype=list(self._dtypes))
        check_classification_targets(y)
        return X, y

    def _check_fitted(self, attribute: str = "classes_") -> None:
        """Raise scikit-learn's ``NotFittedError`` (naming ``fit``) unless ``attribute`` is set."""
        check_is_fitted(self, attribute)

    # ---------------------------------------------------------------- labels
    def _labels(self, y: np.ndarray, classes: Sequence[Any] | None = None) -> np.ndarray:
        """Sorted unique labels of ``y`` (or of ``classes``, for a first ``partial_fit``); at least 2."""
        labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if len(labels) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes to train, but y holds only one class "
                             f"({labels.tolist()}): add samples of another class")
        return labels

    def _check_same_classes(self, classes: Sequence[Any] | None) -> None:
        """A later ``partial_fit(classes=...)`` must repeat the classes of the first call."""
        if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from classes_ {self.classes_.tolist()} fixed by the "
                             "first partial_fit call: pass the same classes or call fit to start over")

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Class indices ``0..C-1`` of the labels ``y`` (an error names labels not in ``classes_``)."""
        idx = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if bad.any():
            raise ValueError(f"y holds labels {sorted(set(np.asarray(y)[bad].tolist()), key=str)[:5]} that are not in "
                             f"classes_ {self.classes_.tolist()[:10]}: pass classes= with every label to the first "
                             "partial_fit call")
        return idx.astype(np.int64)

    # ---------------------------------------------------------------- randomness
    def _draw_seed(self) -> int:
        """The seed of a fit: ``random_state``'s first draw in [0, 2**31 - 1)."""
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = getattr(self, "random_state", None) is None
        return tags


class TransformingEstimator(TransformerMixin, Estimator):
    """An :class:`Estimator` whose ``transform`` gives its learned representation (spike counts,
    features): scikit-learn's ``fit_transform`` and transformer tags, with no promise about the
    output dtype (the network's own)."""

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
