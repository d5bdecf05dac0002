"""MNIST and Fashion-MNIST from local IDX files; nothing is downloaded.

Where the data lives (`data_root`): the folder named by the environment variable
``NEUROPLASTIC_DATA``, else ``../shared/data`` relative to the working directory, else
``shared/data`` beside the repository (the folder that holds neuroplastic's ``pyproject.toml``).
MNIST files sit in its ``mnist/`` subfolder. Fashion-MNIST defaults to the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, Union

import numpy as np

from neuroplastic.datasets._types import Data, Split
from neuroplastic.datasets.idx import read_idx

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "data_root",
    "find_idx_files",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_split",
]

#: Environment variable naming the data folder (the one holding ``mnist/``).
DATA_ENV_VAR = "NEUROPLASTIC_DATA"

#: Where the Debian package ``dataset-fashion-mnist`` installs the official IDX files.
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))

#: File-name prefixes tried in order, per part. ``train-10k`` is our 10,000-image excerpt.
_PREFIXES = {"train": ("train", "train-10k"), "test": ("t10k", "test")}

PathLike = Union[str, os.PathLike]
Source = Union[PathLike, Sequence[PathLike], None]
Kind = Literal["train", "test"]


@lru_cache(maxsize=1)
def _repo_root() -> Path | None:
    """The checkout holding this package (editable installs), found by its pyproject.toml."""
    for parent in Path(__file__).resolve().parents:
        toml = parent / "pyproject.toml"
        if toml.is_file():
            try:
                if 'name = "neuroplastic"' in toml.read_text(encoding="utf-8"):
                    return parent
            except OSError:
                return None
    return None


def _candidates() -> list[Path]:
    found = [Path.cwd() / ".." / "shared" / "data"]
    repo = _repo_root()
    if repo is not None:
        found.append(repo.parent / "shared" / "data")
    return found


def data_root() -> Path:
    """The local data folder: ``$NEUROPLASTIC_DATA``, else ``../shared/data``.

    ``../shared/data`` is tried relative to the working directory, then beside the repository
    of an editable install.

    Returns:
        An existing folder.

    Raises:
        FileNotFoundError: ``$NEUROPLASTIC_DATA`` is set but not a folder, or no candidate
            exists; the message names both ways to fix it.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if p.is_dir():
            return p
        raise FileNotFoundError(
            f"{DATA_ENV_VAR}={env!r} is not a folder: point it at the data folder (the one "
            f"holding mnist/), or unset it to use ../shared/data"
        )
    tried = _candidates()
    for c in tried:
        if c.is_dir():
            return c.resolve()
    looked = ", ".join(str(c.resolve()) for c in tried)
    raise FileNotFoundError(
        f"data folder not found (looked in {looked}): set the environment variable "
        f"{DATA_ENV_VAR} to the folder holding mnist/, or put that folder at ../shared/data "
        "beside the repository, or pass the folder explicitly"
    )


def _first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        for ext in ("", ".gz"):
            if (folder / (n + ext)).is_file():
                return folder / (n + ext)
    return None


def find_idx_files(folder: PathLike, kind: Kind = "train") -> tuple[Path, Path]:
    """Find the images and labels IDX files of one part in a folder.

    Accepts the official names (``train-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` ...,
    with ``-`` or ``.`` before ``idx``, raw or ``.gz``) and our 10k excerpt
    (``train-10k-images-idx3-ubyte.gz``); the official full files win when both are present.
    A folder without them but with an ``mnist/`` subfolder is searched there.

    Args:
        folder: Folder to search.
        kind: ``"train"`` or ``"test"``.

    Returns:
        ``(images_path, labels_path)``.

    Raises:
        FileNotFoundError: Folder missing, or no matching pair (the message lists what is there).
    """
    if kind not in _PREFIXES:
        raise ValueError(f"kind={kind!r}: pass 'train' or 'test'")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"folder {str(root)!r} does not exist: pass the folder holding "
                                "the IDX files, or (images_path, labels_path)")
    partial: tuple[Path, str, str] | None = None
    for prefix in _PREFIXES[kind]:
        images = _first_existing(root, [f"{prefix}-images{s}idx3-ubyte" for s in "-."])
        labels = _first_existing(root, [f"{prefix}-labels{s}idx1-ubyte" for s in "-."])
        if images and labels:
            return images, labels
        if (images or labels) and partial is None:
            partial = (images, prefix, "labels-idx1") if images else (labels, prefix, "images-idx3")
    if partial is not None:
        have, prefix, need = partial
        raise FileNotFoundError(
            f"found {have.name} in {root} but not its {prefix}-{need}-ubyte(.gz) partner: "
            "copy the matching file there"
        )
    if (root / "mnist").is_dir():
        return find_idx_files(root / "mnist", kind)
    listing = ", ".join(sorted(p.name for p in root.iterdir())[:20]) or "nothing"
    first = _PREFIXES[kind][0]
    raise FileNotFoundError(
        f"no {kind} IDX files in {root} (it holds: {listing}): expected "
        f"{first}-images-idx3-ubyte(.gz) and {first}-labels-idx1-ubyte(.gz) (or "
        f"{', '.join(_PREFIXES[kind][1:])}-... names); pass the folder that holds them, or "
        "(images_path, labels_path)"
    )


def _resolve(source: Source, kind: Kind) -> tuple[Path, Path]:
    if source is None:
        return find_idx_files(data_root(), kind)
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if p.is_file():
            name = p.name
            if "images" not in name:
                raise ValueError(f"{name}: pass the images file (*-images-idx3-ubyte), the folder, "
                                 "or (images_path, labels_path)")
            labels = p.with_name(name.replace("images", "labels").replace("idx3", "idx1"))
            if not labels.is_file():
                raise FileNotFoundError(f"labels file {labels.name} not found beside {name}: "
                                        "pass (images_path, labels_path)")
            return p, labels
        return find_idx_files(p, kind)
    items = list(source)
    if len(items) != 2:
        raise ValueError(f"got {len(items)} paths: pass a folder or (images_path, labels_path)")
    return Path(items[0]).expanduser(), Path(items[1]).expanduser()


def _read_pair(images: Path, labels: Path, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an images / labels pair: uint8 ``[N, H, W]`` and int64 ``[N]``."""
    x = read_idx(images)
    y = read_idx(labels)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise ValueError(f"{images.name}: expected uint8 images [N, rows, cols] (magic "
                         f"0x00000803), got {x.dtype} {list(x.shape)}: is this the images file?")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise ValueError(f"{labels.name}: expected uint8 labels [N] (magic 0x00000801), got "
                         f"{y.dtype} {list(y.shape)}: is this the labels file?")
    if len(x) != len(y):
        raise ValueError(f"{images.name} holds {len(x)} images but {labels.name} holds {len(y)} "
                         "labels: pass files of the same part (both train, or both t10k)")
    if len(y) and int(y.max()) >= n_classes:
        raise ValueError(f"{labels.name}: label {int(y.max())} outside 0..{n_classes - 1}: "
                         "the file is corrupt or not MNIST-like")
    return x, y.astype(np.int64)


def _pixels(x: np.ndarray, flatten: bool, scale: bool) -> np.ndarray:
    if flatten:
        x = x.reshape(len(x), -1)
    if scale:
        return np.divide(x, 255, dtype=np.float32)
    return np.ascontiguousarray(x)


def _pixel_names(rows: int, cols: int) -> tuple[str, ...]:
    return tuple(f"pixel_{r}_{c}" for r in range(rows) for c in range(cols))


def load_mnist(
    root_or_files: Source = None,
    *,
    kind: Kind = "train",
    flatten: bool = True,
    scale: bool = True,
) -> Data:
    """Read MNIST (or any MNIST-format set) from IDX files.

    Args:
        root_or_files: A folder holding the files (see `find_idx_files`), the images file
            (labels found beside it), or ``(images_path, labels_path)``. Default:
            ``data_root()``, whose ``mnist/`` subfolder holds our 10k training excerpt.
        kind: ``"train"`` or ``"test"`` (``t10k-*``) when a folder is given.
        flatten: ``[N, 784]`` if true, else ``[N, 28, 28]``.
        scale: float32 pixels in [0, 1] (divided by 255) if true, else raw uint8.

    Returns:
        `Data` with int64 labels 0..9.

    Raises:
        FileNotFoundError: Files or data folder not found (the message names the fix).
        ValueError: Bad magic number, truncated file, images/labels mismatch.
    """
    images, labels = _resolve(root_or_files, kind)
    x, y = _read_pair(images, labels)
    return Data(_pixels(x, flatten, scale), y, _pixel_names(*x.shape[1:]), MNIST_CLASSES, "mnist")


def mnist_split(
    root: Source = None,
    n_train: int = 8000,
    n_val: int = 2000,
    *,
    flatten: bool = True,
) -> Split:
    """Our MNIST benchmark split: the first ``n_train`` training images for training and the
    next ``n_val`` for validation.

    With the defaults on the 10,000-image excerpt this is images 0-7999 versus the last 2000
    (8000-9999); on the full 60,000-image file it picks the same images, so results compare.

    Args:
        root: As ``root_or_files`` of `load_mnist` (training part).
        n_train: Number of training images, from the start of the file.
        n_val: Number of validation images, right after them (in ``x_test`` / ``y_test``).
        flatten: ``[N, 784]`` if true, else ``[N, 28, 28]``.

    Returns:
        `Split` with float32 pixels in [0, 1] and int64 labels.

    Raises:
        ValueError: ``n_train + n_val`` exceeds the number of images in the file.
    """
    if n_train < 1 or n_val < 0:
        raise ValueError(f"n_train={n_train}, n_val={n_val}: need n_train >= 1 and n_val >= 0")
    images, labels = _resolve(root, "train")
    x, y = _read_pair(images, labels)
    if n_train + n_val > len(x):
        raise ValueError(
            f"n_train + n_val = {n_train + n_val} but {images.name} holds {len(x)} images: lower "
            "them, or pass a folder with the full training file"
        )
    tr, va = slice(0, n_train), slice(n_train, n_train + n_val)
    return Split(
        x_train=_pixels(x[tr], flatten, True),
        y_train=y[tr].copy(),
        x_test=_pixels(x[va], flatten, True),
        y_test=y[va].copy(),
        feature_names=_pixel_names(*x.shape[1:]),
        class_names=MNIST_CLASSES,
        name="mnist",
    )


def load_fashion_mnist(
    root: PathLike | None = None,
    *,
    flatten: bool = True,
    scale: bool = True,
) -> Split:
    """Fashion-MNIST's official split: 60,000 training and 10,000 test images of 10 garments.

    Args:
        root: Folder with ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
            ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``. Default:
            `FASHION_MNIST_ROOT`, where ``apt-get install dataset-fashion-mnist`` puts them.
        flatten: ``[N, 784]`` if true, else ``[N, 28, 28]``.
        scale: float32 pixels in [0, 1] if true, else raw uint8.

    Returns:
        `Split` (``x_test`` is the official test set) with `FASHION_MNIST_CLASSES`.

    Raises:
        FileNotFoundError: Folder or files missing; the message names the package to install.
    """
    folder = Path(root).expanduser() if root is not None else FASHION_MNIST_ROOT
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST folder {str(folder)!r} not found: install the files with "
            "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu, puts them in "
            f"{FASHION_MNIST_ROOT}/) or pass root= a folder holding train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
        )
    x_tr, y_tr = _read_pair(*find_idx_files(folder, "train"))
    x_te, y_te = _read_pair(*find_idx_files(folder, "test"))
    return Split(
        x_train=_pixels(x_tr, flatten, scale),
        y_train=y_tr,
        x_test=_pixels(x_te, flatten, scale),
        y_test=y_te,
        feature_names=_pixel_names(*x_tr.shape[1:]),
        class_names=FASHION_MNIST_CLASSES,
        name="fashion-mnist",
    )
