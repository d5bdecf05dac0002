r"""scikit-learn estimators: :class:`SNNClassifier` (spiking) and :class:`MLPClassifier` (baselines).

Both follow scikit-learn's contract: ``__init__`` only stores settings, ``fit(X, y)`` returns
``self``, learned attributes end in ``_``, and they pass ``sklearn.utils.estimator_checks``.

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

Example:
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(architecture="wide", max_epochs=30, random_state=0, device="cpu").fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from neuroplastic.io import register_serializable
from neuroplastic.io.estimator import EstimatorCheckpoint
from neuroplastic.training.architectures import ARCHITECTURES, build_model, fit_callbacks

__all__ = ["MLPClassifier", "SNNClassifier"]

LEARNING_MODES = ("gradient", "plasticity", "hybrid")


class _NeuroplasticClassifier(EstimatorCheckpoint, ClassifierMixin, BaseEstimator):
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

    def _compile_options(self, comp: dict[str, Any]) -> dict[str, Any]:
        """Estimator settings that change the architecture's compile arguments."""
        return comp

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def _init_model(self, X: np.ndarray, classes: np.ndarray, seed: int) -> None:
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes to train, but y holds only one "
                             f"class ({classes[0]!r}): add samples of another class")
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

    def _encode(self, y: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if bad.any():
            raise ValueError(f"y holds labels {sorted(set(np.asarray(y)[bad].tolist()), key=str)[:5]} that are not in "
                             f"classes_ {self.classes_.tolist()[:10]}: pass classes= with every label to the first "
                             "partial_fit call")
        return idx.astype(np.int64)

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

    def fit(self, X: Any, y: Any) -> "_NeuroplasticClassifier":
        """Train a new network on ``X`` ``[n_samples, n_features]`` and labels ``y``. Returns self."""
        self._check_settings()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        seed = self._seed()
        self._init_model(X, np.unique(y), seed)
        epochs = self.max_epochs if self.max_epochs is not None else self.model_.fit_defaults["epochs"]
        self._train(X, y, int(epochs), seed)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> "_NeuroplasticClassifier":
        """Train one epoch on this batch, keeping the network (built on the first call). Returns self."""
        first = not hasattr(self, "model_")
        if first:
            self._check_settings()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=first)
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            self._init_model(X, labels, self._seed())
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from classes_ {self.classes_.tolist()} fixed by the "
                             "first partial_fit call: pass the same classes or call fit to start over")
        self._train(X, y, 1, self._seed() + self.n_epochs_, schedule=False)
        return self

    def _scores_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._standardise(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n_samples, n_classes]`` in the order of ``classes_``."""
        Z = self._scores_input(X)
        return self.model_.predict_proba(Z, batch_size=256).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (values of ``classes_``)."""
        Z = self._scores_input(X)
        scores = self.model_.decision_function(Z, batch_size=256)
        return self.classes_[scores.argmax(axis=1)]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


@register_serializable("neuroplastic.SNNClassifier")
class SNNClassifier(_NeuroplasticClassifier):
    """Spiking-network classifier trained with surrogate gradients (the default ``"snn"`` architecture).

    Direct current coding of the standardised features for ``num_steps`` steps, LIF hidden
    layer(s), a leaky-integrator readout decoded by its maximum membrane over time, softmax
    cross-entropy and Adam. See :func:`neuroplastic.training.architectures.snn_classifier`.

    Args:
        hidden_layer_sizes: widths of the spiking hidden layers.
        num_steps: simulation steps ``T``.
        tau_mem: hidden membrane time constant (s).
        tau_out: readout time constant (s).
        dt: time step (s).
        r: input current gain of the hidden LIF neurons.
        dropout: dropout on hidden spikes.
        readout: ``"max"`` or ``"mean"`` membrane over time.
        label_smoothing: label smoothing of the cross-entropy (0.1 was worth +0.6 % validation
            accuracy on digits).
        learning: ``"gradient"`` (surrogate-gradient backprop); ``"plasticity"``: features learned
            by Hebbian plasticity + softmax readout, delegated to
            :class:`neuroplastic.plasticity.networks.HebbianNetwork` with its defaults (SoftHebb
            convolutions for square images; ``max_epochs``, ``batch_size``, ``learning_rate`` set the
            readout; the other spiking settings are not used); ``"hybrid"``: Hebbian-pretrained
            first layer, then BPTT of the whole spiking network, delegated to
            :class:`neuroplastic.plasticity.networks.HybridClassifier` (one hidden layer). The
            delegate is kept as ``estimator_``.
        max_epochs: training epochs (None: the architecture's tuned default).
        batch_size: mini-batch size (None: tuned default).
        learning_rate: Adam learning rate (None: tuned default).
        random_state: seed of the initial weights, shuffling and dropout (int, RandomState or None).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Attributes:
        classes_: sorted class labels. n_features_in_: number of features.
        mean_, scale_: standardisation statistics. model_: the trained
        :class:`~neuroplastic.training.Model`. history_: per-epoch training logs.
        n_epochs_: epochs trained so far.
    """

    def __init__(self, hidden_layer_sizes: Sequence[int] = (256,), num_steps: int = 16, tau_mem: float = 5e-3,
                 tau_out: float = 5e-3, dt: float = 1e-3, r: float = 2.0, dropout: float = 0.2,
                 readout: str = "max", label_smoothing: float = 0.1, learning: str = "gradient",
                 max_epochs: int | None = None,
                 batch_size: int | None = None, learning_rate: float | None = None, random_state: Any = None,
                 verbose: int = 0, device: str = "auto") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.num_steps = num_steps
        self.tau_mem = tau_mem
        self.tau_out = tau_out
        self.dt = dt
        self.r = r
        self.dropout = dropout
        self.readout = readout
        self.label_smoothing = label_smoothing
        self.learning = learning
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    def _check_settings(self) -> None:
        if self.learning not in LEARNING_MODES:
            raise ValueError(f"unknown learning {self.learning!r}: choose one of {', '.join(LEARNING_MODES)}")
        super()._check_settings()

    # ---- learning="plasticity" | "hybrid": delegate to neuroplastic.plasticity.networks
    def _plastic_estimator(self) -> Any:
        from neuroplastic.plasticity.networks import HebbianNetwork, HybridClassifier

        if self.learning == "plasticity":
            kw: dict[str, Any] = {}
            if self.max_epochs is not None:
                kw["readout_epochs"] = int(self.max_epochs)
            if self.batch_size is not None:
                kw["readout_batch_size"] = int(self.batch_size)
            if self.learning_rate is not None:
                kw["readout_lr"] = float(self.learning_rate)
            return HebbianNetwork(random_state=self.random_state, verbose=self.verbose, **kw)
        hidden = np.atleast_1d(self.hidden_layer_sizes)
        if len(hidden) != 1:
            raise ValueError(f"learning='hybrid' pre-trains one hidden layer, got hidden_layer_sizes={tuple(hidden)}: "
                             "pass one width, e.g. hidden_layer_sizes=(256,)")
        return HybridClassifier(n_hidden=int(hidden[0]), num_steps=int(self.num_steps), tau_mem=float(self.tau_mem),
                                r=float(self.r), finetune_epochs=None if self.max_epochs is None else int(self.max_epochs),
                                batch_size=self.batch_size, learning_rate=self.learning_rate,
                                random_state=self.random_state, verbose=self.verbose,
                                device="cpu" if self.device == "auto" else self.device)

    def fit(self, X: Any, y: Any) -> "SNNClassifier":
        """Train a new network on ``X`` and labels ``y`` (see ``learning``). Returns self."""
        self.__dict__.pop("estimator_", None)
        if self.learning not in ("plasticity", "hybrid"):
            return super().fit(X, y)
        self._check_settings()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self.estimator_ = self._plastic_estimator().fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def partial_fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> "SNNClassifier":
        """One epoch on this batch (``learning="plasticity"``: one plasticity pass + readout epochs)."""
        if self.learning not in ("plasticity", "hybrid"):
            return super().partial_fit(X, y, classes)
        first = not hasattr(self, "estimator_")
        if first:
            self._check_settings()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=first)
        if first:
            self.estimator_ = self._plastic_estimator()
        self.estimator_.partial_fit(X, y, classes=classes)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "estimator_"):
            return super().predict_proba(X)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "estimator_"):
            return super().predict(X)
        return self.estimator_.predict(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def _compile_options(self, comp: dict[str, Any]) -> dict[str, Any]:
        comp["loss_options"] = {**comp.get("loss_options", {}), "label_smoothing": float(self.label_smoothing)}
        return comp

    def _architecture(self) -> tuple[str, dict[str, Any]]:
        return "snn", {
            "hidden": [int(h) for h in np.atleast_1d(self.hidden_layer_sizes)], "num_steps": int(self.num_steps),
            "tau_mem": float(self.tau_mem), "tau_out": float(self.tau_out), "dt": float(self.dt),
            "r": float(self.r), "dropout": float(self.dropout), "readout": self.readout,
        }


@register_serializable("neuroplastic.MLPClassifier")
class MLPClassifier(_NeuroplasticClassifier):
    """Backprop baseline classifier: the founding MLP or the wide MLP.

    Args:
        architecture: ``"founding"`` (Dense(4, relu) -> Dense(4, relu) -> Dense(C, sigmoid),
            Keras binary cross-entropy on one-hot targets, Adam 1e-3) or ``"wide"``
            (ReLU layers ``hidden_layer_sizes``, softmax cross-entropy, Adam 1e-3).
        hidden_layer_sizes: widths for ``"wide"`` (the founding network is fixed at (4, 4)).
        max_epochs, batch_size, learning_rate, random_state, verbose, device: as in
            :class:`SNNClassifier`.

    Attributes:
        as in :class:`SNNClassifier`.
    """

    def __init__(self, architecture: str = "founding", hidden_layer_sizes: Sequence[int] = (256, 128),
                 max_epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
                 random_state: Any = None, verbose: int = 0, device: str = "auto") -> None:
        self.architecture = architecture
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    def _architecture(self) -> tuple[str, dict[str, Any]]:
        if self.architecture == "founding":
            return "mlp_founding", {}
        if self.architecture == "wide":
            return "mlp_wide", {"hidden": [int(h) for h in np.atleast_1d(self.hidden_layer_sizes)]}
        raise ValueError(f"unknown architecture {self.architecture!r}: choose 'founding' or 'wide'")
