"""Loaders for embedded and local data. Nothing is downloaded, at import time or ever.

- scikit-learn's bundled sets: `load_digits`, `load_breast_cancer`, `load_iris`, `load_wine`
  (`DATASETS` by name) and `load_split` for a stratified, standardised train/test `Split`.
- Numeric CSV tables: `load_csv` and the reusable, JSON-serialisable `TableEncoder`.
- IDX images: `read_idx`, `load_mnist`, `mnist_split` (our 8000/2000 benchmark split),
  `load_fashion_mnist` (Debian package ``dataset-fashion-mnist``); `data_root` finds
  ``$NEUROPLASTIC_DATA`` or ``../shared/data``.
- Audio: `load_fsdd` (Free Spoken Digit Dataset or any folder of ``{digit}_{speaker}_{take}.wav``)
  returns an `AudioSet` with the standard split; `read_wav` reads one file.
- Events: `read_shd`/`write_shd` (Spiking Heidelberg Digits HDF5, needs h5py), `bin_spikes`,
  `bin_structured` (tonic-style ``x, y, t, p`` arrays) to time-first tensors with masks.

Every loader returns numpy arrays: float32 features and int64 class codes 0..K-1.
"""
from neuroplastic.datasets._types import Data, Split
from neuroplastic.datasets.events import SpikeEvents, bin_spikes, bin_structured, read_shd, write_shd
from neuroplastic.datasets.fsdd import FSDD_TEST_TAKES, AudioSet, load_fsdd, read_wav
from neuroplastic.datasets.bundled import (
    DATASETS,
    load_breast_cancer,
    load_digits,
    load_iris,
    load_split,
    load_wine,
)
from neuroplastic.datasets.idx import read_idx
from neuroplastic.datasets.mnist import (
    DATA_ENV_VAR,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_ROOT,
    data_root,
    find_idx_files,
    load_fashion_mnist,
    load_mnist,
    mnist_split,
)
from neuroplastic.datasets.table import Table, TableEncoder, load_csv, read_csv

__all__ = [
    "FSDD_TEST_TAKES",
    "SpikeEvents",
    "bin_spikes",
    "bin_structured",
    "read_shd",
    "write_shd",
    "AudioSet",
    "load_fsdd",
    "read_wav",
    "DATASETS",
    "DATA_ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "Data",
    "Split",
    "Table",
    "TableEncoder",
    "data_root",
    "find_idx_files",
    "load_breast_cancer",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_iris",
    "load_mnist",
    "load_split",
    "load_wine",
    "mnist_split",
    "read_csv",
    "read_idx",
]
