r"""Streaming metrics: ``reset()``, ``update(scores, target, loss)``, ``result()``.

Metrics see the *decoded* scores ``[B, C]`` (the loss's readout of a time-first output, see
:mod:`neuroplastic.training.losses`), so a spiking model is scored the same way it is trained.
Results are exact over an epoch: sums are weighted by batch size, as Keras' ``Mean`` metrics do.

Names accepted by :func:`get_metric`: ``"accuracy"`` (``"acc"``), ``"top_k_accuracy"``
(``k=5``), ``"mse"``, ``"mae"``. A callable ``fn(scores, target) -> tensor`` (per-sample values
or the batch mean) becomes a batch-size-weighted mean named after the function.

Example:
    >>> import torch
    >>> from neuroplastic.training.losses import get_loss
    >>> m = get_metric("accuracy")
    >>> m.update(torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), torch.tensor([0, 1, 1]), get_loss("ce"))
    >>> round(m.result(), 4)
    0.6667
"""
from __future__ import annotations

from typing import Callable, Union

import torch

from neuroplastic.training.losses import Loss, _class_targets

__all__ = ["Accuracy", "MeanAbsoluteError", "MeanMetric", "MeanSquaredErrorMetric", "Metric",
           "TopKAccuracy", "get_metric"]


def _labels(target: torch.Tensor) -> torch.Tensor:
    """Class indices from labels ``[B]`` or one-hot / probability targets ``[B, C]``."""
    if target.ndim >= 2 and target.shape[-1] > 1:
        return target.argmax(-1)
    return target.reshape(-1).round().long() if target.is_floating_point() else target.reshape(-1).long()


class Metric:
    """Base class of streaming metrics (sum and count over batches)."""

    name = "metric"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss: Loss) -> None:
        raise NotImplementedError

    def result(self) -> float:
        """Value over everything seen since :meth:`reset` (NaN if nothing was seen)."""
        return self.total / self.count if self.count else float("nan")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    r"""Fraction of samples whose predicted class (the loss's ``predict_labels``) equals the label."""

    name = "accuracy"

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss: Loss) -> None:
        pred = loss.predict_labels(scores)
        self.total += float((pred == _labels(target).to(pred.device)).sum())
        self.count += int(pred.shape[0])


class TopKAccuracy(Metric):
    """Fraction of samples whose label is among the ``k`` highest scores."""

    def __init__(self, k: int = 5) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)
        self.name = f"top_{self.k}_accuracy"
        super().__init__()

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss: Loss) -> None:
        k = min(self.k, scores.shape[-1])
        top = scores.topk(k, dim=-1).indices
        hit = (top == _labels(target).to(top.device).unsqueeze(-1)).any(-1)
        self.total += float(hit.sum())
        self.count += int(hit.shape[0])


class _ErrorMetric(Metric):
    power = 2

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss: Loss) -> None:
        if not target.is_floating_point():
            target = _class_targets(target, scores.shape[-1] if scores.ndim > 1 else 1, self.name)
        target = target.to(scores.dtype).reshape(scores.shape)
        err = (scores - target).abs() ** self.power
        per_sample = err.reshape(err.shape[0], -1).mean(-1)
        self.total += float(per_sample.sum())
        self.count += int(per_sample.shape[0])


class MeanSquaredErrorMetric(_ErrorMetric):
    r"""Mean over samples of :math:`\frac1C \sum_c (s_c - y_c)^2` (labels become one-hot)."""

    name = "mse"
    power = 2


class MeanAbsoluteError(_ErrorMetric):
    r"""Mean over samples of :math:`\frac1C \sum_c |s_c - y_c|` (labels become one-hot)."""

    name = "mae"
    power = 1


class MeanMetric(Metric):
    """Batch-size-weighted mean of a user function ``fn(scores, target)``."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        super().__init__()

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss: Loss) -> None:
        value = torch.as_tensor(self.fn(scores, target)).detach().float()
        n = int(scores.shape[0])
        if value.ndim == 0:
            self.total += float(value) * n
        else:
            self.total += float(value.sum())
            n = int(value.numel())
        self.count += n


_METRICS: dict[str, Callable[[], Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "mse": MeanSquaredErrorMetric,
    "mean_squared_error": MeanSquaredErrorMetric,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}

MetricLike = Union[str, Metric, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


def get_metric(metric: MetricLike) -> Metric:
    """Resolve a metric name, a :class:`Metric` instance or a callable."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = metric.strip().lower()
        if key not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(sorted(_METRICS))} or pass a callable")
        return _METRICS[key]()
    if callable(metric):
        return MeanMetric(metric)
    raise TypeError(f"metric must be a name, a Metric or a callable, got {type(metric).__name__}")
