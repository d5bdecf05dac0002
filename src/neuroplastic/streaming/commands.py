"""The logic behind ``neuroplastic detect`` and ``neuroplastic nab`` (the CLI only wires options).

* :func:`read_numeric_csv` reads any CSV with a header: an optional timestamp column
  (``timestamp``, ``time``, ``date`` or ``datetime``) and numeric columns.
* :func:`detect_csv` streams such a file through a :class:`SpikingAnomalyDetector` and writes one
  anomaly score per input row, in input order.
* :func:`forecast_csv` streams one column through a :class:`SpikingForecaster` and writes, for
  every input row, the forecast of the row after it (the last row's is the forecast of the future).
* :func:`run_nab` runs the detector on every stream of a NAB corpus, writes NAB-layout results
  and, where labels exist, scores them under NAB's three profiles.

Bad input, and what happens to it (no row is ever dropped from the output):

* a missing file/header, a row with the wrong number of fields, a timestamp that cannot be
  parsed, a non-numeric column: an error naming the file, line and column;
* an empty, ``NaN``/``inf`` or non-numeric value: with ``on_bad="error"`` (default) an error
  naming line and column; with ``"hold"`` the column's previous valid value is used (rows before
  any valid value are skipped as below); with ``"skip"`` the row is not shown to the detector and
  scores 0;
* an empty, ``NaT`` or unparsable timestamp, or one outside years 1678-2262: an error naming its
  line; timestamps that are all numbers are Unix time (seconds, or milliseconds from 1e11);
* timestamps that go backwards (a clock that steps back at a daylight-saving change):
  ``strict_time=True`` (the Python default; ``--strict-time`` on the command line) refuses them;
  otherwise the rows are processed in file order, as NAB does, with a warning naming the lines.
  Repeated timestamps are kept and processed in file order (four official NAB files repeat one);
  gaps need nothing: the detector counts rows, not seconds.

Files are read in blocks (:mod:`._csv_stream`): a first pass checks every row, so errors come
before any work or output, and a second feeds the model and writes the output as it goes, so
memory does not grow with the length of the stream. Any of the delimiters ``,`` ``;`` tab ``|``
and UTF-8 (with or without a byte-order mark) or Latin-1 are read. Outputs are checked for
writability before any work and are replaced atomically.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

import numpy as np

from neuroplastic._core.checks import check_output_path
from neuroplastic._core.errors import InputError, StateError
from neuroplastic.streaming import nab
from neuroplastic.streaming._csv_stream import TIME_COLUMNS, CsvStream
from neuroplastic.streaming.anomaly import SpikingAnomalyConfig, SpikingAnomalyDetector
from neuroplastic.streaming.forecast import SpikingForecaster

__all__ = ["NumericTable", "read_numeric_csv", "detect_csv", "forecast_csv", "run_nab", "TIME_COLUMNS"]


@dataclass(frozen=True)
class NumericTable:
    """A CSV read by :func:`read_numeric_csv`.

    Attributes:
        header: the header fields, as in the file.
        rows: every data row's raw fields (kept to write them back unchanged).
        columns: names of the numeric columns used.
        values: ``[n_rows, n_columns]`` float64; NaN where a value was bad.
        valid: ``[n_rows]`` bool, the row may be shown to the detector.
        timestamps: ``datetime64[ns]`` array, or ``None`` without a timestamp column.
    """

    header: list[str]
    rows: list[list[str]]
    columns: tuple[str, ...]
    values: np.ndarray
    valid: np.ndarray
    timestamps: np.ndarray | None


def read_numeric_csv(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    on_bad: str = "error",
    strict_time: bool = True,
    encoding: str = "auto",
) -> NumericTable:
    """Read a CSV of numeric columns (plus an optional timestamp column) into memory.

    ``detect_csv`` and ``forecast_csv`` stream the file instead; this is for files that fit.

    Args:
        path: the file.
        columns: numeric columns to use; default every column except the timestamp.
        on_bad: what to do with an empty, NaN/inf or non-numeric value: ``"error"``,
            ``"hold"`` (previous valid value of the column) or ``"skip"`` (row not learned,
            scored 0). See the module docstring.
        strict_time: refuse timestamps that go backwards (else a warning, rows in file order).
        encoding: ``"auto"`` (UTF-8 with or without BOM, else Latin-1) or a codec name.

    Returns:
        The :class:`NumericTable`.

    Raises:
        ValueError: the file is empty, lacks a requested column, has rows of the wrong width,
            unparsable or backward timestamps, a column that is never numeric, or (with
            ``on_bad="error"``) a bad value. Messages name file, line and column.
    """
    src = CsvStream(path, columns=columns, on_bad=on_bad, strict_time=strict_time, encoding=encoding).validate()
    chunks = list(src.chunks())
    stamps = None if src.t_col is None else np.concatenate([c.timestamps for c in chunks])
    return NumericTable(src.header, [r for c in chunks for r in c.rows], src.columns,
                        np.concatenate([c.values for c in chunks]), np.concatenate([c.valid for c in chunks]), stamps)


def _make_detector(config: SpikingAnomalyConfig | dict | None) -> SpikingAnomalyDetector:
    if isinstance(config, dict):
        return SpikingAnomalyDetector.from_config(config)
    return SpikingAnomalyDetector(config)


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="pt", disable=not enabled, leave=False, mininterval=0.5)


def detect_csv(
    path: str | os.PathLike,
    out: str | os.PathLike | TextIO | None = None,
    *,
    config: SpikingAnomalyConfig | dict | None = None,
    columns: Sequence[str] | None = None,
    on_bad: str = "error",
    progress: bool = True,
    state: str | os.PathLike | None = None,
    strict_time: bool = True,
    encoding: str = "auto",
    return_scores: bool = True,
) -> np.ndarray | None:
    """Stream a CSV through the detector; one anomaly score per input row, in order.

    The file is read in blocks and the output written as it goes, so memory stays flat however
    long the stream (with ``return_scores=False``; the returned array itself is 8 bytes a row).

    Args:
        path: input CSV (see :func:`read_numeric_csv`).
        out: where to write the input rows with an ``anomaly_score`` column appended: a path
            (checked before any work, replaced atomically, never the input itself), an open text
            file (e.g. ``sys.stdout``), or ``None`` to write nothing.
        config: detector settings (a config or a :meth:`SpikingAnomalyDetector.get_config` dict).
        columns: numeric columns to watch (default all but the timestamp); with several, the
            score is the largest of the per-column scores.
        on_bad: handling of bad values, see :func:`read_numeric_csv`.
        progress: show a tqdm progress bar on stderr.
        state: a checkpoint folder: if it holds a saved detector, the stream continues from it
            (its settings win; passing ``config`` too is an error), and the detector is saved there
            again after the last row (atomically), so a stream fed file by file scores as one file.
        strict_time: refuse timestamps that go backwards; ``False`` processes them in file
            order with a warning naming the lines (the command line's default).
        encoding: ``"auto"`` or a codec name.
        return_scores: return the scores (else ``None``).

    Returns:
        ``[n_rows]`` float64 scores in ``[0, 1]`` (or ``None``).
    """
    from neuroplastic import io as npl_io

    _check_outputs(path, out, state)
    src = CsvStream(path, columns=columns, on_bad=on_bad, strict_time=strict_time, encoding=encoding).validate()
    det = _resume(state, config, SpikingAnomalyDetector, lambda: _make_detector(config), "anomaly detector")
    scores = np.zeros(src.n_rows) if return_scores else None
    bar = _progress(src.n_rows, Path(path).name, progress)
    i = 0
    try:
        with _output(out, [*src.header, "anomaly_score"]) as write:
            for chunk in src.chunks():
                s = np.zeros(len(chunk.rows))
                for j in np.flatnonzero(chunk.valid).tolist():
                    s[j] = det.process_one(chunk.values[j])
                if scores is not None:
                    scores[i:i + len(s)] = s
                i += len(s)
                write(chunk.rows, s)
                bar.update(len(s))
    finally:
        bar.close()
    if state is not None:
        npl_io.save(det, state)
    return scores


def _check_outputs(path: str | os.PathLike, out: Any, state: str | os.PathLike | None) -> None:
    """Every output is writable (and not the input) before any work."""
    if out is not None and isinstance(out, (str, os.PathLike)):
        check_output_path(out, inputs=[path])
    if state is not None:
        check_output_path(state, folder=True, inputs=[path], option="--state")


@contextmanager
def _output(out: str | os.PathLike | TextIO | None, header: list[str]) -> Iterator[Callable[[list[list[str]], np.ndarray], None]]:
    """A writer of (rows, one value per row) blocks: to an open text file, or to a temporary file
    beside the path that replaces it at the end (never a half-written output); NaN as an empty field."""
    def writer(f: TextIO) -> Callable[[list[list[str]], np.ndarray], None]:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)

        def write(rows: list[list[str]], vals: np.ndarray) -> None:
            w.writerows([*row, "" if math.isnan(v) else repr(v)] for row, v in zip(rows, vals.tolist()))
        return write

    if out is None:
        yield lambda rows, vals: None
        return
    if isinstance(out, io.TextIOBase) or hasattr(out, "write"):
        yield writer(out)  # type: ignore[arg-type]
        return
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:   # open() gives the umask's mode
            yield writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _resume(state: str | os.PathLike | None, config: Any, cls: type, make: Callable[[], Any], what: str) -> Any:
    """The model saved in ``state`` (continuing its stream) or a new one from ``make``."""
    from neuroplastic import io as npl_io

    if state is not None and (Path(state) / "config.json").is_file():
        if config is not None:
            raise InputError(f"{state} holds a saved {what} with its own settings: drop config, or pass a new "
                             "state folder to start a new stream")
        from neuroplastic.io import CheckpointError

        try:
            model = npl_io.load(state)
        except (CheckpointError, OSError, StateError):
            raise
        except (AttributeError, TypeError, KeyError, IndexError, ValueError, RuntimeError) as e:
            raise StateError(f"the {what} saved in {state} cannot be restored ({type(e).__name__}: {e}): the state "
                             "is damaged or was edited by hand; restore it from a backup, or pass a new --state "
                             "folder to start a new stream") from e
        if not isinstance(model, cls):
            article = "an" if what[0] in "aeiou" else "a"
            raise ValueError(f"{state} holds a {type(model).__name__}, not {article} {what}: pass another state folder")
        return model
    return make()


def forecast_csv(
    path: str | os.PathLike,
    out: str | os.PathLike | TextIO | None = None,
    *,
    column: str | None = None,
    config: dict | None = None,
    on_bad: str = "error",
    progress: bool = True,
    state: str | os.PathLike | None = None,
    strict_time: bool = True,
    encoding: str = "auto",
) -> dict[str, Any]:
    """Stream one column of a CSV through the forecaster, learning as it goes.

    For every input row the output gets ``forecast_next``: the forecast of the *next* row's value,
    made once this row is known (so the last row's is the forecast of the future). Timestamps,
    when the file has them, feed the forecaster's time-of-day and day-of-week fields.

    Args:
        path: input CSV (see :func:`read_numeric_csv`).
        out: where to write the rows with ``forecast_next`` appended (path or open text file; None:
            nothing written).
        column: the numeric column to forecast; required when the file has several.
        config: forecaster settings (a :meth:`SpikingForecaster.get_config` dict without state).
        on_bad: bad values, see :func:`read_numeric_csv`; with ``"skip"`` a bad row is not learned
            and repeats the standing forecast.
        progress: show a tqdm progress bar on stderr.
        state: a checkpoint folder, as for :func:`detect_csv`: continue the stream saved there,
            then save it again after the last row.
        strict_time, encoding: as for :func:`detect_csv`.

    Returns:
        ``forecast_next`` (``[n_rows]``, NaN before the first valid row), ``next`` (the last
        forecast), and over the rows whose value was forecast: ``n``, ``mae`` (forecaster) and
        ``mae_persistence`` (the previous value as the forecast).
    """
    _check_outputs(path, out, state)
    src = CsvStream(path, columns=None if column is None else [column], on_bad=on_bad, strict_time=strict_time,
                    encoding=encoding)
    if len(src.columns) != 1:
        raise InputError(f"{path}: {len(src.columns)} numeric columns ({', '.join(src.columns)}): "
                         "choose one to forecast with column= (CLI: --column NAME)")
    src.validate()
    model = _resume(state, config, SpikingForecaster,
                    lambda: SpikingForecaster.from_config(config) if config else SpikingForecaster(), "forecaster")
    fc = np.full(src.n_rows, np.nan)
    prev_fc, prev_val = math.nan, math.nan
    err_model, err_persist, n, i = 0.0, 0.0, 0, 0
    bar = _progress(src.n_rows, Path(path).name, progress)
    try:
        with _output(out, [*src.header, "forecast_next"]) as write:
            for chunk in src.chunks():
                block = np.empty(len(chunk.rows))
                for j, v in enumerate(chunk.values[:, 0].tolist()):
                    if chunk.valid[j]:
                        if math.isfinite(prev_fc):
                            err_model += abs(v - prev_fc)
                            err_persist += abs(v - prev_val)
                            n += 1
                        prev_fc = model.forecast_one(v, None if chunk.timestamps is None else chunk.timestamps[j])
                        prev_val = v
                    block[j] = prev_fc
                fc[i:i + len(block)] = block
                i += len(block)
                write(chunk.rows, block)
                bar.update(len(block))
    finally:
        bar.close()
    if state is not None:
        from neuroplastic import io as npl_io

        npl_io.save(model, state)
    return {"forecast_next": fc, "next": float(prev_fc), "n": n,
            "mae": err_model / n if n else math.nan, "mae_persistence": err_persist / n if n else math.nan}


def run_nab(
    corpus: str | os.PathLike,
    out: str | os.PathLike,
    threshold: float | None = None,
    json_path: str | os.PathLike | None = None,
    *,
    detector_name: str = "neuroplastic",
    config: SpikingAnomalyConfig | dict | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    strict_time: bool = False,
) -> dict[str, Any]:
    """Run the detector on every stream under ``corpus/data`` and score it where labels exist.

    Results are written as NAB does, ``<out>/<category>/<detector_name>_<file>.csv`` with columns
    ``timestamp,value,anomaly_score,label``. When ``corpus/labels/combined_windows.json`` exists,
    the streams it lists are scored under NAB's three profiles; the threshold is searched once
    for the whole corpus per profile (NAB's optimiser) unless ``threshold`` is given.

    Args:
        corpus: NAB corpus root (holding ``data/`` and optionally ``labels/``).
        out: results folder.
        threshold: fixed detection threshold for every profile, or ``None`` to search it.
        json_path: where to write the summary as JSON (``None``: not written).
        detector_name: prefix of the result files.
        config: detector settings.
        progress: show a tqdm progress bar.
        echo: called with each line of the printed summary (``None``: silent).
        strict_time: refuse a stream whose clock steps back; by default (as NAB) such a stream
            (a daylight-saving change) is processed and scored in file order, with a warning
            naming the lines.

    Returns:
        The summary: ``streams``, ``rows``, ``seconds``, ``points_per_second``, ``config`` and,
        with labels, ``profiles`` ``{profile: {score, threshold, tp, fp, fn, tn}}``,
        ``threshold_searched`` and ``scored_streams``.
    """
    check_output_path(out, folder=True)
    if json_path is not None:
        check_output_path(json_path)
    streams = nab.read_corpus(corpus, duplicates="keep", backwards="error" if strict_time else "warn")
    labels_file = Path(corpus) / "labels" / "combined_windows.json"
    windows = nab.read_windows(corpus) if labels_file.is_file() else None
    cfg = _make_detector(config).get_config()
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    total = sum(len(s) for s in streams.values())
    bar = _progress(total, "nab", progress)
    busy = 0.0
    try:
        for name, s in streams.items():
            det = SpikingAnomalyDetector.from_config(cfg)
            t0 = time.perf_counter()
            scores = np.fromiter((det.process_one(v) for v in s.values.tolist()), np.float64, len(s))
            busy += time.perf_counter() - t0
            lab = nab.label_stream(s.timestamps, windows.get(name, [])) if windows else np.zeros(len(s), np.int64)
            nab.write_results(out, detector_name, name, s.timestamps, s.values, scores, lab)
            results[name] = (s.timestamps, scores)
            bar.update(len(s))
    finally:
        bar.close()
    summary: dict[str, Any] = {
        "detector": detector_name,
        "corpus": str(corpus),
        "streams": len(streams),
        "rows": total,
        "seconds": round(busy, 3),
        "points_per_second": round(total / busy, 1) if busy > 0 else None,
        "config": cfg,
    }
    lines = [f"{detector_name}: {len(streams)} streams, {total} rows, {summary['points_per_second']} points/s"]
    if windows:
        scored = {n: r for n, r in results.items() if n in windows}
        scored, wins = _in_file_order(scored, windows)
        reports = nab.score_all_profiles(scored, wins, threshold)
        summary["threshold_searched"] = threshold is None
        summary["scored_streams"] = len(scored)
        summary["profiles"] = {
            p: {"score": r.score, "threshold": r.threshold, "tp": r.tp, "fp": r.fp, "fn": r.fn, "tn": r.tn}
            for p, r in reports.items()
        }
        how = "searched corpus-wide" if threshold is None else "fixed"
        lines.append(f"NAB scores on {len(scored)} labelled streams (threshold {how}):")
        for p, r in reports.items():
            lines.append(f"  {p:20s} {r.score:7.2f}   threshold {r.threshold:.6g}   TP {r.tp} FP {r.fp} FN {r.fn}")
    else:
        lines.append(f"no {labels_file}: results written, nothing scored")
    if echo is not None:
        for line in lines:
            echo(line)
    if json_path is not None:
        from neuroplastic._core.atomic import atomic_path
        from neuroplastic.io._fs import umask_mode

        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
            os.chmod(tmp, umask_mode())
    return summary


def _in_file_order(results: dict[str, tuple[np.ndarray, np.ndarray]], windows: dict[str, list]
                   ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, list]]:
    """Streams whose clock steps back, made scorable in file order as NAB scores them.

    NAB walks the rows in file order, enters a window at the first row whose timestamp equals its
    start and leaves it at the next row equal to its end. The scorer locates windows by sorted
    timestamps, so such a stream is given the row index as its clock (one second a row) and its
    windows the row indices NAB would enter and leave them at; every score then depends on row
    positions only, exactly as in NAB. Streams in order are passed unchanged.
    """
    out_r, out_w = dict(results), dict(windows)
    for name, (ts, s) in results.items():
        t = np.asarray(ts).astype("datetime64[ns]")
        if t.size < 2 or not (np.diff(t.astype(np.int64)) < 0).any():
            continue
        clock = np.datetime64("2000-01-01T00:00:00", "ns") + np.arange(t.size) * np.timedelta64(1, "s")
        remapped, start_from = [], 0
        for k, (t1, t2) in enumerate(windows[name]):
            idx = []
            for bound in (t1, t2):
                hit = np.flatnonzero(t[start_from:] == np.datetime64(bound, "ns"))
                if not hit.size:
                    raise StateError(f"{name}: window {k} boundary {bound} is not a timestamp of the stream after "
                                     "the previous window: fix the labels or the data")
                idx.append(start_from + int(hit[0]))
                start_from = idx[-1]
            remapped.append((clock[idx[0]], clock[idx[1]]))
            start_from = idx[1] + 1
        out_r[name], out_w[name] = (clock, s), remapped
    return out_r, out_w
