"""Reader for the IDX binary format used by MNIST and Fashion-MNIST (gzip or raw).

Layout (big-endian): two zero bytes, a type code, the number of dimensions ``D``, then ``D``
uint32 sizes, then the data in C order. ``0x00000803`` opens an image file (uint8, 3 dims),
``0x00000801`` a label file (uint8, 1 dim).
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx"]

#: IDX type code -> numpy dtype (big-endian as stored).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(p: Path) -> bytes:
    raw = p.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise ValueError(
            f"{p.name}: the gzip stream ends early, so the file is truncated (an interrupted "
            f"copy or download?): copy the complete file again ({len(raw)} bytes here)"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise ValueError(f"{p.name}: corrupt gzip data ({e}): copy the file again") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, gzip-compressed (detected by content, not by name) or raw.

    Args:
        path: The ``.idx?-ubyte`` or ``.idx?-ubyte.gz`` file.

    Returns:
        The array with the stored shape, in native byte order (a fresh, writable copy).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Bad magic number or type code, truncated header or data, trailing bytes,
            or corrupt gzip data; the message says which.

    Example:
        >>> import struct, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "tiny-labels-idx1-ubyte"
        >>> _ = f.write_bytes(struct.pack(">IIBBB", 0x801, 3, 7, 0, 9))
        >>> read_idx(f).tolist()
        [7, 0, 9]
    """
    p = Path(path).expanduser()
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "does not exist"
        raise FileNotFoundError(f"IDX file {str(p)!r} {what}: pass the path of an existing "
                                "*-idx1-ubyte / *-idx3-ubyte file (optionally .gz)")
    data = _read_bytes(p)
    if len(data) < 4:
        raise ValueError(f"{p.name}: only {len(data)} bytes, too short for an IDX header (4-byte "
                         "magic number); the file is truncated or not IDX: copy it again")
    magic = struct.unpack(">I", data[:4])[0]
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{p.name}: bad magic number 0x{magic:08X}; an IDX file starts with 0x0000TTDD "
            "(TT type code 08/09/0B/0C/0D/0E, DD number of dimensions >= 1), e.g. 0x00000803 "
            "for images and 0x00000801 for labels: this is not an IDX file (or it is compressed "
            "other than with gzip: decompress it first)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{p.name}: header of {ndim} dimensions needs {header} bytes but the "
                         f"file has {len(data)}: it is truncated, copy it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    count = int(np.prod(dims, dtype=np.int64))
    expected = count * dtype.itemsize
    have = len(data) - header
    if have < expected:
        raise ValueError(
            f"{p.name}: truncated: the header promises shape {tuple(dims)} ({expected} bytes of "
            f"data) but only {have} bytes follow: copy the complete file again"
        )
    if have > expected:
        raise ValueError(
            f"{p.name}: {have - expected} unexpected bytes after the {expected} bytes of data "
            f"that shape {tuple(dims)} needs: the file is corrupt or not one IDX file"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)
