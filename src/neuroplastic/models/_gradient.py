r"""The fit / predict logic shared by the gradient-trained estimators (:class:`.SNNClassifier`,
:class:`.MLPClassifier`).

What ``fit`` does:

1. validates ``X`` (2-D, finite, numeric) and ``y`` (class labels of any type);
2. encodes the labels: ``classes_`` holds the sorted unique labels, the network sees
   indices ``0..C-1``;
3. standardises each feature with the training statistics,
   :math:`z = (x - \mu) / \sigma` (``mean_``, ``scale_``; a constant feature is only centred),
   and applies the same transform in ``predict`` (so raw features are fine);
4. builds the network from :mod:`neuroplastic.training.architectures` with seed
   ``random_state`` and trains it with the architecture's tuned settings
   (:class:`~neuroplastic.training.Model` is kept as ``model_``).

``partial_fit(X, y, classes=None)`` trains one epoch on the batch and keeps the network; the first
call fixes ``classes_`` (pass ``classes=`` if later batches may hold other labels) and the
standardisation statistics.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from neuroplastic.models._base import Estimator
from neuroplastic.training.architectures import ARCHITECTURES, build_model, fit_callbacks

__all__ = ["GradientClassifier"]


class GradientClassifier(Estimator):
    """Shared fit/predict logic; subclasses define :meth:`_architecture`."""

    def _architecture(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def _check_settings(self) -> None:
        for name in ("max_epochs", "batch_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None (tuned default), got {v!r}")
        if self.learning_rate is not None and not (float(self.learning_rate) > 0):
            raise ValueError(f"learning_rate must be > 0 or None (tuned default), got {self.learning_rate!r}")
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.size == 0 or any(not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h < 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, e.g. (256,), got {self.hidden_layer_sizes!r}")

    def _compile_options(self, comp: dict[str, Any]) -> dict[str, Any]:
        """Estimator settings that change the architecture's compile arguments."""
        return comp

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def _init_model(self, X: np.ndarray, classes: np.ndarray, seed: int) -> None:
        self.classes_ = classes
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.mean_ = mean
        self.scale_ = np.where(std > 0, std, 1.0)
        name, cfg = self._architecture()
        self.model_ = build_model(name, n_in=X.shape[1], n_out=len(classes), seed=seed, device=self.device, **cfg)
        comp = ARCHITECTURES[name].compile(self.model_.architecture["config"])
        if self.learning_rate is not None:
            comp["lr"] = float(self.learning_rate)
        self.model_.compile(**self._compile_options(comp))
        self.history_: dict[str, list[float]] = {}
        self.n_epochs_ = 0

    def _train(self, X: np.ndarray, y: np.ndarray, epochs: int, seed: int, schedule: bool = True) -> None:
        fit = self.model_.fit_defaults
        bs = self.batch_size if self.batch_size is not None else fit.get("batch_size", 32)
        callbacks = fit_callbacks(self.model_, epochs) if schedule else []
        groups = self.model_.optimizer.param_groups
        lr0 = [g["lr"] for g in groups]
        hist = self.model_.fit(self._standardise(X), self._encode(y), epochs=epochs, batch_size=int(bs),
                               verbose=self.verbose, seed=seed, shuffle=True, callbacks=callbacks)
        for g, lr in zip(groups, lr0):  # a schedule ends near 0: later partial_fit calls use the set rate
            g["lr"] = lr
        for k, v in hist.history.items():
            self.history_.setdefault(k, []).extend(v)
        self.n_epochs_ += len(hist.epoch)

    def fit(self, X: Any, y: Any) -> "GradientClassifier":
        """Train a new network on ``X`` ``[n_samples, n_features]`` and labels ``y``. Returns self."""
        self._check_settings()
        X, y = self._validate(X, y, reset=True)
        seed = self._draw_seed()
        self._init_model(X, self._labels(y), seed)
        epochs = self.max_epochs if self.max_epochs is not None else self.model_.fit_defaults["epochs"]
        self._train(X, y, int(epochs), seed)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> "GradientClassifier":
        """Train one epoch on this batch, keeping the network (built on the first call). Returns self."""
        first = not hasattr(self, "model_")
        if first:
            self._check_settings()
        X, y = self._validate(X, y, reset=first)
        if first:
            self._init_model(X, self._labels(y, classes), self._draw_seed())
        else:
            self._check_same_classes(classes)
        self._train(X, y, 1, self._draw_seed() + self.n_epochs_, schedule=False)
        return self

    def _scores_input(self, X: Any) -> np.ndarray:
        self._check_fitted("model_")
        return self._standardise(self._validate(X, reset=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n_samples, n_classes]`` in the order of ``classes_``."""
        Z = self._scores_input(X)
        return self.model_.predict_proba(Z, batch_size=256).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (values of ``classes_``)."""
        Z = self._scores_input(X)
        scores = self.model_.decision_function(Z, batch_size=256)
        return self.classes_[scores.argmax(axis=1)]
