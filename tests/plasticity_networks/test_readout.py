"""Label assignment and group voting against hand-computed values; the k-means baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplastic.plasticity.networks import (
    assign_labels,
    assignment_scores,
    kmeans_label_accuracy,
    one_hot_winners,
    train_linear_readout,
)


def test_assign_labels_by_hand() -> None:
    # 4 samples (classes 0, 0, 1, 2), 4 units; unit 3 never responds
    r = torch.tensor([[3.0, 0.0, 1.0, 0.0],
                      [1.0, 2.0, 0.0, 0.0],
                      [0.0, 5.0, 0.0, 0.0],
                      [0.0, 1.0, 4.0, 0.0]])
    y = torch.tensor([0, 0, 1, 2])
    labels, rates = assign_labels(r, y, n_classes=4)
    # class means: c0 = (2, 1, .5, 0), c1 = (0, 5, 0, 0), c2 = (0, 1, 4, 0), c3 (no sample) = 0
    expected = torch.tensor([[2.0, 0.0, 0.0, 0.0], [1.0, 5.0, 1.0, 0.0], [0.5, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
                            dtype=torch.float64)
    assert torch.equal(rates, expected)
    assert labels.tolist() == [0, 1, 2, -1]


def test_assignment_scores_average_of_groups_by_hand() -> None:
    labels = torch.tensor([0, 0, 1, -1])     # unit 3 unassigned: ignored
    r = torch.tensor([[2.0, 4.0, 1.0, 100.0], [0.0, 0.0, 6.0, 0.0]])
    s = assignment_scores(r, labels, 3)
    # class 0 = mean(2, 4) = 3, class 1 = 1, class 2 has no unit -> 0
    assert s.tolist() == [[3.0, 1.0, 0.0], [0.0, 6.0, 0.0]]
    assert s.argmax(1).tolist() == [0, 1]


def test_one_hot_winner_label_is_the_prediction() -> None:
    scores = torch.tensor([[0.1, 0.9, 0.3], [0.7, 0.2, 0.1]])
    labels = torch.tensor([2, 0, 1])
    pred = assignment_scores(one_hot_winners(scores), labels, 3).argmax(1)
    assert pred.tolist() == [0, 2]   # winner 1 -> label 0; winner 0 -> label 2


@pytest.mark.parametrize("bad, match", [
    (dict(responses=np.ones((3, 2)), y=[0, 1]), "one label per row"),
    (dict(responses=np.ones(3), y=[0, 1, 2]), r"\[n_samples, n_units\]"),
    (dict(responses=np.full((2, 2), np.nan), y=[0, 1]), "NaN"),
    (dict(responses=np.ones((2, 2)), y=[0, -1]), ">= 0"),
    (dict(responses=np.ones((2, 2)), y=[0, 3], n_classes=2), "raise n_classes"),
])
def test_assign_labels_errors(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        assign_labels(**bad)


def test_kmeans_label_accuracy_on_separated_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(scale=0.5, size=(120, 2))
    acc = kmeans_label_accuracy(x[::2], y[::2], x[1::2], y[1::2], n_clusters=3, seed=0)
    assert acc["train_accuracy"] == 1.0 and acc["test_accuracy"] == 1.0


def test_linear_readout_fits_separable_data() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = (x @ torch.randn(5, 3, generator=g)).argmax(1)   # linearly separable by construction
    ro = train_linear_readout(x, y, 3, epochs=40, batch_size=20, lr=5e-2, generator=g)
    with torch.no_grad():
        acc = (ro(x).argmax(1) == y).float().mean().item()
    assert acc > 0.95


def test_kmeans_cosine_geometry_clusters_directions_not_lengths() -> None:
    # two rays 21 degrees apart, lengths 1..20; the third coordinate keeps the global mean at 0
    rng = np.random.default_rng(0)
    r = rng.uniform(1.0, 20.0, 200)
    y = (np.arange(200) // 2) % 2                           # x[::2] and x[1::2] both hold the two classes
    d = np.where(y[:, None] == 0, [1.0, 0.0], [np.cos(np.pi / 6), np.sin(np.pi / 6)])
    xy = r[:, None] * d + rng.normal(scale=0.02, size=(200, 2))
    x = np.column_stack([xy, -xy.sum(1)])
    cos = kmeans_label_accuracy(x[::2], y[::2], x[1::2], y[1::2], 2, seed=0, geometry="cosine")
    euc = kmeans_label_accuracy(x[::2], y[::2], x[1::2], y[1::2], 2, seed=0)
    assert cos["test_accuracy"] == 1.0 and euc["test_accuracy"] < 0.8   # Euclidean 2-means splits by length
    with pytest.raises(ValueError, match="geometry"):
        kmeans_label_accuracy(x, y, x, y, 2, geometry="manhattan")
