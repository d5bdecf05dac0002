"""Opening the CSV files people have: the encoding, the delimiter, long cells, errors naming the file.

Every reader of the library (`read_csv`, the stream commands ``detect``/``forecast``/``nab``)
goes through :func:`csv_records`, which uses the standard library's ``csv`` module (its
``Sniffer`` for the delimiter) and adds:

* the encoding: ``"auto"`` reads UTF-8 with or without a byte-order mark (the mark is dropped, so
  the first column name is clean); a file that is not UTF-8 is read as Latin-1 (every byte is a
  character there) with a warning naming ``encoding=``/``--encoding``; a file with NUL bytes is
  refused as binary;
* the delimiter: ``None`` detects one of ``,`` ``;`` tab ``|`` from the first lines;
* cells of any length (the ``csv`` module's default limit is 131,072 characters);
* every error names the file (and the line).
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from neuroplastic._core.errors import DataError, InputError

__all__ = ["DELIMITERS", "check_input_file", "csv_records", "detect_encoding", "sniff_delimiter"]

#: Delimiters that ``delimiter=None`` detects.
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE = 1 << 16


def check_input_file(path: str | os.PathLike, what: str = "CSV file") -> Path:
    """``path`` as a ``Path`` if it is an existing readable file, else an error naming the fix."""
    p = Path(path).expanduser()
    if not p.is_file():
        what_is = "is a folder, not a file" if p.is_dir() else "does not exist"
        raise FileNotFoundError(
            f"{what} {str(p)!r} {what_is} (resolved to {str(p.resolve())!r}, working directory "
            f"{os.getcwd()!r}): pass the path of an existing .csv file"
        )
    return p


def detect_encoding(path: Path, encoding: str = "auto") -> str:
    """The codec to read ``path`` with (``"utf-8-sig"`` or ``"latin-1"`` under ``"auto"``)."""
    with open(path, "rb") as f:
        head = f.read(_SAMPLE)
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}: pass e.g. utf-8, latin-1 or cp1252") from None
        return encoding
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path} looks binary (it holds NUL bytes), not a CSV text file: pass a CSV file")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError as e:
        warnings.warn(f"{path} is not UTF-8 (byte {head[e.start]:#04x} at offset {e.start}): read as Latin-1; "
                      "pass the right encoding (Python API: encoding=..., command line: --encoding cp1252, say) "
                      "if some characters look wrong", UserWarning, stacklevel=3)
        return "latin-1"


def sniff_delimiter(sample: str, source: str) -> str:
    """One of :data:`DELIMITERS`, from the first lines of a file (``","`` for a single column)."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if len(sample) >= _SAMPLE and len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut short
    if not lines:
        return ","
    counts = {d: lines[0].count(d) for d in DELIMITERS}
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
        if counts.get(found) or not any(counts.values()):   # a delimiter separates the header's names too
            return found
    except csv.Error:
        pass
    # the sniffer gives up on e.g. one data row: take the candidate found in the header the most
    best = max(counts, key=counts.get)  # type: ignore[arg-type]
    return best if counts[best] else ","


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def csv_records(path: str | os.PathLike, *, delimiter: str | None = None, encoding: str = "auto",
                skip_blank_fields: bool = True) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` for every record of a CSV file, header included.

    Empty lines are skipped, and so are records whose fields are all blank (``,,``) unless
    ``skip_blank_fields=False`` (streams keep them: such a row is a bad row, never dropped). Errors (undecodable bytes, a broken quote) name the file and
    line; see the module docstring for ``encoding`` and ``delimiter``.
    """
    p = check_input_file(path)
    enc = detect_encoding(p, encoding)
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise InputError(f"delimiter must be one character, got {delimiter!r}: pass e.g. ',' or ';', "
                         "or None to detect it")
    with open(p, newline="", encoding=enc) as fh:
        line = 0
        try:
            sample = fh.read(_SAMPLE)
            fh.seek(0)
            sep = delimiter or sniff_delimiter(sample, p.name)
            with _no_field_limit():
                reader = csv.reader(fh, delimiter=sep, strict=False)
                for record in reader:
                    line = reader.line_num
                    if not record or (skip_blank_fields and all(not c.strip() for c in record)):
                        continue
                    yield line, record
        except UnicodeDecodeError as e:
            raise DataError(f"{p}, after line {line}: bytes that are not {enc} ({e.reason}): pass the file's "
                            "encoding (Python API: encoding=..., command line: --encoding latin-1, say)") from None
        except csv.Error as e:
            raise DataError(f"{p}, line {line + 1}: {e}: fix the quoting of that row") from None
