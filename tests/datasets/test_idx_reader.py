"""IDX parsing on tiny handmade files, MNIST-style folders, and `data_root`."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import neuroplastic.datasets.mnist as mnist_mod
from neuroplastic.datasets import (
    data_root,
    find_idx_files,
    load_fashion_mnist,
    load_mnist,
    mnist_split,
    read_idx,
)

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
         np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` as IDX by hand: 0x0000, type code, ndim, big-endian dims, data."""
    big = arr.astype(arr.dtype.newbyteorder(">"))
    header = struct.pack(">HBB", 0, CODES[big.dtype], arr.ndim)
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + big.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool | None = None) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if (path.suffix == ".gz" if gz is None else gz) else data)
    return path


def tiny_images(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    return x, (np.arange(n) % 10).astype(np.uint8)


def write_pair(folder: Path, prefix: str, n: int = 6, gz: bool = True, sep: str = "-",
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = tiny_images(n, seed)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{ext}", x)
    write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{ext}", y)
    return x, y


# ----------------------------------------------------------------------------- read_idx
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path: Path, dtype: str, gz: bool) -> None:
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if np.dtype(dtype) == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "a-idx3-ubyte", arr, gz=gz))
    assert out.shape == (2, 3, 4) and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_read_idx_labels_by_struct(tmp_path: Path) -> None:
    f = tmp_path / "l-idx1-ubyte"
    f.write_bytes(struct.pack(">IIBBB", 0x00000801, 3, 7, 0, 9))
    assert read_idx(f).tolist() == [7, 0, 9]


def test_bad_magic(tmp_path: Path) -> None:
    f = tmp_path / "zip-idx3-ubyte"
    f.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match=r"bad magic number 0x504B0304.*not an IDX file"):
        read_idx(f)
    f.write_bytes(struct.pack(">I", 0x00000A03) + bytes(12))  # unknown type code 0x0A
    with pytest.raises(ValueError, match="bad magic number 0x00000A03"):
        read_idx(f)


def test_truncated_data_header_and_gzip(tmp_path: Path) -> None:
    x, _ = tiny_images(3)
    data = idx_bytes(x)
    f = tmp_path / "t-images-idx3-ubyte"
    f.write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"truncated: the header promises shape \(3, 28, 28\) "
                                         r"\(2352 bytes of data\) but only 2342.*copy"):
        read_idx(f)
    f.write_bytes(data[:9])
    with pytest.raises(ValueError, match="header of 3 dimensions needs 16 bytes.*truncated"):
        read_idx(f)
    f.write_bytes(data[:2])
    with pytest.raises(ValueError, match="too short for an IDX header"):
        read_idx(f)
    g = tmp_path / "t-images-idx3-ubyte.gz"
    g.write_bytes(gzip.compress(data)[:-30])
    with pytest.raises(ValueError, match="gzip stream ends early.*truncated"):
        read_idx(g)
    f.write_bytes(data + b"\x00\x01")
    with pytest.raises(ValueError, match="2 unexpected bytes after"):
        read_idx(f)


def test_missing_idx_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(tmp_path / "none-idx1-ubyte")


# ---------------------------------------------------------------------- MNIST folders
def test_official_names_gzip_and_raw(tmp_path: Path) -> None:
    x, y = write_pair(tmp_path, "train", gz=True)
    xt, yt = write_pair(tmp_path, "t10k", n=4, gz=False, seed=1)
    d = load_mnist(tmp_path)
    assert d.x.shape == (6, 784) and d.x.dtype == np.float32 and d.y.dtype == np.int64
    np.testing.assert_array_equal(d.x, x.reshape(6, -1) / np.float32(255))
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    np.testing.assert_array_equal(d.y, y)
    t = load_mnist(tmp_path, kind="test", flatten=False, scale=False)
    assert t.x.shape == (4, 28, 28) and t.x.dtype == np.uint8
    np.testing.assert_array_equal(t.x, xt)
    assert len(d.feature_names) == 784 and d.feature_names[29] == "pixel_1_1"


def test_dot_names_pairs_and_single_images_path(tmp_path: Path) -> None:
    x, y = write_pair(tmp_path, "train", gz=False, sep=".")
    imgs, labs = find_idx_files(tmp_path)
    assert imgs.name == "train-images.idx3-ubyte" and labs.name == "train-labels.idx1-ubyte"
    np.testing.assert_array_equal(load_mnist((imgs, labs), scale=False, flatten=False).x, x)
    np.testing.assert_array_equal(load_mnist(imgs).y, y)


def test_prefers_full_files_and_finds_mnist_subfolder(tmp_path: Path) -> None:
    write_pair(tmp_path / "mnist", "train-10k", n=5)
    assert find_idx_files(tmp_path)[0].name == "train-10k-images-idx3-ubyte.gz"
    write_pair(tmp_path / "mnist", "train", n=7)
    assert len(load_mnist(tmp_path / "mnist")) == 7


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match=r"no train IDX files.*holds: notes\.txt.*"
                                                r"train-images-idx3-ubyte\(\.gz\)"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "missing")
    x, _ = tiny_images()
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    with pytest.raises(FileNotFoundError, match="not its train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_pair_mismatches(tmp_path: Path) -> None:
    x, y = tiny_images(6)
    imgs = write_idx(tmp_path / "a-images-idx3-ubyte", x)
    labs = write_idx(tmp_path / "a-labels-idx1-ubyte", y[:5])
    with pytest.raises(ValueError, match="holds 6 images but .* holds 5 labels"):
        load_mnist((imgs, labs))
    with pytest.raises(ValueError, match="expected uint8 images .* is this the images file"):
        load_mnist((labs, labs))
    write_idx(labs, np.array([1, 2, 3, 4, 5, 12], dtype=np.uint8))
    with pytest.raises(ValueError, match="label 12 outside 0..9"):
        load_mnist((imgs, labs))


def test_mnist_split_on_tiny_files(tmp_path: Path) -> None:
    x, y = write_pair(tmp_path, "train-10k", n=10)
    s = mnist_split(tmp_path, n_train=6, n_val=3, flatten=False)
    assert s.x_train.shape == (6, 28, 28) and s.x_test.shape == (3, 28, 28)
    np.testing.assert_array_equal(s.y_train, y[:6])
    np.testing.assert_array_equal(s.y_test, y[6:9])
    np.testing.assert_allclose(s.x_test, x[6:9] / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="n_train \\+ n_val = 11 but .* holds 10 images"):
        mnist_split(tmp_path, n_train=8, n_val=3)


def test_fashion_mnist_from_root_and_missing_root(tmp_path: Path) -> None:
    write_pair(tmp_path, "train", n=6)
    write_pair(tmp_path, "t10k", n=4, seed=2)
    s = load_fashion_mnist(tmp_path)
    assert s.name == "fashion-mnist" and s.class_names[9] == "Ankle boot"
    assert s.x_train.shape == (6, 784) and s.x_test.shape == (4, 784)
    with pytest.raises(FileNotFoundError, match=r"apt-get install dataset-fashion-mnist.*root="):
        load_fashion_mnist(tmp_path / "absent")


# ---------------------------------------------------------------------------- data_root
def test_data_root_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path))
    assert data_root() == tmp_path
    write_pair(tmp_path / "mnist", "train-10k", n=3)
    assert len(load_mnist()) == 3
    monkeypatch.setenv("NEUROPLASTIC_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="NEUROPLASTIC_DATA=.*is not a folder.*"
                                                r"\.\./shared/data"):
        data_root()


def test_data_root_relative_to_cwd_and_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEUROPLASTIC_DATA", raising=False)
    monkeypatch.setattr(mnist_mod, "_repo_root", lambda: None)
    work = tmp_path / "repo"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(FileNotFoundError, match=r"set the environment variable NEUROPLASTIC_DATA"
                                                r".*\.\./shared/data"):
        data_root()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert data_root() == (tmp_path / "shared" / "data").resolve()
