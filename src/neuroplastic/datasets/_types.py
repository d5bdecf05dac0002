"""Containers returned by the loaders: `Data` (one labelled set) and `Split` (train / test)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Data", "Split"]


def _shape(a: np.ndarray) -> str:
    return f"{a.dtype}{list(a.shape)}"


@dataclass(frozen=True, eq=False)
class Data:
    """One labelled set, unsplit.

    Unpacks like a pair, so ``x, y = load_iris()`` works.

    Attributes:
        x: Features, float32 ``[N, F]`` (images: ``[N, 784]`` or ``[N, 28, 28]``; raw uint8 if a
            loader was asked not to scale).
        y: Class codes 0..K-1, int64 ``[N]``.
        feature_names: One name per feature (per pixel for images).
        class_names: Name of class ``k`` at index ``k``.
        name: Short name of the set (``"iris"``, ``"mnist"``, a CSV file's stem ...).
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    name: str

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.x
        yield self.y

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Data(name={self.name!r}, x={_shape(self.x)}, y={_shape(self.y)}, "
            f"n_classes={self.n_classes})"
        )


@dataclass(frozen=True, eq=False)
class Split:
    """A train / test (or train / validation) split of one labelled set.

    Attributes:
        x_train: Training features, float32 ``[N_train, F]`` (or ``[N_train, 28, 28]``).
        y_train: Training class codes 0..K-1, int64 ``[N_train]``.
        x_test: Held-out features, same dtype and trailing shape as ``x_train``.
        y_test: Held-out class codes, int64 ``[N_test]``.
        feature_names: One name per feature.
        class_names: Name of class ``k`` at index ``k``.
        name: Short name of the set.
        encoder: For `load_csv` only: the fitted `TableEncoder` (fit on the training rows), to
            encode new CSV rows the same way at predict time; ``None`` otherwise.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    name: str
    encoder: Any = None

    @property
    def n_features(self) -> int:
        """Number of features per sample (product of the trailing shape)."""
        return int(np.prod(self.x_train.shape[1:], dtype=np.int64))

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Split(name={self.name!r}, x_train={_shape(self.x_train)}, "
            f"y_train={_shape(self.y_train)}, x_test={_shape(self.x_test)}, "
            f"y_test={_shape(self.y_test)}, n_classes={self.n_classes})"
        )
