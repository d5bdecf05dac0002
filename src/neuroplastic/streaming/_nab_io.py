"""NAB corpus reading: streams (``timestamp,value`` CSVs), the corpus layout, label windows.

Split from :mod:`neuroplastic.streaming.nab`, which re-exports everything here; see that
module for the corpus layout and the scorer.
"""
from __future__ import annotations

import csv
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from neuroplastic._core.checks import check_in_choices


def _format_timestamps(ts: np.ndarray) -> list[str]:
    ts = np.asarray(ts).astype("datetime64[ns]")
    ns = ts.astype(np.int64)
    unit = "s" if not np.any(ns % 1_000_000_000) else ("us" if not np.any(ns % 1000) else "ns")
    return [t.replace("T", " ") for t in np.datetime_as_string(ts, unit=unit).tolist()]


@dataclass(frozen=True)
class Stream:
    """One NAB data file.

    Attributes:
        name: path relative to the corpus ``data/`` folder, e.g.
            ``"realKnownCause/nyc_taxi.csv"`` (the key NAB's label files use).
        timestamps: ``datetime64[ns]`` array, strictly increasing.
        values: float64 array of the same length.
    """

    name: str
    timestamps: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)

    @property
    def category(self) -> str:
        """The folder of the stream, e.g. ``"realKnownCause"``."""
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""

    def __len__(self) -> int:
        return len(self.values)


def _parse_timestamps(raw: list[str], path: str | os.PathLike, first_line: int) -> np.ndarray:
    """Parse ISO-like timestamp strings; errors name the file and line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.array(raw, dtype="datetime64[ns]")
        except (ValueError, UserWarning, DeprecationWarning):
            pass
        for j, t in enumerate(raw):
            try:
                np.datetime64(t, "ns")
            except (ValueError, UserWarning, DeprecationWarning):
                raise ValueError(
                    f"{path}, line {first_line + j}: cannot parse timestamp {t!r}: "
                    "use 'YYYY-MM-DD HH:MM:SS' without a time zone"
                ) from None
    raise ValueError(f"{path}: cannot parse timestamps")  # pragma: no cover


def _parse_floats(raw: list[str], column: str, path: str | os.PathLike, first_line: int) -> np.ndarray:
    """Parse finite floats; errors name the file, line and column."""
    out = np.empty(len(raw), dtype=np.float64)
    for j, v in enumerate(raw):
        try:
            x = float(v)
        except ValueError:
            raise ValueError(
                f"{path}, line {first_line + j}: {column} {v!r} is not a number: fix or drop the row"
            ) from None
        if not math.isfinite(x):
            raise ValueError(
                f"{path}, line {first_line + j}: {column} is {v!r}: NAB needs finite values; "
                "impute or drop the row"
            )
        out[j] = x
    return out


def _check_increasing(
    ts: np.ndarray, path: str | os.PathLike, first_line: int, duplicates: str = "error"
) -> None:
    """Raise unless timestamps increase (strictly, unless ``duplicates == "keep"``)."""
    check_in_choices("duplicates", duplicates, ("error", "keep"))
    if ts.size < 2:
        return
    d = np.diff(ts.astype(np.int64))
    bad = np.nonzero(d < 0 if duplicates == "keep" else d <= 0)[0]
    if bad.size:
        j = int(bad[0]) + 1
        where = f"{path}, line {first_line + j}" if first_line else f"{path}, row {j}"
        t = _format_timestamps(ts[j : j + 1])[0]
        if d[bad[0]] == 0:
            raise ValueError(
                f"{where}: timestamp {t} duplicates the previous row: de-duplicate the file, or pass "
                "duplicates='keep' to keep both rows as NAB does (4 files of the official corpus "
                "have one duplicated timestamp)"
            )
        raise ValueError(
            f"{where}: timestamp {t} is earlier than the previous row: "
            "NAB streams must be sorted by time; sort the file"
        )


def _read_columns(path: str | os.PathLike, required: Sequence[str]) -> dict[str, list[str]]:
    """Read a CSV with a header into columns, checking that ``required`` exist."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file: expected a header {','.join(required)}")
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)} (header is {','.join(header)}): "
                f"NAB files need the columns {','.join(required)}"
            )
        pos = {c: header.index(c) for c in required}
        cols: dict[str, list[str]] = {c: [] for c in required}
        width = len(header)
        for line, row in enumerate(reader, start=2):
            if len(row) != width:
                raise ValueError(
                    f"{path}, line {line}: {len(row)} fields, header has {width}: fix the row"
                )
            for c, p in pos.items():
                cols[c].append(row[p])
    if not cols[required[0]]:
        raise ValueError(f"{path}: no data rows")
    return cols


def read_stream(path: str | os.PathLike, name: str | None = None, *, duplicates: str = "error") -> Stream:
    """Read one NAB data file (``timestamp,value``).

    Args:
        path: the CSV file.
        name: stream name; defaults to ``<parent folder>/<file name>``.
        duplicates: ``"error"`` rejects a repeated timestamp; ``"keep"`` keeps both
            rows, as NAB does (needed to reproduce NAB on its official corpus, where
            four files repeat one timestamp).

    Returns:
        The :class:`Stream`.

    Raises:
        ValueError: missing columns, unparsable or non-finite values, bad or
            unsorted or duplicated timestamps (the message names file and line).
    """
    p = Path(path)
    cols = _read_columns(p, ("timestamp", "value"))
    ts = _parse_timestamps(cols["timestamp"], p, 2)
    _check_increasing(ts, p, 2, duplicates)
    values = _parse_floats(cols["value"], "value", p, 2)
    return Stream(name=name or f"{p.parent.name}/{p.name}", timestamps=ts, values=values)


def _data_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    if (root / "data").is_dir():
        return root / "data"
    if root.is_dir():
        return root
    raise FileNotFoundError(f"{root}: not a NAB corpus folder: pass the folder holding data/ and labels/")


def read_corpus(root: str | os.PathLike, *, duplicates: str = "error") -> dict[str, Stream]:
    """Read every ``data/<category>/<name>.csv`` of a NAB corpus.

    Args:
        root: the corpus root (holding ``data/`` and ``labels/``) or its ``data/``.
        duplicates: as in :func:`read_stream`; pass ``"keep"`` for the official
            corpus to score rows exactly as NAB does.

    Returns:
        ``{"<category>/<name>.csv": Stream}``, sorted by name.
    """
    data = _data_dir(root)
    out: dict[str, Stream] = {}
    for p in sorted(data.rglob("*.csv")):
        if any(part.startswith(".") for part in p.relative_to(data).parts):
            continue
        name = p.relative_to(data).as_posix()
        out[name] = read_stream(p, name, duplicates=duplicates)
    if not out:
        raise FileNotFoundError(f"{data}: no CSV files found: expected data/<category>/<name>.csv")
    return out


def read_windows(
    root: str | os.PathLike, filename: str = "combined_windows.json"
) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read NAB anomaly windows (``labels/combined_windows.json``).

    Args:
        root: the corpus root, or the path of a windows JSON file.
        filename: file inside ``<root>/labels/``.

    Returns:
        ``{"<category>/<name>.csv": [(start, end), ...]}`` with ``datetime64[ns]``
        limits, in file order.
    """
    root = Path(root)
    path = root if root.is_file() else root / "labels" / filename
    with open(path) as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of stream name -> list of windows")
    out: dict[str, list[tuple[np.datetime64, np.datetime64]]] = {}
    for name, wins in raw.items():
        parsed = []
        for k, w in enumerate(wins):
            if not (isinstance(w, (list, tuple)) and len(w) == 2):
                raise ValueError(f"{path}: {name} window {k} is {w!r}: expected [start, end]")
            try:
                parsed.append((np.datetime64(w[0], "ns"), np.datetime64(w[1], "ns")))
            except ValueError:
                raise ValueError(f"{path}: {name} window {k} has an unparsable timestamp {w!r}") from None
        out[name] = parsed
    return out


def label_stream(timestamps: np.ndarray, windows: Sequence[tuple[np.datetime64, np.datetime64]]) -> np.ndarray:
    """Row labels as NAB builds them: 1 inside any window (both ends included), else 0.

    Args:
        timestamps: ``datetime64`` array.
        windows: ``(start, end)`` limits.

    Returns:
        int64 array of 0/1, same length as ``timestamps``.
    """
    ts = np.asarray(timestamps).astype("datetime64[ns]")
    lab = np.zeros(ts.shape[0], dtype=np.int64)
    for t1, t2 in windows:
        lab[(ts >= np.datetime64(t1, "ns")) & (ts <= np.datetime64(t2, "ns"))] = 1
    return lab
