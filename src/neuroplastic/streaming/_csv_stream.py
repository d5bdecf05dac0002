"""Reading a numeric CSV stream in chunks, in constant memory, for ``detect`` and ``forecast``.

:class:`CsvStream` reads the file twice: :meth:`CsvStream.validate` goes through every row
first (widths, timestamps, values) so that every error is raised before any work is done or any
output written, and :meth:`CsvStream.chunks` then yields blocks of rows ready to be fed to a
model. Neither holds more than one block (``chunk_rows`` rows) in memory, so a file of a million
rows needs no more memory than one of a hundred thousand.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from neuroplastic._core.checks import check_in_choices
from neuroplastic._core.errors import DataError, InputError
from neuroplastic.datasets.table._read import check_input_file, csv_records
from neuroplastic.streaming._nab_io import _check_increasing, _parse_timestamps

__all__ = ["CHUNK_ROWS", "Chunk", "CsvStream", "TIME_COLUMNS"]

#: Column names recognised as the timestamp (case-insensitive).
TIME_COLUMNS = ("timestamp", "time", "date", "datetime")
#: Rows per block.
CHUNK_ROWS = 8192


@dataclass(frozen=True)
class Chunk:
    """One block of rows.

    Attributes:
        rows: the raw fields of each row (written back unchanged).
        lines: the line number of each row in the file.
        values: ``[n, k]`` float64 of the used columns; NaN where a value is bad (after ``hold``,
            the previous valid value of the column).
        valid: ``[n]`` bool: the row may be shown to the model.
        timestamps: ``datetime64[ns]`` ``[n]``, or ``None`` without a timestamp column.
    """

    rows: list[list[str]]
    lines: np.ndarray
    values: np.ndarray
    valid: np.ndarray
    timestamps: np.ndarray | None


def _floats(cells: list[str]) -> np.ndarray:
    out = np.empty(len(cells))
    for j, t in enumerate(cells):
        try:
            v = float(t)
        except ValueError:
            v = math.nan
        out[j] = v if math.isfinite(v) else math.nan
    return out


class CsvStream:
    """A CSV stream of numeric columns plus an optional timestamp column (see the module docstring).

    Args:
        path: the file (``,`` ``;`` tab or ``|`` delimited; UTF-8 with or without BOM, or Latin-1).
        columns: numeric columns to use (default: all but the timestamp).
        on_bad: ``"error"``, ``"hold"`` or ``"skip"`` for an empty, NaN/inf or non-numeric value.
        strict_time: refuse a timestamp earlier than the previous row's (else: a warning naming
            the lines, and the rows are used in file order).
        encoding: ``"auto"`` or a codec name.
        chunk_rows: rows per block.
    """

    def __init__(self, path: str | os.PathLike, *, columns: Sequence[str] | None = None, on_bad: str = "error",
                 strict_time: bool = True, encoding: str = "auto", chunk_rows: int = CHUNK_ROWS) -> None:
        check_in_choices("on_bad", on_bad, ("error", "hold", "skip"))
        self.path = check_input_file(path)
        self.on_bad, self.strict_time, self.encoding = on_bad, bool(strict_time), encoding
        self.chunk_rows = int(chunk_rows)
        first = next(self._records(), None)
        if first is None or not any(h.strip() for h in first[1]):
            raise DataError(f"{self.path}: empty file: expected a header line such as 'timestamp,value'")
        self.header = [h.strip() for h in first[1]]
        lower = [h.lower() for h in self.header]
        self.t_col = next((lower.index(c) for c in TIME_COLUMNS if c in lower), None)
        if columns is None:
            self.use = [i for i in range(len(self.header)) if i != self.t_col]
        else:
            missing = [c for c in columns if c not in self.header]
            if missing:
                raise InputError(f"{self.path}: missing column(s) {', '.join(missing)} (header is "
                                 f"{','.join(self.header)}): pass one of those to --column")
            self.use = [self.header.index(c) for c in columns]
        if not self.use:
            raise DataError(f"{self.path}: no value column besides {self.header[self.t_col]!r}: add a numeric column")
        self.columns = tuple(self.header[i] for i in self.use)
        self.n_rows = 0
        self.backwards: np.ndarray = np.zeros(0, dtype=np.int64)   # lines where the clock steps back

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        return csv_records(self.path, encoding=self.encoding, skip_blank_fields=False)

    def _raw_chunks(self) -> Iterator[tuple[list[list[str]], np.ndarray]]:
        records = self._records()
        next(records, None)  # the header
        width = len(self.header)
        rows: list[list[str]] = []
        lines: list[int] = []
        for line, row in records:
            if len(row) != width:
                raise DataError(f"{self.path}, line {line}: {len(row)} fields, the header has {width}: fix the row")
            rows.append(row)
            lines.append(line)
            if len(rows) >= self.chunk_rows:
                yield rows, np.asarray(lines)
                rows, lines = [], []
        if rows:
            yield rows, np.asarray(lines)

    def _parse(self, rows: list[list[str]], lines: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        values = np.column_stack([_floats([r[i] for r in rows]) for i in self.use])
        stamps = None
        if self.t_col is not None:
            stamps = _parse_timestamps([r[self.t_col] for r in rows], self.path, lines)
        return values, stamps

    def validate(self) -> CsvStream:
        """Read every row once; raise on the first problem (naming file, line and column)."""
        seen_number = np.zeros(len(self.use), dtype=bool)
        prev_t: np.ndarray | None = None
        prev_line = 0
        back: list[np.ndarray] = []
        first_bad: DataError | None = None   # raised after the whole-column checks
        n = 0
        for rows, lines in self._raw_chunks():
            values, stamps = self._parse(rows, lines)
            bad = np.isnan(values)
            if self.on_bad == "error" and bad.any() and first_bad is None:
                r, k = map(int, np.argwhere(bad)[0])
                first_bad = DataError(
                    f"{self.path}, line {lines[r]}: column {self.header[self.use[k]]} is {rows[r][self.use[k]]!r}, "
                    "not a finite number: fix the row, or pass on_bad='hold' (previous value) or 'skip' "
                    "(row scored 0) (command line: --on-bad hold)"
                )
            seen_number |= ~bad.all(axis=0)
            if stamps is not None:
                both = stamps if prev_t is None else np.concatenate([prev_t, stamps])
                both_lines = lines if prev_t is None else np.concatenate([[prev_line], lines])
                if self.strict_time:
                    _check_increasing(both, self.path, both_lines, "keep", "error")
                back.append(both_lines[self._quiet_backwards(both)])
                prev_t, prev_line = stamps[-1:], int(lines[-1])
            n += len(rows)
        if n == 0:
            raise DataError(f"{self.path}: no data rows after the header")
        never = [self.columns[k] for k in np.flatnonzero(~seen_number)]
        if never:
            raise DataError(f"{self.path}: column(s) {', '.join(never)} hold no numbers: pass columns=[...] "
                            "(command line: --column) to choose the numeric ones")
        if first_bad is not None:
            raise first_bad
        self.n_rows = n
        self.backwards = np.concatenate(back) if back else np.zeros(0, dtype=np.int64)
        if self.backwards.size:
            import warnings

            shown = ", ".join(map(str, self.backwards[:5].tolist()))
            more = f" and {self.backwards.size - 5} more" if self.backwards.size > 5 else ""
            warnings.warn(f"{self.path}: the clock steps back {self.backwards.size} time(s), at line(s) {shown}{more} "
                          "(e.g. a daylight-saving change): rows are processed in file order; pass --strict-time "
                          "(Python: strict_time=True) to refuse such files", UserWarning, stacklevel=2)
        return self

    @staticmethod
    def _quiet_backwards(ts: np.ndarray) -> np.ndarray:
        return np.nonzero(np.diff(ts.astype(np.int64)) < 0)[0] + 1

    def chunks(self) -> Iterator[Chunk]:
        """Blocks of rows with ``on_bad`` applied (call :meth:`validate` first)."""
        last = np.full(len(self.use), np.nan)   # "hold": the previous valid value of each column
        for rows, lines in self._raw_chunks():
            values, stamps = self._parse(rows, lines)
            bad = np.isnan(values)
            if self.on_bad == "hold":
                for k in range(values.shape[1]):
                    col = values[:, k]
                    idx = np.where(~np.isnan(col), np.arange(col.size), -1)
                    np.maximum.accumulate(idx, out=idx)
                    col[:] = np.where(idx >= 0, col[np.maximum(idx, 0)], last[k])
                    if np.isfinite(col[-1]):
                        last[k] = col[-1]
                valid = ~np.isnan(values).any(axis=1)
            elif self.on_bad == "skip":
                valid = ~bad.any(axis=1)
            else:
                valid = np.ones(len(rows), dtype=bool)
            yield Chunk(rows, lines, values, valid, stamps)
