"""The backprop baseline classifier (the founding MLP or the wide MLP): :class:`MLPClassifier`.

Same contract and ``fit`` as :class:`~neuroplastic.models.SNNClassifier`
(:mod:`neuroplastic.models._gradient`).

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

from neuroplastic.io import register_serializable
from neuroplastic.models._gradient import GradientClassifier

__all__ = ["MLPClassifier"]


@register_serializable("neuroplastic.MLPClassifier")
class MLPClassifier(GradientClassifier):
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
