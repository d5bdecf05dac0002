"""NAB corpus reading: streams (``timestamp,value`` CSVs), the corpus layout, label windows.

Split from :mod:`neuroplastic.streaming.nab`, which re-exports everything here; see that
module for the corpus layout and the scorer.
"""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from neuroplastic._core.checks import check_in_choices
from neuroplastic._core.errors import DataError
from neuroplastic.datasets.table._read import csv_records


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


#: The range of ``datetime64[ns]`` (years 1678 to 2262), checked so that no date wraps to junk.
_NS_MIN = np.datetime64("1677-09-22", "s")
_NS_MAX = np.datetime64("2262-04-11", "s")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _parse_timestamps(raw: list[str], path: str | os.PathLike, first_line: int | Sequence[int]) -> np.ndarray:
    """Parse timestamps to ``datetime64[ns]``; errors name the file and the line of the bad cell.

    ISO-like text (``YYYY-MM-DD HH:MM:SS``, no time zone) or, when every cell is a number, Unix
    time: seconds, or milliseconds when the numbers are 1e11 or more (year 5138 in seconds). An
    empty or ``NaT`` cell, an unparsable one and a date outside years 1678-2262 (what
    ``datetime64[ns]`` holds) are errors naming their own line. ``first_line`` is the line of
    ``raw[0]`` (following rows on following lines), or the line of every cell.
    """
    def line(j: int) -> int:
        return first_line + j if isinstance(first_line, int) else int(first_line[j])

    def fail(j: int, why: str) -> DataError:
        return DataError(f"{path}, line {line(j)}: {why}")

    cells = [t.strip() for t in raw]
    for j, t in enumerate(cells):
        if not t or t.lower() in ("nat", "nan", "na", "null", "none"):
            raise fail(j, f"timestamp is {'empty' if not t else repr(t)}: fill it in or drop the row")
    if cells and all(_NUMBER.fullmatch(t) for t in cells):
        v = np.array([float(t) for t in cells])
        ms = bool(np.abs(v).min() >= 1e11)
        secs = v / 1000.0 if ms else v
        ok = (secs >= _NS_MIN.astype(np.int64)) & (secs <= _NS_MAX.astype(np.int64))
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            raise fail(j, f"timestamp {cells[j]!r} read as Unix time ({'ms' if ms else 's'}) is outside years "
                          "1678-2262: write dates as 'YYYY-MM-DD HH:MM:SS'")
        return np.round(secs * 1e9).astype(np.int64).view("datetime64[ns]")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            coarse = np.array(cells, dtype="datetime64[s]")   # wide range: years far off do not wrap
        except (ValueError, UserWarning, DeprecationWarning, OverflowError):
            coarse = None
        if coarse is None:
            for j, t in enumerate(cells):
                try:
                    np.datetime64(t, "s")
                except (ValueError, UserWarning, DeprecationWarning, OverflowError):
                    raise fail(j, f"cannot parse timestamp {t!r}: use 'YYYY-MM-DD HH:MM:SS' without a time zone, "
                                  "or Unix seconds") from None
            raise DataError(f"{path}: cannot parse timestamps")  # pragma: no cover
    out_of_range = (coarse < _NS_MIN) | (coarse > _NS_MAX)
    if out_of_range.any():
        j = int(np.flatnonzero(out_of_range)[0])
        raise fail(j, f"timestamp {cells[j]!r} is outside years 1678-2262, the range supported: fix the date")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(cells, dtype="datetime64[ns]")   # sub-second digits kept


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
    ts: np.ndarray, path: str | os.PathLike, first_line: int | Sequence[int], duplicates: str = "error",
    backwards: str = "error",
) -> np.ndarray:
    """Raise unless timestamps increase (strictly, unless ``duplicates == "keep"``).

    ``backwards="warn"`` accepts a clock that steps back (a daylight-saving change: NAB scores
    rows in file order) with a warning naming the lines; ``"error"`` refuses it. Returns the
    positions of the rows whose timestamp is earlier than the previous row's.
    """
    check_in_choices("duplicates", duplicates, ("error", "keep"))
    check_in_choices("backwards", backwards, ("error", "warn"))
    if ts.size < 2:
        return np.zeros(0, dtype=np.int64)

    def where(j: int) -> str:
        if isinstance(first_line, int):
            return f"{path}, line {first_line + j}" if first_line else f"{path}, row {j}"
        return f"{path}, line {int(first_line[j])}"

    d = np.diff(ts.astype(np.int64))
    back = np.nonzero(d < 0)[0] + 1
    if duplicates != "keep":
        dup = np.nonzero(d == 0)[0]
        if dup.size and (not back.size or dup[0] + 1 < back[0] or backwards == "warn"):
            j = int(dup[0]) + 1
            t = _format_timestamps(ts[j : j + 1])[0]
            raise DataError(
                f"{where(j)}: timestamp {t} duplicates the previous row: de-duplicate the file, or pass "
                "duplicates='keep' to keep both rows as NAB does (4 files of the official corpus "
                "have one duplicated timestamp)"
            )
    if back.size:
        j = int(back[0])
        t, prev = _format_timestamps(ts[[j, j - 1]])
        if backwards == "error":
            raise DataError(
                f"{where(j)}: timestamp {t} is earlier than the previous row ({prev}): sort the file, or "
                "accept a clock that steps back (a daylight-saving change: rows are then used in file order) "
                "by leaving out --strict-time (Python: strict_time=False, or backwards='warn' when reading NAB files)"
            )
        shown = ", ".join(where(int(k)).rsplit("line ", 1)[-1] for k in back[:5])
        more = f" and {back.size - 5} more" if back.size > 5 else ""
        warnings.warn(
            f"{path}: the clock steps back {back.size} time(s), at line(s) {shown}{more} (first: {prev} then {t}, "
            "e.g. a daylight-saving change): rows are processed in file order, as NAB does; pass --strict-time "
            "(Python: backwards='error') to refuse such files",
            UserWarning, stacklevel=3,
        )
    return back


def _read_columns(path: str | os.PathLike, required: Sequence[str]) -> dict[str, list[str]]:
    """Read a CSV with a header into columns, checking that ``required`` exist (any delimiter and
    encoding, see :func:`neuroplastic.datasets.table._read.csv_records`)."""
    records = csv_records(path, skip_blank_fields=False)
    first = next(records, None)
    if first is None:
        raise DataError(f"{path}: empty file: expected a header {','.join(required)}")
    header = [h.strip() for h in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (header is {','.join(header)}): "
            f"NAB files need the columns {','.join(required)}"
        )
    pos = {c: header.index(c) for c in required}
    cols: dict[str, list[str]] = {c: [] for c in required}
    width = len(header)
    for line, row in records:
        if len(row) != width:
            raise DataError(f"{path}, line {line}: {len(row)} fields, header has {width}: fix the row")
        for c, p in pos.items():
            cols[c].append(row[p])
    if not cols[required[0]]:
        raise DataError(f"{path}: no data rows")
    return cols


def read_stream(path: str | os.PathLike, name: str | None = None, *, duplicates: str = "error",
                backwards: str = "error") -> Stream:
    """Read one NAB data file (``timestamp,value``).

    Args:
        path: the CSV file.
        name: stream name; defaults to ``<parent folder>/<file name>``.
        duplicates: ``"error"`` rejects a repeated timestamp; ``"keep"`` keeps both
            rows, as NAB does (needed to reproduce NAB on its official corpus, where
            four files repeat one timestamp).
        backwards: ``"error"`` rejects a timestamp earlier than the previous row's; ``"warn"``
            keeps the rows in file order with a warning naming the lines (a clock that steps back
            an hour at a daylight-saving change), as NAB does.

    Returns:
        The :class:`Stream`.

    Raises:
        ValueError: missing columns, unparsable or non-finite values, bad or
            unsorted or duplicated timestamps (the message names file and line).
    """
    p = Path(path)
    cols = _read_columns(p, ("timestamp", "value"))
    ts = _parse_timestamps(cols["timestamp"], p, 2)
    _check_increasing(ts, p, 2, duplicates, backwards)
    values = _parse_floats(cols["value"], "value", p, 2)
    return Stream(name=name or f"{p.parent.name}/{p.name}", timestamps=ts, values=values)


def _data_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    if (root / "data").is_dir():
        return root / "data"
    if root.is_dir():
        return root
    raise FileNotFoundError(f"{root}: not a NAB corpus folder: pass the folder holding data/ and labels/")


def read_corpus(root: str | os.PathLike, *, duplicates: str = "error", backwards: str = "error") -> dict[str, Stream]:
    """Read every ``data/<category>/<name>.csv`` of a NAB corpus.

    Args:
        root: the corpus root (holding ``data/`` and ``labels/``) or its ``data/``.
        duplicates: as in :func:`read_stream`; pass ``"keep"`` for the official
            corpus to score rows exactly as NAB does.
        backwards: as in :func:`read_stream`.

    Returns:
        ``{"<category>/<name>.csv": Stream}``, sorted by name.
    """
    data = _data_dir(root)
    out: dict[str, Stream] = {}
    for p in sorted(data.rglob("*.csv")):
        if any(part.startswith(".") for part in p.relative_to(data).parts):
            continue
        name = p.relative_to(data).as_posix()
        out[name] = read_stream(p, name, duplicates=duplicates, backwards=backwards)
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
    try:
        with open(path, encoding="utf-8-sig") as f:
            raw = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e}): fix the labels file (NAB's combined_windows.json "
                        "layout: {\"<category>/<name>.csv\": [[start, end], ...]})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object of stream name -> list of windows")
    out: dict[str, list[tuple[np.datetime64, np.datetime64]]] = {}
    for name, wins in raw.items():
        if not isinstance(wins, list):
            raise DataError(f"{path}: {name} has {wins!r}, not a list of [start, end] windows")
        parsed = []
        for k, w in enumerate(wins):
            if not (isinstance(w, (list, tuple)) and len(w) == 2):
                raise ValueError(f"{path}: {name} window {k} is {w!r}: expected [start, end]")
            try:
                parsed.append((np.datetime64(w[0], "ns"), np.datetime64(w[1], "ns")))
            except (ValueError, TypeError, OverflowError):
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
