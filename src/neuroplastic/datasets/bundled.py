"""scikit-learn's bundled tabular sets (digits, breast cancer, iris, wine) and their splits.

These ship inside scikit-learn, so nothing is downloaded.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from neuroplastic.datasets._split import fit_standardizer, stratified_indices
from neuroplastic.datasets._types import Data, Split


def _sk():
    """``sklearn.datasets``, imported on first use (scikit-learn takes about a second to import)."""
    import sklearn.datasets as skd

    return skd

__all__ = [
    "DATASETS",
    "load_breast_cancer",
    "load_digits",
    "load_iris",
    "load_split",
    "load_wine",
]

#: Largest pixel value in scikit-learn's 8x8 digits (4x4 blocks of a 32x32 binary image).
DIGITS_MAX = 16.0

Scaling = bool | Literal["auto", "unit"]


def _from_bunch(bunch, name: str) -> Data:
    return Data(
        x=np.ascontiguousarray(bunch.data, dtype=np.float32),
        y=np.ascontiguousarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=tuple(str(c) for c in bunch.target_names),
        name=name,
    )


def load_digits() -> Data:
    """scikit-learn's 8x8 handwritten digits: 1797 samples, 64 pixels in 0..16, 10 classes.

    Returns:
        `Data` with raw pixel counts as float32 (not scaled), labels int64.

    Example:
        >>> x, y = load_digits()
        >>> x.shape, x.dtype, float(x.max()), y.dtype
        ((1797, 64), dtype('float32'), 16.0, dtype('int64'))
    """
    return _from_bunch(_sk().load_digits(), "digits")


def load_breast_cancer() -> Data:
    """Wisconsin diagnostic breast cancer: 569 samples, 30 features, 2 classes (raw values).

    Example:
        >>> load_breast_cancer().class_names
        ('malignant', 'benign')
    """
    return _from_bunch(_sk().load_breast_cancer(), "breast-cancer")


def load_iris() -> Data:
    """Fisher's iris: 150 samples, 4 features (cm), 3 classes of 50 (raw values).

    Example:
        >>> load_iris().x.shape
        (150, 4)
    """
    return _from_bunch(_sk().load_iris(), "iris")


def load_wine() -> Data:
    """UCI wine recognition: 178 samples, 13 chemical features, 3 cultivars (raw values).

    Example:
        >>> load_wine().n_classes
        3
    """
    return _from_bunch(_sk().load_wine(), "wine")


#: Loaders by name. Names use hyphens; `load_split` also accepts underscores.
DATASETS: dict[str, Callable[[], Data]] = {
    "digits": load_digits,
    "breast-cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
}

#: What ``standardize="auto"`` means per set: pixel intensities scaled to [0, 1] for digits
#: (they stay non-negative, which rate and latency encoders need), z-scores for the rest.
DEFAULT_SCALING: dict[str, Scaling] = {
    "digits": "unit",
    "breast-cancer": True,
    "iris": True,
    "wine": True,
}


def load_split(
    name: str,
    test_size: float | int = 0.25,
    seed: int = 0,
    standardize: Scaling = "auto",
) -> Split:
    """Load a bundled set and split it, stratified by class, into train and test.

    The split is ``sklearn.model_selection.train_test_split(stratify=y, random_state=seed)``,
    so the default is a reproducible 75/25 split with seed 0.

    Scaling (statistics always come from the training rows only):

    - ``"auto"`` (default): ``"unit"`` for digits, ``True`` for the others.
    - ``True``: z-score each feature, ``(x - mean) / std`` with the training mean and
      population std; a feature constant on the training rows (several border pixels of digits)
      is only centred, never divided by zero.
    - ``"unit"``: digits only, divide the 0..16 pixel counts by 16 to land in [0, 1].
    - ``False``: raw values.

    Args:
        name: One of `DATASETS` (``"digits"``, ``"breast-cancer"``, ``"iris"``, ``"wine"``);
            case and ``_`` versus ``-`` do not matter.
        test_size: Fraction of samples held out, or a number of samples.
        seed: Random state of the shuffle.
        standardize: How to scale features, see above.

    Returns:
        `Split` with float32 features and int64 labels.

    Raises:
        ValueError: Unknown name, or ``"unit"`` asked for a set other than digits.

    Example:
        >>> s = load_split("iris")
        >>> s.x_train.shape, s.x_test.shape
        ((112, 4), (38, 4))
    """
    key = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} "
            "(MNIST has its own loader: mnist_split; CSV files: load_csv)"
        )
    if standardize == "auto":
        standardize = DEFAULT_SCALING[key]
    if standardize not in (True, False, "unit"):
        raise ValueError(
            f"standardize={standardize!r}: pass 'auto', True (z-score), False (raw) or 'unit'"
        )
    if standardize == "unit" and key != "digits":
        raise ValueError(
            f"standardize='unit' divides digits' 0..16 pixel counts by 16 and is not defined for "
            f"{key!r}: pass standardize=True (z-score) or False (raw values)"
        )
    data = DATASETS[key]()
    train, test = stratified_indices(
        data.y, test_size, seed, class_names=data.class_names, source=key
    )
    x_train, x_test = data.x[train], data.x[test]
    if standardize == "unit":
        x_train = x_train / np.float32(DIGITS_MAX)
        x_test = x_test / np.float32(DIGITS_MAX)
    elif standardize:
        mean, scale, _ = fit_standardizer(x_train)
        x_train = (x_train - mean) / scale
        x_test = (x_test - mean) / scale
    return Split(
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=data.y[train],
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=data.y[test],
        feature_names=data.feature_names,
        class_names=data.class_names,
        name=key,
    )
