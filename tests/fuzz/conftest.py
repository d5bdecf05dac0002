"""Shared pieces of the fuzz suite: run a command in-process and check the contract.

The contract (issue 17): every command either succeeds (exit 0) or stops with exit code 2 and a
one-line ``Error: ...`` message; never a traceback, never a hang, never a silent change of data.
"""
from __future__ import annotations

import csv
import io
import signal
import traceback
from collections.abc import Sequence

import pytest
from click.testing import CliRunner

from neuroplastic.cli import main

#: Seconds one command may take on these tiny inputs before it counts as a hang.
HANG_SECONDS = 90


class Hang(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_hang():
    def alarm(signum, frame):  # noqa: ANN001
        raise Hang(f"a fuzz example ran over {HANG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, alarm)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def run(args: Sequence[str]):
    """Invoke the CLI in-process; assert exit 0, or 2 with a one-line error and no traceback."""
    signal.alarm(HANG_SECONDS)
    try:
        res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    finally:
        signal.alarm(0)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        tb = "".join(traceback.format_exception(res.exception))
        raise AssertionError(f"{list(args)} raised {type(res.exception).__name__} (a traceback):\n{tb}\n{res.output}")
    assert res.exit_code in (0, 2), (args, res.exit_code, res.output)
    assert "Traceback" not in res.output, res.output
    if res.exit_code == 2:
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, res.stderr
        assert len(errors[0]) > len("Error: ") + 10, res.stderr   # says something
    return res


def write_table(rows: Sequence[Sequence[str]], delimiter: str = ",", encoding: str = "utf-8",
                blank_lines: bool = False) -> bytes:
    """A CSV file's bytes, quoted as the csv module quotes (cells holding the delimiter survive)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    for i, r in enumerate(rows):
        w.writerow(r)
        if blank_lines and i % 3 == 1:
            buf.write("\n")
    text = buf.getvalue()
    return text.encode(encoding, errors="replace")


def read_back(data: bytes, delimiter: str, encoding: str) -> list[list[str]]:
    """The records of a file, read independently of the library (blank lines dropped)."""
    text = data.decode("utf-8-sig" if encoding.startswith("utf-8") else encoding)
    return [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
