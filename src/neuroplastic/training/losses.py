r"""Losses that know how to read out static ``[B, C]`` and time-first ``[T, B, C]`` outputs.

A loss is an object with three jobs:

* ``loss(output, target) -> scalar``: the training objective (mean over the batch);
* ``loss.decode(output) -> scores [B, C]``: what ``argmax`` predicts on (the *readout*);
* ``loss.probabilities(scores) -> [B, C]``: class probabilities for ``predict_proba``.

So the model, the metrics and ``predict`` agree on how a spiking output is read. Readouts of a
time-first output :math:`o \in \mathbb{R}^{T \times B \times C}`:

==================  ==========================================================  ===============
readout             scores                                                      typical output
==================  ==========================================================  ===============
``"max"``           :math:`\max_t o_t` (SpyTorch / snnTorch max-membrane)        LI membrane
``"mean"``          :math:`\frac1T \sum_t o_t`                                   LI membrane
``"last"``          :math:`o_{T-1}`                                              LI membrane
``"count"``         :math:`\sum_t o_t` (spike counts)                            LIF spikes
``"first_spike"``   :math:`-t^{(1)}`, first-spike step (``T`` if silent)         LIF spikes
==================  ==========================================================  ===============

Names accepted by :func:`get_loss`: ``"cross_entropy"`` (``"ce"``,
``"sparse_categorical_crossentropy"``), ``"ce_max_membrane"``, ``"ce_mean_membrane"``,
``"ce_count"``, ``"mse_count"``, ``"ce_temporal"`` (``"first_spike_ce"``), ``"bce"``
(``"binary_crossentropy"``), ``"mse"`` (``"mean_squared_error"``).

Example:
    >>> import torch
    >>> spikes = torch.zeros(4, 1, 3)
    >>> spikes[1, 0, 0] = 1; spikes[3, 0, 1] = 1   # class 0 fires at step 1, class 1 at step 3
    >>> loss = get_loss("ce_temporal")
    >>> loss.decode(spikes).tolist()                # -t_first; class 2 never fires (t = T = 4)
    [[-1.0, -3.0, -4.0]]
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn.functional as F

from neuroplastic._core.checks import check_in_choices
from neuroplastic.encoding.decoding import first_spike_time

__all__ = [
    "LOSSES",
    "READOUTS",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "FirstSpikeCrossEntropy",
    "Loss",
    "MeanSquaredError",
    "SpikeCountMSE",
    "first_spike_time_st",
    "get_loss",
    "keras_binary_crossentropy",
    "readout",
]

READOUTS = ("max", "mean", "last", "count", "first_spike")
#: Keras' ``backend.epsilon()``, used to clip probabilities in :func:`keras_binary_crossentropy`.
KERAS_EPSILON = 1e-7


class _FirstSpikeTime(torch.autograd.Function):
    """First-spike step with the sign estimator of snnTorch's ``SpikeTime.FirstSpike``."""

    @staticmethod
    def forward(ctx, spikes: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        t = first_spike_time(spikes)
        T = spikes.shape[0]
        ctx.save_for_backward(t.clamp(max=T - 1).long())
        ctx.T = T
        return t.to(spikes.dtype)

    @staticmethod
    def backward(ctx, grad_t: torch.Tensor):  # type: ignore[override]
        (idx,) = ctx.saved_tensors
        grad = torch.zeros((ctx.T, *grad_t.shape), dtype=grad_t.dtype, device=grad_t.device)
        grad.scatter_(0, idx.unsqueeze(0), -grad_t.unsqueeze(0))
        return grad


def first_spike_time_st(spikes: torch.Tensor) -> torch.Tensor:
    r"""Differentiable first-spike step ``[T, B, ...] -> [B, ...]`` (``T`` for a silent neuron).

    Forward: :math:`t^{(1)} = \min\{t : S_t = 1\}` (``T`` if there is none). Backward: the sign
    estimator :math:`\partial t^{(1)} / \partial S_t = -1` at :math:`t = t^{(1)}` and 0
    elsewhere (a silent neuron gets the -1 at the last step, the "shadow spike" of snnTorch),
    so raising the membrane where the neuron first crosses threshold makes it fire earlier.
    """
    if spikes.ndim < 2:
        raise ValueError(f"spikes must be time-first [T, B, ...], got shape {tuple(spikes.shape)}")
    return _FirstSpikeTime.apply(spikes)


def readout(output: torch.Tensor, mode: str = "max") -> torch.Tensor:
    """Scores ``[B, C]`` from a time-first output ``[T, B, C]``; ``[B, ...]`` passes through.

    Args:
        output: the network output, time-first (3 dims or more) or static (``[B, C]``, ``[B]``).
        mode: one of :data:`READOUTS` (see the module table).
    """
    check_in_choices("readout", mode, READOUTS)
    if output.ndim < 3:
        return output
    if mode == "max":
        return output.max(0).values
    if mode == "mean":
        return output.mean(0)
    if mode == "last":
        return output[-1]
    if mode == "count":
        return output.sum(0)
    return -first_spike_time_st(output)


def _class_targets(target: torch.Tensor, n_classes: int, name: str) -> torch.Tensor:
    """Integer labels ``[B]`` -> one-hot ``[B, C]``; float ``[B, C]`` targets pass through."""
    if target.ndim == 1 and not target.is_floating_point():
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= n_classes):
            raise ValueError(
                f"{name}: labels must lie in 0..{n_classes - 1} for an output with {n_classes} "
                f"columns, got [{int(target.min())}, {int(target.max())}]: encode labels as 0..C-1 "
                "(e.g. sklearn.preprocessing.LabelEncoder) or widen the output layer"
            )
        return F.one_hot(target.long(), n_classes).float()
    if target.ndim == 1 and n_classes == 1:
        return target.float().unsqueeze(1)
    return target.float()


class Loss:
    """Base class: a training objective plus the readout shared with metrics and ``predict``.

    Subclasses implement :meth:`compute` on decoded scores (or override ``__call__``).

    Attributes:
        name: short name used in logs and configs.
        readout: how a time-first output becomes scores (see :func:`readout`).
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (decided by the targets).
    """

    name = "loss"
    task = "classification"

    def __init__(self, readout: str = "max") -> None:
        self.readout = check_in_choices("readout", readout, READOUTS)

    def decode(self, output: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` whose argmax is the predicted class."""
        return readout(output, self.readout)

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Class probabilities from decoded scores (softmax by default)."""
        return torch.softmax(scores, dim=-1)

    #: decision threshold of a single-column output (0 for logits, 0.5 for probabilities)
    threshold = 0.0

    def predict_labels(self, scores: torch.Tensor) -> torch.Tensor:
        """Class indices ``[B]`` from decoded scores (a single column is thresholded)."""
        if scores.ndim == 1 or scores.shape[-1] == 1:
            return (scores.reshape(-1) > self.threshold).long()
        return scores.argmax(-1)

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.compute(self.decode(output), target)

    def get_config(self) -> dict:
        """Constructor kwargs (JSON-able); with ``name`` this rebuilds the loss via :func:`get_loss`."""
        return {"readout": self.readout}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class CrossEntropy(Loss):
    r"""Softmax cross-entropy on decoded scores: :math:`-\frac1B\sum_b \log \mathrm{softmax}(s_b)_{y_b}`.

    With ``readout="max"`` on an LI membrane this is snnTorch's ``ce_max_membrane_loss``; with
    ``"count"`` on spikes it is ``ce_count_loss``. Targets are labels ``[B]`` or class
    probabilities ``[B, C]``.

    Args:
        readout: see :func:`readout`.
        label_smoothing: as in :func:`torch.nn.functional.cross_entropy`.
    """

    name = "cross_entropy"

    def __init__(self, readout: str = "max", label_smoothing: float = 0.0) -> None:
        super().__init__(readout)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not target.is_floating_point():
            _class_targets(target, scores.shape[-1], self.name)  # range check with a clear message
            target = target.long()
        return F.cross_entropy(scores, target, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {"readout": self.readout, "label_smoothing": self.label_smoothing}


class FirstSpikeCrossEntropy(CrossEntropy):
    r"""Cross-entropy on negated first-spike steps, :math:`\mathrm{CE}(-t^{(1)}, y)` (Mostafa 2017).

    Equals snnTorch's ``ce_temporal_loss(inverse="negate")`` except that a silent neuron counts as
    firing at step ``T`` (snnTorch uses ``T - 1``). The correct class is pushed to fire first.
    Gradients use the sign estimator of :func:`first_spike_time_st`.
    """

    name = "ce_temporal"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__("first_spike", label_smoothing)

    def get_config(self) -> dict:
        return {"label_smoothing": self.label_smoothing}


class SpikeCountMSE(Loss):
    r"""MSE between spike counts and target counts (snnTorch ``mse_count_loss``, SLAYER).

    .. math:: L = \frac{1}{T}\,\frac{1}{BC}\sum_{b,c} (n_{bc} - T r_{bc})^2,\qquad
              r_{bc} = \text{correct\_rate if } c = y_b \text{ else incorrect\_rate}

    where :math:`n = \sum_t S_t`. (snnTorch truncates :math:`T r` to an integer; here it is not.)
    """

    name = "mse_count"

    def __init__(self, correct_rate: float = 1.0, incorrect_rate: float = 0.0) -> None:
        super().__init__("count")
        self.correct_rate, self.incorrect_rate = float(correct_rate), float(incorrect_rate)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.ndim < 3:
            raise ValueError(
                f"mse_count needs time-first spikes [T, B, C], got shape {tuple(output.shape)}: "
                "use a spiking output layer or the 'mse' loss for static outputs"
            )
        T = output.shape[0]
        counts = self.decode(output)
        onehot = _class_targets(target, counts.shape[-1], self.name)
        goal = T * (self.incorrect_rate + (self.correct_rate - self.incorrect_rate) * onehot)
        return F.mse_loss(counts, goal) / T

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        return _normalise(scores.clamp_min(0))

    def get_config(self) -> dict:
        return {"correct_rate": self.correct_rate, "incorrect_rate": self.incorrect_rate}


def keras_binary_crossentropy(probs: torch.Tensor, target: torch.Tensor, eps: float = KERAS_EPSILON) -> torch.Tensor:
    r"""Keras' ``binary_crossentropy`` on probabilities, reduced like ``model.compile(loss="binary_crossentropy")``.

    .. math:: L = -\frac{1}{BC}\sum_{b,c} \big[y_{bc}\log \hat p_{bc} + (1-y_{bc})\log(1-\hat p_{bc})\big],
              \qquad \hat p = \mathrm{clip}(p, \epsilon, 1-\epsilon),\ \epsilon = 10^{-7}

    (Keras' torch backend clips, then calls ``torch.nn.functional.binary_cross_entropy``; the loss
    means over the last axis, then over the batch.)
    """
    if probs.shape != target.shape:
        raise ValueError(f"bce: output shape {tuple(probs.shape)} != target shape {tuple(target.shape)}")
    p = probs.clamp(eps, 1.0 - eps)
    return F.binary_cross_entropy(p, target.to(p.dtype), reduction="none").mean(-1).mean()


class BinaryCrossEntropy(Loss):
    """Keras' binary cross-entropy on sigmoid outputs; labels become one-hot targets.

    The founding baseline (Dense(4)-Dense(4)-Dense(C, sigmoid)) trains with this loss. Outputs
    must be probabilities in [0, 1]. A single output column is a binary classifier
    (``p > 0.5`` predicts class 1).
    """

    name = "bce"
    threshold = 0.5

    def __init__(self, readout: str = "mean") -> None:
        super().__init__(readout)

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        lo, hi = (float(scores.detach().min()), float(scores.detach().max())) if scores.numel() else (0.0, 1.0)
        if lo < 0 or hi > 1:
            raise ValueError(
                "bce expects probabilities in [0, 1] (a sigmoid output layer); got values in "
                f"[{lo:.3g}, {hi:.3g}]: end the network with a "
                "sigmoid or use loss='cross_entropy' on logits"
            )
        return keras_binary_crossentropy(scores, _class_targets(target, scores.shape[-1], self.name))

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[-1] == 1:
            return torch.cat([1.0 - scores, scores], dim=-1)
        return _normalise(scores)


class MeanSquaredError(Loss):
    r"""Keras' ``mean_squared_error``: :math:`\frac{1}{BC}\sum (o - y)^2`.

    Integer labels ``[B]`` with a ``[B, C]`` output (C > 1) become one-hot targets
    (classification); float targets of the output's shape are regression targets.
    """

    name = "mse"
    task = "auto"
    threshold = 0.5

    def __init__(self, readout: str = "mean") -> None:
        super().__init__(readout)

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not target.is_floating_point():
            target = _class_targets(target, scores.shape[-1] if scores.ndim > 1 else 1, self.name)
        if target.shape != scores.shape and target.numel() == scores.numel():
            target = target.reshape(scores.shape)
        if target.shape != scores.shape:
            raise ValueError(f"mse: output shape {tuple(scores.shape)} != target shape {tuple(target.shape)}")
        return F.mse_loss(scores, target.to(scores.dtype))

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[-1] == 1:
            p = scores.clamp(0, 1)
            return torch.cat([1.0 - p, p], dim=-1)
        return _normalise(scores.clamp(0, 1))


def _normalise(p: torch.Tensor) -> torch.Tensor:
    """Rows scaled to sum to 1; an all-zero row becomes uniform."""
    s = p.sum(-1, keepdim=True)
    uniform = torch.full_like(p, 1.0 / p.shape[-1])
    return torch.where(s > 0, p / s.clamp_min(torch.finfo(p.dtype).tiny), uniform)


class _CallableLoss(Loss):
    """A user function ``fn(output, target) -> scalar`` with a mean-over-time readout."""

    task = "auto"

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], readout: str = "mean") -> None:
        super().__init__(readout)
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(output, target)

    def get_config(self) -> dict:
        return {"readout": self.readout}


#: name -> (class, default kwargs)
LOSSES: dict[str, tuple[type, dict]] = {
    "cross_entropy": (CrossEntropy, {}),
    "ce": (CrossEntropy, {}),
    "sparse_categorical_crossentropy": (CrossEntropy, {}),
    "ce_max_membrane": (CrossEntropy, {"readout": "max"}),
    "ce_mean_membrane": (CrossEntropy, {"readout": "mean"}),
    "ce_count": (CrossEntropy, {"readout": "count"}),
    "mse_count": (SpikeCountMSE, {}),
    "ce_temporal": (FirstSpikeCrossEntropy, {}),
    "first_spike_ce": (FirstSpikeCrossEntropy, {}),
    "bce": (BinaryCrossEntropy, {}),
    "binary_crossentropy": (BinaryCrossEntropy, {}),
    "mse": (MeanSquaredError, {}),
    "mean_squared_error": (MeanSquaredError, {}),
}

LossLike = Union[str, Loss, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


def get_loss(loss: LossLike, **kwargs) -> Loss:
    """Resolve a loss name (see :data:`LOSSES`), a :class:`Loss` or a callable.

    Args:
        loss: name, :class:`Loss` instance, or ``fn(output, target) -> scalar tensor``.
        kwargs: constructor arguments overriding the name's defaults (e.g. ``readout="mean"``).
    """
    if isinstance(loss, Loss):
        if kwargs:
            raise TypeError("loss options are only accepted with a loss name")
        return loss
    if isinstance(loss, str):
        key = loss.strip().lower()
        if key not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(sorted(LOSSES))} or pass a callable")
        cls, defaults = LOSSES[key]
        obj = cls(**{**defaults, **kwargs})
        return obj
    if callable(loss):
        return _CallableLoss(loss, **kwargs)
    raise TypeError(f"loss must be a name, a Loss or a callable, got {type(loss).__name__}")
