"""The real MNIST excerpt in ../shared/data and, if installed, Fashion-MNIST."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroplastic.datasets import (
    FASHION_MNIST_ROOT,
    load_fashion_mnist,
    load_mnist,
    mnist_split,
)


def test_mnist_excerpt(shared_data: Path) -> None:
    d = load_mnist(shared_data / "mnist")
    assert d.x.shape == (10000, 784) and d.x.dtype == np.float32 and d.y.dtype == np.int64
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    assert d.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first labels
    assert 0.12 < d.x.mean() < 0.14
    assert (np.bincount(d.y, minlength=10) > 800).all()


def test_mnist_benchmark_split(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(shared_data))
    s = mnist_split()  # default root through $NEUROPLASTIC_DATA
    assert s.x_train.shape == (8000, 784) and s.x_test.shape == (2000, 784)
    assert s.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    full = load_mnist(shared_data, flatten=False)
    np.testing.assert_array_equal(s.x_test.reshape(-1, 28, 28), full.x[8000:])
    np.testing.assert_array_equal(s.y_test, full.y[8000:])
    assert mnist_split(shared_data, flatten=False).x_train.shape == (8000, 28, 28)


@pytest.mark.skipif(not (FASHION_MNIST_ROOT / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_installed() -> None:
    s = load_fashion_mnist()
    assert s.x_train.shape == (60000, 784) and s.x_test.shape == (10000, 784)
    assert (np.bincount(s.y_train) == 6000).all() and (np.bincount(s.y_test) == 1000).all()
    assert s.x_train.dtype == np.float32 and 0.0 <= s.x_test.min() and s.x_test.max() <= 1.0
