"""scikit-learn bundled sets and `load_split`."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from neuroplastic.datasets import (
    DATASETS,
    Data,
    Split,
    load_digits,
    load_iris,
    load_split,
)

SIZES = {"digits": (1797, 64, 10), "breast-cancer": (569, 30, 2), "iris": (150, 4, 3),
         "wine": (178, 13, 3)}


def test_registry_names() -> None:
    assert list(DATASETS) == ["digits", "breast-cancer", "iris", "wine"]


@pytest.mark.parametrize("name", list(SIZES))
def test_loader_shapes_and_dtypes(name: str) -> None:
    data = DATASETS[name]()
    n, f, k = SIZES[name]
    assert isinstance(data, Data) and data.name == name
    assert data.x.shape == (n, f) and data.x.dtype == np.float32
    assert data.y.shape == (n,) and data.y.dtype == np.int64
    assert len(data.feature_names) == f and data.n_classes == k
    assert set(np.unique(data.y)) == set(range(k))
    x, y = data  # unpacks like a pair
    assert x is data.x and y is data.y


@pytest.mark.parametrize("name", list(SIZES))
def test_split_shapes_and_stratification(name: str) -> None:
    s = load_split(name)
    n, f, k = SIZES[name]
    assert isinstance(s, Split) and s.name == name and s.n_classes == k and s.n_features == f
    assert s.x_train.dtype == s.x_test.dtype == np.float32
    assert s.y_train.dtype == s.y_test.dtype == np.int64
    assert len(s.x_train) + len(s.x_test) == n
    assert len(s.x_test) == int(np.ceil(0.25 * n))
    assert np.isfinite(s.x_train).all() and np.isfinite(s.x_test).all()
    full = np.bincount(DATASETS[name]().y, minlength=k)
    test = np.bincount(s.y_test, minlength=k)
    train = np.bincount(s.y_train, minlength=k)
    assert (train + test == full).all()
    # stratified: each class's test share is 25% up to rounding
    assert np.all(np.abs(test - 0.25 * full) <= 1.0)


def test_split_matches_sklearn_train_test_split() -> None:
    x, y = load_iris()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    s = load_split("iris", standardize=False)
    np.testing.assert_array_equal(s.x_train, xtr)
    np.testing.assert_array_equal(s.x_test, xte)
    np.testing.assert_array_equal(s.y_train, ytr)
    np.testing.assert_array_equal(s.y_test, yte)


def test_seed_controls_the_split() -> None:
    a, b, c = load_split("wine", seed=0), load_split("wine", seed=0), load_split("wine", seed=1)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)


@pytest.mark.parametrize("name", ["iris", "wine", "breast-cancer"])
def test_standardisation_uses_training_statistics_only(name: str) -> None:
    raw = load_split(name, standardize=False)
    std = load_split(name)  # "auto" = z-score for these sets
    mean = raw.x_train.astype(np.float64).mean(axis=0)
    sd = raw.x_train.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(std.x_train, (raw.x_train - mean) / sd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std.x_test, (raw.x_test - mean) / sd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(std.x_train.std(axis=0), 1.0, atol=1e-4)
    # test rows were not used: their mean is not (all) zero
    assert np.abs(std.x_test.mean(axis=0)).max() > 1e-3


def test_digits_default_is_unit_scaling() -> None:
    raw = load_split("digits", standardize=False)
    s = load_split("digits")
    assert s.x_train.min() >= 0.0 and s.x_train.max() == 1.0
    np.testing.assert_array_equal(s.x_train, raw.x_train / 16)
    np.testing.assert_array_equal(load_split("digits", standardize="unit").x_test, s.x_test)
    assert load_digits().x.max() == 16.0


def test_digits_zscore_handles_constant_pixels() -> None:
    raw = load_split("digits", standardize=False)
    z = load_split("digits", standardize=True)
    constant = raw.x_train.max(axis=0) == raw.x_train.min(axis=0)
    assert constant.any()  # e.g. the top-left pixel is always 0
    assert np.isfinite(z.x_train).all() and np.isfinite(z.x_test).all()
    assert (z.x_train[:, constant] == 0).all()


def test_name_aliases_and_errors() -> None:
    assert load_split("Breast_Cancer").name == "breast-cancer"
    with pytest.raises(ValueError, match="choose one of digits, breast-cancer, iris, wine"):
        load_split("mnist-ish")
    with pytest.raises(ValueError, match="pass standardize=True"):
        load_split("iris", standardize="unit")
    with pytest.raises(ValueError, match="pass 'auto', True"):
        load_split("iris", standardize="minmax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_size=1.5 must be in"):
        load_split("iris", test_size=1.5)
    with pytest.raises(ValueError, match="at least one row per class"):
        load_split("iris", test_size=2)
