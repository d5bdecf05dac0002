"""The spiking-network classifier trained with surrogate gradients: :class:`SNNClassifier`.

It follows scikit-learn's contract (``__init__`` only stores settings, ``fit(X, y)`` returns
``self``, learned attributes end in ``_``; it passes ``sklearn.utils.estimator_checks``); what
``fit`` does is in :mod:`neuroplastic.models._gradient`. ``learning="plasticity"`` and
``"hybrid"`` delegate to :class:`~neuroplastic.models.HebbianNetwork` and
:class:`~neuroplastic.models.HybridClassifier`.

Example:
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier(max_epochs=40, random_state=0, device="cpu").fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from neuroplastic.io import register_serializable
from neuroplastic.models._gradient import GradientClassifier
from neuroplastic.models.hebbian import HebbianNetwork
from neuroplastic.models.hybrid import HybridClassifier

__all__ = ["LEARNING_MODES", "SNNClassifier"]

LEARNING_MODES = ("gradient", "plasticity", "hybrid")


@register_serializable("neuroplastic.SNNClassifier")
class SNNClassifier(GradientClassifier):
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
            :class:`~neuroplastic.models.HebbianNetwork` with its defaults (SoftHebb
            convolutions for square images; ``max_epochs``, ``batch_size``, ``learning_rate`` set the
            readout; the other spiking settings are not used); ``"hybrid"``: Hebbian-pretrained
            first layer, then BPTT of the whole spiking network, delegated to
            :class:`~neuroplastic.models.HybridClassifier` (one hidden layer). The
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

    # ---- learning="plasticity" | "hybrid": delegate to HebbianNetwork | HybridClassifier
    def _plastic_estimator(self) -> Any:
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
        X, y = self._validate(X, y, reset=True)
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
        X, y = self._validate(X, y, reset=first)
        if first:
            self.estimator_ = self._plastic_estimator()
        self.estimator_.partial_fit(X, y, classes=classes)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "estimator_"):
            return super().predict_proba(X)
        return self.estimator_.predict_proba(self._validate(X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "estimator_"):
            return super().predict(X)
        return self.estimator_.predict(self._validate(X, reset=False))

    def _compile_options(self, comp: dict[str, Any]) -> dict[str, Any]:
        comp["loss_options"] = {**comp.get("loss_options", {}), "label_smoothing": float(self.label_smoothing)}
        return comp

    def _architecture(self) -> tuple[str, dict[str, Any]]:
        return "snn", {
            "hidden": [int(h) for h in np.atleast_1d(self.hidden_layer_sizes)], "num_steps": int(self.num_steps),
            "tau_mem": float(self.tau_mem), "tau_out": float(self.tau_out), "dt": float(self.dt),
            "r": float(self.r), "dropout": float(self.dropout), "readout": self.readout,
        }
