r"""Reading out unsupervised layers: label assignment, k-means baseline, softmax readout.

**Label assignment** (Diehl & Cook 2015). After unsupervised learning, each unit :math:`j` is
assigned the class for which its average response is highest,

.. math::
    r_{jc} = \frac{1}{|\{n : y_n = c\}|} \sum_{n : y_n = c} a_{nj}, \qquad
    \text{label}_j = \arg\max_c r_{jc},

and a sample is classified by the group of units with the highest *average* activity,
:math:`\hat y_n = \arg\max_c \frac{1}{|G_c|}\sum_{j \in G_c} a_{nj}` with
:math:`G_c = \{j : \text{label}_j = c\}`. Units that never responded to the training set are left
unassigned (label ``-1``) and do not vote; a class without units scores 0; ties go to the lowest
class index. The same two functions read out any winner-take-all layer: with one-hot winners
(``a_{nj} = 1`` for the winning unit) a sample gets the label of its winner. That is how the
k-means baseline (:func:`kmeans_label_accuracy`) is read out, so the comparison with a
plasticity layer of the same size is like for like.

**Linear readout**: :func:`train_linear_readout` fits a softmax classifier with Adam on frozen
features (full-batch features in memory, mini-batches, optional dropout), the readout of
Krotov & Hopfield (2019) and SoftHebb (Journé et al. 2023) in its cross-entropy form.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "assign_labels",
    "assignment_scores",
    "kmeans_label_accuracy",
    "one_hot_winners",
    "train_linear_readout",
]


def _as_tensor(a: Any, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if dtype is not None:
        t = t.to(dtype)
    return t


def assign_labels(responses: Any, y: Any, n_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Assign every unit to the class of its highest average response.

    Args:
        responses: ``[n_samples, n_units]`` activity (spike counts, rates, one-hot winners).
        y: ``[n_samples]`` integer class codes ``0..n_classes-1``.
        n_classes: number of classes (default ``y.max() + 1``).

    Returns:
        ``(labels [n_units] int64, class_rates [n_units, n_classes])``; ``labels`` is ``-1`` for a
        unit whose response is zero for every class. A class with no sample gets rate 0.

    Example:
        >>> labels, rates = assign_labels([[2., 0.], [0., 1.], [4., 0.]], [0, 1, 0])
        >>> labels.tolist(), rates.tolist()
        ([0, 1], [[3.0, 0.0], [0.0, 1.0]])
    """
    a = _as_tensor(responses, "responses", torch.float64)
    yt = _as_tensor(y, "y").long()
    if a.ndim != 2:
        raise ValueError(f"responses must be [n_samples, n_units], got shape {tuple(a.shape)}")
    if yt.ndim != 1 or yt.shape[0] != a.shape[0]:
        raise ValueError(f"y must be [n_samples] = [{a.shape[0]}], got shape {tuple(yt.shape)}: one label per row of responses")
    if a.shape[0] == 0:
        raise ValueError("no samples to assign labels from: pass at least one row")
    if not torch.isfinite(a).all():
        raise ValueError("responses contain NaN/inf: check the network's activity")
    if (yt < 0).any():
        raise ValueError("y must hold class codes >= 0: encode the labels as 0..n_classes-1 first")
    k = int(yt.max()) + 1 if n_classes is None else int(n_classes)
    if int(yt.max()) >= k:
        raise ValueError(f"y holds class {int(yt.max())} but n_classes={k}: raise n_classes")
    sums = torch.zeros(k, a.shape[1], dtype=a.dtype).index_add_(0, yt, a)
    counts = torch.bincount(yt, minlength=k).to(a.dtype).clamp_min(1).unsqueeze(1)
    rates = (sums / counts).T.contiguous()                       # [n_units, k]
    labels = rates.argmax(1)
    labels[rates.max(1).values <= 0] = -1
    return labels, rates


def assignment_scores(responses: Any, labels: Any, n_classes: int) -> torch.Tensor:
    """Average activity of each class's group of units: ``[n_samples, n_classes]``.

    ``scores[n, c] = mean_{j : labels[j] = c} responses[n, j]`` (0 for a class without units;
    units labelled ``-1`` are ignored). Predict with ``scores.argmax(1)``.

    Example:
        >>> assignment_scores([[1., 3., 0.]], [0, 1, 1], 2).tolist()
        [[1.0, 1.5]]
    """
    a = _as_tensor(responses, "responses", torch.float64)
    lab = _as_tensor(labels, "labels").long()
    if a.ndim != 2 or lab.ndim != 1 or lab.shape[0] != a.shape[1]:
        raise ValueError(f"responses [n_samples, n_units] and labels [n_units] do not match: got {tuple(a.shape)} "
                         f"and {tuple(lab.shape)}")
    ok = lab >= 0
    onehot = torch.zeros(a.shape[1], n_classes, dtype=a.dtype)
    onehot[ok.nonzero().squeeze(1), lab[ok]] = 1.0
    size = onehot.sum(0).clamp_min(1.0)
    return (a @ onehot) / size


def one_hot_winners(scores: torch.Tensor) -> torch.Tensor:
    """One-hot of the argmax along the last dim (the winner of a winner-take-all layer)."""
    return torch.zeros_like(scores).scatter_(-1, scores.argmax(-1, keepdim=True), 1.0)


def kmeans_label_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                          n_clusters: int, *, seed: int = 0, minibatch: bool | None = None,
                          geometry: str = "euclidean") -> dict[str, float]:
    r"""The k-means baseline of a winner-take-all layer: ``n_clusters`` centroids + label assignment.

    Clusters the training inputs (:class:`sklearn.cluster.KMeans`, or ``MiniBatchKMeans`` for more
    than 5,000 samples or when ``minibatch=True``), assigns every centroid a label with
    :func:`assign_labels` on one-hot memberships, and classifies a test sample by the label of its
    nearest centroid (:func:`assignment_scores`).

    ``geometry="cosine"`` clusters directions instead (k-means on the unit sphere, close to the
    spherical k-means of Dhillon & Modha 2001): each input is centred and scaled by the training
    set's global mean and deviation, then divided by its length,
    :math:`\hat x = z / \lVert z \rVert` with :math:`z = (x - \mu) / \sigma`; this is the geometry
    of a dot-product competition between unit-norm weight vectors
    (:class:`~._hebb_layers.HebbianDense` with global standardisation), its like-for-like baseline.

    Returns:
        ``{"train_accuracy", "test_accuracy", "seconds"}``.
    """
    import time

    from sklearn.cluster import KMeans, MiniBatchKMeans

    t0 = time.perf_counter()
    x_train = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    if geometry not in ("euclidean", "cosine"):
        raise ValueError(f"geometry must be 'euclidean' (k-means on the inputs) or 'cosine' (spherical k-means), got {geometry!r}")
    if geometry == "cosine":
        mu, sd = float(x_train.mean()), max(float(x_train.std()), 1e-12)

        def direction(x: np.ndarray) -> np.ndarray:
            z = (x - mu) / sd
            return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

        x_train, x_test = direction(x_train), direction(x_test)
    use_mb = len(x_train) > 5000 if minibatch is None else minibatch
    if use_mb:
        km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=2048)
    else:
        km = KMeans(n_clusters=n_clusters, random_state=seed, n_init=1)
    km.fit(x_train)
    k = int(np.max(y_train)) + 1

    def member(x: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(km.predict(x)).long()
        return torch.zeros(len(x), n_clusters, dtype=torch.float64).scatter_(1, idx[:, None], 1.0)

    labels, _ = assign_labels(member(x_train), y_train, k)
    acc = {}
    for name, x, y in (("train_accuracy", x_train, y_train), ("test_accuracy", x_test, y_test)):
        pred = assignment_scores(member(x), labels, k).argmax(1).numpy()
        acc[name] = float((pred == np.asarray(y)).mean())
    acc["seconds"] = time.perf_counter() - t0
    return acc


def train_linear_readout(
    features: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    readout: nn.Linear | None = None,
    generator: torch.Generator | None = None,
    lr_decay: bool = True,
    feature_scale: float = 1.0,
) -> nn.Linear:
    """Fit (or keep fitting) a softmax readout ``logits = W f + b`` on frozen features with Adam.

    Minimises the mean cross-entropy :math:`-\\frac1N\\sum_n \\log \\mathrm{softmax}(W f_n + b)_{y_n}`
    over shuffled mini-batches, with optional dropout on the features and a cosine learning-rate
    decay to 0 over ``epochs`` (``lr_decay``).

    Args:
        features: ``[n_samples, n_features]`` (float).
        y: ``[n_samples]`` class codes.
        n_classes: output size.
        epochs, batch_size, lr, dropout, weight_decay: optimisation settings.
        readout: an existing layer to keep training (``partial_fit``); a new one otherwise.
        generator: RNG for initialisation, shuffling and dropout.
        lr_decay: cosine-anneal the learning rate.
        feature_scale: each batch of features is divided by it (``features`` may be float16).

    Returns:
        The trained :class:`torch.nn.Linear`.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs ({epochs}) and batch_size ({batch_size}) must be >= 1")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    f = features.detach()
    yt = y.long()
    if readout is None:
        readout = nn.Linear(f.shape[1], n_classes)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(f.shape[1])
            readout.weight.uniform_(-bound, bound, generator=generator)
            readout.bias.zero_()
    opt = torch.optim.Adam(readout.parameters(), lr=lr, weight_decay=weight_decay)
    n = f.shape[0]
    steps = epochs * math.ceil(n / batch_size)
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            fb = f[idx].to(readout.weight.dtype) / feature_scale
            if dropout > 0:
                keep = torch.rand(fb.shape, generator=generator, dtype=fb.dtype) >= dropout
                fb = fb * keep / (1.0 - dropout)
            if lr_decay:
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            loss = F.cross_entropy(readout(fb), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return readout
