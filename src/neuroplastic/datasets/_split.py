"""Shared helpers: a checked stratified split and training-only standardisation."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["stratified_indices", "fit_standardizer"]


def _check_test_size(test_size: float | int, n: int) -> int:
    """Return the number of test rows sklearn will use, or raise a clear error."""
    numeric = (int, float, np.integer, np.floating)
    if isinstance(test_size, bool) or not isinstance(test_size, numeric):
        raise TypeError(f"test_size must be a float in (0, 1) or a row count, got {test_size!r}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(
                f"test_size={test_size} must be in (0, 1) as a fraction (or an int row count): "
                "pass e.g. test_size=0.25"
            )
        return math.ceil(float(test_size) * n)
    if not 1 <= int(test_size) < n:
        raise ValueError(f"test_size={test_size} rows must be between 1 and {n - 1} for {n} rows")
    return int(test_size)


def stratified_indices(
    y: np.ndarray,
    test_size: float | int,
    seed: int,
    *,
    class_names: Sequence[str],
    where: Callable[[int], str] | None = None,
    source: str = "data",
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices so each class keeps its share in train and test.

    Wraps ``sklearn.model_selection.train_test_split(stratify=y, random_state=seed)`` and checks
    first the conditions under which it fails, to give an error that names the fix.

    Args:
        y: Class codes 0..K-1, shape ``[N]``.
        test_size: Fraction of rows in ``(0, 1)`` or a number of rows.
        seed: ``random_state`` for the shuffle.
        class_names: Name of class ``k`` at index ``k``, for messages.
        where: Maps a row index to a human description ("line 7 of a.csv"), for messages.
        source: What the rows come from, for messages.

    Returns:
        ``(train_idx, test_idx)``, int64 index arrays into ``y``.

    Raises:
        ValueError: A class has fewer than 2 rows, or the split leaves fewer rows than classes
            on one side.
    """
    y = np.asarray(y)
    n = len(y)
    n_test = _check_test_size(test_size, n)
    counts = np.bincount(y, minlength=len(class_names))
    for k in np.flatnonzero(counts < 2):
        if counts[k] == 0:
            continue  # a class absent from y needs no rows here
        row = int(np.flatnonzero(y == k)[0])
        at = f" ({where(row)})" if where is not None else ""
        raise ValueError(
            f"class {class_names[k]!r} has only 1 row in {source}{at}; a stratified split needs "
            "at least 2 rows per class: add rows of that class or remove it"
        )
    n_present = int((counts > 0).sum())
    n_train = n - n_test
    if n_test < n_present or n_train < n_present:
        raise ValueError(
            f"test_size={test_size} gives {n_train} training and {n_test} test rows for "
            f"{n_present} classes in {source}; each side needs at least one row per class: "
            "choose a test_size between "
            f"{n_present / n:.3f} and {1 - n_present / n:.3f} or add rows"
        )
    from sklearn.model_selection import train_test_split  # scikit-learn loads on first use (about 1 s)

    train_idx, test_idx = train_test_split(
        np.arange(n, dtype=np.int64), test_size=test_size, stratify=y, random_state=seed
    )
    return np.asarray(train_idx, dtype=np.int64), np.asarray(test_idx, dtype=np.int64)


def fit_standardizer(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature mean and scale from training rows only.

    ``scale`` is the population standard deviation (``ddof=0``, as in scikit-learn's
    ``StandardScaler``), except for constant columns (max == min on the training rows), whose
    scale is 1, so they are centred (all zeros on the training rows) and never divided by zero.

    Args:
        x_train: Training features ``[N, F]``.

    Returns:
        ``(mean, scale, constant)``: float64 ``[F]``, float64 ``[F]``, bool ``[F]``.
    """
    x = np.asarray(x_train, dtype=np.float64)
    mean = x.mean(axis=0)
    constant = x.max(axis=0) == x.min(axis=0)
    mean = np.where(constant, x[0], mean)  # exact, so a constant column centres to exactly 0
    scale = np.where(constant, 1.0, x.std(axis=0))
    return mean, scale, constant
