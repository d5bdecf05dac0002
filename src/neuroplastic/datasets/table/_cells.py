"""Reading tables and parsing their cells: `Table`, `read_csv`, and the per-cell rules
(missing values, numbers, categories, class labels) that `TableEncoder` applies."""
from __future__ import annotations

import math
import re
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from neuroplastic._core.errors import DataError
from neuroplastic.datasets.table._read import check_input_file, csv_records

#: Cells read as missing values (compared after stripping and lower-casing).
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none", "?"})
#: The same in a categorical column, where "none" is a category ("symptoms: none").
CATEGORY_MISSING_TOKENS = MISSING_TOKENS - {"none"}

#: A CSV path, a `Table`, ``{column: values}``, a list of ``{column: value}`` rows, or a
#: pandas-like DataFrame (duck typed; pandas is not imported).
TableLike = Union["Table", str, os.PathLike, Mapping[str, Sequence[Any]],
                  Sequence[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Table:
    """Raw cells by column, as read by `read_csv`; pass it anywhere a table is accepted.

    Attributes:
        columns: Column names in file order.
        cells: ``{column: [cell, ...]}``, cells as read (strings for CSV).
        source: What the rows came from (a file name), for messages.
        where: Describes row ``i`` for messages (``"line 7 of data.csv"``).
    """

    columns: list[str]
    cells: dict[str, list[Any]]
    source: str
    where: Callable[[int], str]

    @property
    def n_rows(self) -> int:
        return len(self.cells[self.columns[0]]) if self.columns else 0

    def take(self, idx: np.ndarray) -> Table:
        idx = [int(i) for i in idx]
        outer = self.where
        return Table(
            self.columns,
            {c: [v[i] for i in idx] for c, v in self.cells.items()},
            self.source,
            lambda i: outer(idx[i]),
        )


def _row_where(i: int) -> str:
    return f"row {i}"


def read_csv(path: str | os.PathLike, *, delimiter: str | None = None, encoding: str = "auto") -> Table:
    """Read a CSV file with a header row into columns of strings.

    Blank lines are skipped; cells and header names are stripped of surrounding spaces. The
    delimiter (``,`` ``;`` tab ``|``) is detected unless given; UTF-8 with or without a byte-order
    mark is read as such (the mark is dropped), other files as Latin-1 with a warning (see
    :mod:`neuroplastic.datasets.table._read`). Cells may be of any length. Messages about a row
    name its line in the file. Cells are kept as text, so labels such as ``007`` stay as written.

    Args:
        path: The CSV file.
        delimiter: Field separator, or ``None`` to detect it.
        encoding: ``"auto"`` or a codec name (``"cp1252"``...).

    Returns:
        A `Table`, accepted by `TableEncoder.fit` / ``transform`` and reusable without
        re-reading the file.

    Raises:
        FileNotFoundError: No such file (or it is a folder).
        ValueError: Empty or binary file, a repeated or empty column name, or a row with the
            wrong number of fields.
    """
    p = check_input_file(path)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, record in csv_records(p, delimiter=delimiter, encoding=encoding):
        if header is None:
            header = [c.strip() for c in record]
            continue
        if len(record) != len(header):
            raise DataError(
                f"line {line} of {p.name} has {len(record)} fields but the header "
                f"has {len(header)} ({', '.join(header)}): fix that row (a cell "
                f"with the delimiter inside must be in double quotes)"
            )
        rows.append([c.strip() for c in record])
        lines.append(line)
    if header is None:
        raise DataError(f"CSV file {str(p)!r} is empty: it needs a header row and data rows")
    _check_header(header, p.name)
    if not rows:
        raise DataError(f"CSV file {str(p)!r} has a header but no data rows: add rows")
    cells = {c: [r[j] for r in rows] for j, c in enumerate(header)}
    return Table(header, cells, p.name, lambda i: f"line {lines[i]} of {p.name}")


def _check_header(header: Sequence[str], source: str) -> None:
    for j, c in enumerate(header):
        if not c:
            raise ValueError(f"column {j + 1} of {source} has an empty name: name it in the header")
    seen: set[str] = set()
    for c in header:
        if c in seen:
            raise ValueError(f"column name {c!r} appears twice in {source}: rename one of them")
        seen.add(c)


def _as_table(data: TableLike) -> Table:
    """Accept a CSV path, a ``{column: values}`` mapping, a list of row dicts or a DataFrame."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_csv(data)
    if hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, Mapping):
        # pandas-like DataFrame (duck typed, pandas itself is not imported)
        cols = [str(c) for c in data.columns]
        cells = {str(c): list(data[c]) for c in data.columns}
        _check_header(cols, "the DataFrame")
        return Table(cols, cells, "the DataFrame", _row_where)
    if isinstance(data, Mapping):
        cols = [str(c) for c in data.keys()]
        _check_header(cols, "the table")
        cells = {str(c): list(np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                 for c, v in data.items()}
        lengths = {c: len(v) for c, v in cells.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns have different lengths {lengths}: give every column one "
                             "value per row")
        return Table(cols, cells, "the table", _row_where)
    if isinstance(data, Iterable):
        rows = list(data)
        if not rows or not all(isinstance(r, Mapping) for r in rows):
            raise TypeError(
                "a table must be a CSV path, a {column: values} dict, a non-empty list of "
                "{column: value} row dicts, or a pandas DataFrame"
            )
        cols = [str(c) for c in rows[0].keys()]
        for i, r in enumerate(rows):
            missing = [c for c in cols if c not in r]
            if missing:
                raise ValueError(f"row {i} lacks column(s) {', '.join(missing)}: give every row "
                                 "the same keys")
        return Table(cols, {c: [r[c] for r in rows] for c in cols}, "the rows", _row_where)
    raise TypeError(
        f"cannot read a table from {type(data).__name__}: pass a CSV path, a {{column: values}} "
        "dict, a list of row dicts, or a pandas DataFrame"
    )


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip().lower() in MISSING_TOKENS
    try:
        return bool(math.isnan(v))
    except TypeError:
        return False


def _numeric_column(table: Table, col: str, hint: str) -> np.ndarray:
    """Parse one feature column to float64, or raise naming the column and the first bad row."""
    values = table.cells[col]
    try:
        out = np.asarray(values).astype(np.float64)
        if np.isfinite(out).all():
            return out
    except (ValueError, TypeError):
        pass
    parsed = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):  # slow path: find and describe the first bad cell
        if _is_missing(v):
            raise ValueError(
                f"column {col!r}, {table.where(i)}: missing value ({v!r}): fill it in or drop "
                "that row; missing values are not imputed"
            )
        try:
            f = float(v.strip() if isinstance(v, str) else v)
        except (TypeError, ValueError):
            raise ValueError(
                f"column {col!r}, {table.where(i)}: {v!r} is not a number: convert the column "
                f"to numbers or leave it out with {hint}"
            ) from None
        if not math.isfinite(f):
            raise ValueError(
                f"column {col!r}, {table.where(i)}: {v!r} is not finite: replace it with a "
                "finite number or drop that row"
            )
        parsed[i] = f
    return parsed


def _is_number(v: Any) -> bool:
    """``float()`` reads it (inf too: the numeric path then names it as not finite)."""
    try:
        float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError):
        return False
    return True


def _category_key(v: Any) -> str:
    return v.strip() if isinstance(v, str) else str(v)


def _categorical_column(table: Table, col: str) -> list[str]:
    """The stripped text of one categorical column, or raise naming a missing cell."""
    out = []
    for i, v in enumerate(table.cells[col]):
        if _is_missing(v) and not (isinstance(v, str) and v.strip().lower() not in CATEGORY_MISSING_TOKENS):
            raise ValueError(
                f"column {col!r}, {table.where(i)}: missing value ({v!r}): fill it in (a category of "
                "its own such as 'unknown' is fine) or drop that row; missing values are not imputed"
            )
        out.append(_category_key(v))
    return out


#: An integer written the canonical way (no sign "+", no leading zeros): read as that integer.
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_INT64 = (-(2**63), 2**63 - 1)


def _label_key(v: Any, as_int: bool) -> Any:
    """Normalise one target cell: an int if the classes are integers, else a stripped string.

    Exact, never through float: the text ``"02134"`` is not the integer 2134 (both may be
    classes), ``"01"`` stays ``"01"``, and large integers keep every digit.
    """
    if isinstance(v, np.generic):
        v = v.item()
    if as_int:
        if isinstance(v, bool):
            raise ValueError
        if isinstance(v, int):
            k = v
        elif isinstance(v, float):
            if not (math.isfinite(v) and v.is_integer() and abs(v) < 2**53):
                raise ValueError
            k = int(v)
        elif isinstance(v, str) and _CANONICAL_INT.fullmatch(v.strip()):
            k = int(v.strip())
        else:
            raise ValueError
        if not _INT64[0] <= k <= _INT64[1]:
            raise ValueError
        return k
    return v.strip() if isinstance(v, str) else str(v)


def _all_integral(values: Sequence[Any]) -> bool:
    try:
        for v in values:
            _label_key(v, True)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _encode_labels(t: Table, target: str) -> tuple[list[Any], np.ndarray]:
    """Sorted distinct labels of ``target`` (ints if all integral, else strings) and codes."""
    raw = t.cells[target]
    for i, v in enumerate(raw):
        if _is_missing(v):
            raise ValueError(
                f"target column {target!r}, {t.where(i)}: missing label ({v!r}): fill it in or "
                "drop that row"
            )
    as_int = _all_integral(raw)
    keys = [_label_key(v, as_int) for v in raw]
    classes = sorted(set(keys))
    code = {k: i for i, k in enumerate(classes)}
    return classes, np.array([code[k] for k in keys], dtype=np.int64)
