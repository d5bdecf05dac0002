r"""Plasticity first, gradients second: :class:`HybridClassifier`.

1. **Hebbian pre-training** of the first layer: a dense SoftHebb layer
   (:class:`~._hebb_layers.HebbianDense`, soft winner-take-all,
   :math:`\Delta w_k = \eta\, y_k (x - u_k w_k)`, units initialised on random samples) learns
   ``n_hidden`` prototypes of the standardised inputs without labels.
2. **Surrogate-gradient fine-tuning** of the whole spiking network
   ``ConstantEncoder(T) -> Dense -> LIF -> Dense -> LI`` (the library's default spiking classifier,
   :func:`neuroplastic.training.architectures.snn_classifier`): its first ``Dense`` starts from the
   Hebbian prototypes minus their average, :math:`W_0 = g\,(W - \bar w)` (the component every
   prototype shares would make all hidden currents move together; subtracting it is the triangle
   activation's "above the average unit" competition moved into the weights), with the gain
   :math:`g` giving the initial input currents unit standard deviation over the training set (the
   LIF threshold) and a bias centring each unit's current; then every weight is trained by
   backpropagation through time with the model's tuned settings (Adam, cross-entropy on the
   readout membrane's maximum, :class:`neuroplastic.training.Model`).
   ``freeze_hebbian=True`` keeps the Hebbian layer fixed (only the readout learns).

The spiking network sees the same standardised input as the Hebbian layer (one global mean and
standard deviation), so the pre-trained weights apply unchanged.

Example:
    >>> from neuroplastic.datasets import load_split
    >>> s = load_split("digits")
    >>> clf = HybridClassifier(n_hidden=64, finetune_epochs=3, random_state=0, device="cpu")
    >>> clf.fit(s.x_train, s.y_train).score(s.x_test, s.y_test) > 0.85
    True
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from neuroplastic.io import register_serializable
from neuroplastic.models._base import TransformingEstimator, looks_like_image
from neuroplastic.plasticity.networks._hebb_layers import HebbianDense
from neuroplastic.training.architectures import build_model

__all__ = ["HybridClassifier"]

#: Least optimizer steps of fine-tuning when ``finetune_epochs`` is None.
MIN_FINETUNE_UPDATES = 600


@register_serializable("neuroplastic.plasticity.HybridClassifier")
class HybridClassifier(TransformingEstimator):
    """Hebbian-pretrained spiking classifier fine-tuned with surrogate gradients.

    Args:
        n_hidden: spiking hidden neurons (= Hebbian prototypes).
        hebb_epochs: Hebbian passes (0: random init, i.e. plain surrogate-gradient training).
        hebb_batch_size, hebb_lr, temperature: SoftHebb settings.
        num_steps, tau_mem, r: spiking network settings (see ``snn_classifier``).
        finetune_epochs: BPTT epochs. None (default): the ``snn`` architecture's tuned 40 epochs, or
            more on small data so that fine-tuning makes at least ``MIN_FINETUNE_UPDATES`` (600)
            optimizer steps (iris: 300 epochs). Chosen by 5-fold CV on the training splits: 20
            fixed epochs underfit small tables (iris 85.7 % CV against 94.7 % with 600 steps).
        batch_size, learning_rate: BPTT settings (None: the architecture's tuned batch size and rate).
        freeze_hebbian: keep the first layer at its Hebbian weights during fine-tuning.
        random_state, verbose, device: as usual.

    Attributes:
        classes_, n_features_in_, mean_ and scale_ (input standardisation: per feature for a
        table, one value for the whole image when the features are a square number >= 64 of
        pixels), hebbian_ (the pre-trained layer), model_
        (:class:`~neuroplastic.training.Model`), finetune_epochs_ (epochs fine-tuned by ``fit``),
        timings_ (seconds per phase).
    """

    def __init__(self, n_hidden: int = 256, hebb_epochs: int = 3, hebb_batch_size: int = 32, hebb_lr: float = 0.05,
                 temperature: float = 0.1, num_steps: int = 16, tau_mem: float = 5e-3, r: float = 2.0,
                 finetune_epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
                 freeze_hebbian: bool = False, random_state: Any = None, verbose: int = 0, device: str = "cpu") -> None:
        self.n_hidden = n_hidden
        self.hebb_epochs = hebb_epochs
        self.hebb_batch_size = hebb_batch_size
        self.hebb_lr = hebb_lr
        self.temperature = temperature
        self.num_steps = num_steps
        self.tau_mem = tau_mem
        self.r = r
        self.finetune_epochs = finetune_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.freeze_hebbian = freeze_hebbian
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    def _check_settings(self) -> None:
        for name in ("n_hidden", "hebb_batch_size", "num_steps"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("hebb_epochs", "finetune_epochs"):
            v = getattr(self, name)
            if v is None and name == "finetune_epochs":
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0{' or None' if name == 'finetune_epochs' else ''}, got {v!r}")
        if self.learning_rate is not None and not float(self.learning_rate) > 0:
            raise ValueError(f"learning_rate must be > 0 or None, got {self.learning_rate!r}")

    def _z(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def _pretrain(self, z: torch.Tensor, epochs: int) -> None:
        h = self.hebbian_
        if epochs > 0:
            h.init_from_data(z, self._gen, method="random")   # every unit on a sample (measured this way)
        for _ in range(epochs):
            order = torch.randperm(len(z), generator=self._gen)
            for i in range(0, len(z), int(self.hebb_batch_size)):
                h.learn(z[order[i:i + int(self.hebb_batch_size)]])

    def _init_snn(self, z: torch.Tensor) -> None:
        self.model_ = build_model("snn", n_in=z.shape[1], n_out=len(self.classes_), hidden=[int(self.n_hidden)],
                                  num_steps=int(self.num_steps), tau_mem=float(self.tau_mem), r=float(self.r),
                                  seed=self._seed, device=self.device)
        if self.learning_rate is not None:
            self.model_.optimizer.param_groups[0]["lr"] = float(self.learning_rate)
        first = self.model_.module[1]
        with torch.no_grad():
            if int(self.hebb_epochs) > 0:
                w = self.hebbian_.weight - self.hebbian_.weight.mean(0, keepdim=True)  # drop the shared "ink"
                u = z @ w.T
                gain = 1.0 / float((u - u.mean(0)).std().clamp_min(1e-12))
                first.weight.copy_(w * gain)
                first.bias.copy_(-u.mean(0) * gain)
            if self.freeze_hebbian:
                first.weight.requires_grad_(False)
                first.bias.requires_grad_(False)

    def _batch_size(self) -> int:
        return int(self.batch_size if self.batch_size is not None else self.model_.fit_defaults.get("batch_size", 64))

    def _finetune_epochs(self, n_samples: int) -> int:
        """``finetune_epochs``, or for None the architecture's epochs raised to MIN_FINETUNE_UPDATES steps."""
        if self.finetune_epochs is not None:
            return int(self.finetune_epochs)
        per_epoch = max(1, math.ceil(n_samples / self._batch_size()))
        return max(int(self.model_.fit_defaults.get("epochs", 40)), math.ceil(MIN_FINETUNE_UPDATES / per_epoch))

    def _finetune(self, Z: np.ndarray, y_idx: np.ndarray, epochs: int) -> None:
        if epochs < 1:
            return
        bs = self._batch_size()
        self.model_.fit(Z, y_idx, epochs=int(epochs), batch_size=int(bs), verbose=self.verbose, seed=self._seed,
                        shuffle=True)

    def _setup(self, X: np.ndarray, classes: np.ndarray) -> torch.Tensor:
        self._check_settings()
        self.classes_ = classes
        self._seed = self._draw_seed()
        self._gen = torch.Generator().manual_seed(self._seed)
        if looks_like_image(X.shape[1]):          # pixels: one mean and spread for the whole image
            mean, scale = np.full(X.shape[1], X.mean()), np.full(X.shape[1], X.std())
        else:                                      # a table: each feature (features differ in units)
            mean, scale = X.mean(0), X.std(0)
        self.mean_, self.scale_ = mean.astype(np.float64), np.where(scale > 0, scale, 1.0).astype(np.float64)
        z = torch.as_tensor(self._z(X))
        self.hebbian_ = self._new_hebbian(X.shape[1], self._gen)
        self.timings_: dict[str, float] = {"hebbian": 0.0, "finetune": 0.0}
        return z

    def _new_hebbian(self, n_in: int, gen: torch.Generator | None) -> HebbianDense:
        return HebbianDense(n_in, int(self.n_hidden), rule="softhebb", lr=float(self.hebb_lr),
                            temperature=float(self.temperature), init_norm=1.0, generator=gen)

    # ---- checkpoints (neuroplastic.models._checkpoint): the Hebbian layer's skeleton and the private seed
    _checkpoint_private = ("_seed",)
    _dtypes = (np.float32, np.float64)

    def _checkpoint_modules(self) -> dict[str, torch.nn.Module]:
        return {"hebbian_": self._new_hebbian(int(self.n_features_in_), None)}

    def _after_checkpoint_load(self) -> None:
        self._gen = torch.Generator().manual_seed(int(self._seed))

    def fit(self, X: Any, y: Any) -> "HybridClassifier":
        """Hebbian pre-training on ``X``, then BPTT fine-tuning on ``(X, y)``. Returns self."""
        X, y = self._validate(X, y, reset=True)
        z = self._setup(X, self._labels(y))
        t0 = time.perf_counter()
        self._pretrain(z, int(self.hebb_epochs))
        self.timings_["hebbian"] = time.perf_counter() - t0
        self._init_snn(z)
        t0 = time.perf_counter()
        self.finetune_epochs_ = self._finetune_epochs(len(z))
        self._finetune(z.numpy(), self._encode(y), self.finetune_epochs_)
        self.timings_["finetune"] = time.perf_counter() - t0
        return self

    def partial_fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> "HybridClassifier":
        """First call: Hebbian pre-training on this batch and a new spiking network; every call: one
        epoch of fine-tuning on the batch."""
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        if first:
            z = self._setup(X, self._labels(y, classes))
            self._pretrain(z, max(1, int(self.hebb_epochs)))
            self._init_snn(z)
        else:
            self._check_same_classes(classes)
        self._finetune(self._z(X), self._encode(y), 1)
        return self

    def _scores(self, X: Any) -> np.ndarray:
        self._check_fitted("model_")
        X = self._validate(X, reset=False)
        return self.model_.decision_function(self._z(X), batch_size=256)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the readout), columns in the order of ``classes_``."""
        self._check_fitted("model_")
        X = self._validate(X, reset=False)
        return self.model_.predict_proba(self._z(X), batch_size=256).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        idx = self._scores(X).argmax(1)
        return self.classes_[idx]

    def transform(self, X: Any) -> np.ndarray:
        """Spike counts of the hidden LIF layer ``[n, n_hidden]`` (after fine-tuning)."""
        self._check_fitted("model_")
        X = self._validate(X, reset=False)
        net = self.model_.module
        x = torch.as_tensor(self._z(X), device=self.model_.device)
        with torch.no_grad():
            out, _ = net[2](net[1](net[0](x)))
        return out.sum(0).cpu().numpy().astype(np.float64)
