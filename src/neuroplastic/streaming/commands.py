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
* timestamps that go backwards: an error ("sort the file"); repeated timestamps are kept and
  processed in file order (four official NAB files repeat one); gaps need nothing: the detector
  counts rows, not seconds.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np

from neuroplastic._core.checks import check_in_choices
from neuroplastic.streaming import nab
from neuroplastic.streaming.anomaly import SpikingAnomalyConfig, SpikingAnomalyDetector
from neuroplastic.streaming.forecast import SpikingForecaster

__all__ = ["NumericTable", "read_numeric_csv", "detect_csv", "forecast_csv", "run_nab", "TIME_COLUMNS"]

#: Column names recognised as the timestamp (case-insensitive).
TIME_COLUMNS = ("timestamp", "time", "date", "datetime")


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


def _parse_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def read_numeric_csv(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    on_bad: str = "error",
) -> NumericTable:
    """Read a CSV of numeric columns (plus an optional timestamp column).

    Args:
        path: the file.
        columns: numeric columns to use; default every column except the timestamp.
        on_bad: what to do with an empty, NaN/inf or non-numeric value: ``"error"``,
            ``"hold"`` (previous valid value of the column) or ``"skip"`` (row not learned,
            scored 0). See the module docstring.

    Returns:
        The :class:`NumericTable`.

    Raises:
        ValueError: the file is empty, lacks a requested column, has rows of the wrong width,
            unparsable or backward timestamps, a column that is never numeric, or (with
            ``on_bad="error"``) a bad value. Messages name file, line and column.
    """
    check_in_choices("on_bad", on_bad, ("error", "hold", "skip"))
    p = Path(path)
    with open(p, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ValueError(f"{p}: empty file: expected a header line such as 'timestamp,value'")
        header = [h.strip() for h in header]
        rows = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{p}, line {line}: {len(row)} fields, the header has {len(header)}: fix the row")
            rows.append(row)
    if not rows:
        raise ValueError(f"{p}: no data rows after the header")
    lower = [h.lower() for h in header]
    t_col = next((lower.index(c) for c in TIME_COLUMNS if c in lower), None)
    if columns is None:
        use = [i for i in range(len(header)) if i != t_col]
    else:
        missing = [c for c in columns if c not in header]
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(missing)} (header is {','.join(header)})")
        use = [header.index(c) for c in columns]
    if not use:
        raise ValueError(f"{p}: no value column besides {header[t_col]!r}: add a numeric column")
    values = np.array([[_parse_float(r[i]) for i in use] for r in rows], dtype=np.float64)
    never = [header[i] for k, i in enumerate(use) if np.isnan(values[:, k]).all()]
    if never:
        raise ValueError(
            f"{p}: column(s) {', '.join(never)} hold no numbers: pass columns=[...] (CLI: --column) "
            "to choose the numeric ones"
        )
    bad = np.isnan(values)
    if bad.any() and on_bad == "error":
        r, k = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"{p}, line {r + 2}: column {header[use[k]]} is {rows[r][use[k]]!r}, not a finite number: "
            "fix the row, or pass on_bad='hold' (previous value) or 'skip' (row scored 0)"
        )
    valid = np.ones(len(rows), dtype=bool)
    if on_bad == "hold":
        for k in range(values.shape[1]):
            col = values[:, k]
            idx = np.where(~np.isnan(col), np.arange(col.size), -1)
            np.maximum.accumulate(idx, out=idx)
            ok = idx >= 0
            col[ok] = col[idx[ok]]
        valid = ~np.isnan(values).any(axis=1)
    elif on_bad == "skip":
        valid = ~bad.any(axis=1)
    stamps = None
    if t_col is not None:
        raw = [r[t_col].strip() for r in rows]
        stamps = nab._parse_timestamps(raw, p, 2)
        nab._check_increasing(stamps, p, 2, duplicates="keep")
    return NumericTable(header, rows, tuple(header[i] for i in use), values, valid, stamps)


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
) -> np.ndarray:
    """Stream a CSV through the detector; one anomaly score per input row, in order.

    Args:
        path: input CSV (see :func:`read_numeric_csv`).
        out: where to write the input rows with an ``anomaly_score`` column appended: a path,
            an open text file (e.g. ``sys.stdout``), or ``None`` to write nothing.
        config: detector settings (a config or a :meth:`SpikingAnomalyDetector.get_config` dict).
        columns: numeric columns to watch (default all but the timestamp); with several, the
            score is the largest of the per-column scores.
        on_bad: handling of bad values, see :func:`read_numeric_csv`.
        progress: show a tqdm progress bar on stderr.
        state: a checkpoint folder: if it holds a saved detector, the stream continues from it
            (its settings win; passing ``config`` too is an error), and the detector is saved there
            again after the last row (atomically), so a stream fed file by file scores as one file.

    Returns:
        ``[n_rows]`` float64 scores in ``[0, 1]``.
    """
    from neuroplastic import io as npl_io

    table = read_numeric_csv(path, columns=columns, on_bad=on_bad)
    det = _resume(state, config, SpikingAnomalyDetector, lambda: _make_detector(config), "anomaly detector")
    scores = np.zeros(len(table.rows))
    bar = _progress(len(table.rows), Path(path).name, progress)
    try:
        for i in range(len(table.rows)):
            if table.valid[i]:
                scores[i] = det.process_one(table.values[i])
            bar.update(1)
    finally:
        bar.close()
    if out is not None:
        _write_scores(out, table, scores)
    if state is not None:
        npl_io.save(det, state)
    return scores


def _write_scores(out: str | os.PathLike | TextIO, table: NumericTable, scores: np.ndarray,
                  column: str = "anomaly_score") -> None:
    """The input rows with ``column`` appended (``repr`` of each value; NaN as an empty field),
    to an open text file or atomically to a path."""
    def emit(f: TextIO) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*table.header, column])
        for row, s in zip(table.rows, scores.tolist()):
            w.writerow([*row, "" if math.isnan(s) else repr(s)])

    if isinstance(out, io.TextIOBase) or hasattr(out, "write"):
        emit(out)  # type: ignore[arg-type]
        return
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with open(tmp, "w", newline="") as f:
        emit(f)
    os.replace(tmp, dest)


def _resume(state: str | os.PathLike | None, config: Any, cls: type, make: Callable[[], Any], what: str) -> Any:
    """The model saved in ``state`` (continuing its stream) or a new one from ``make``."""
    from neuroplastic import io as npl_io

    if state is not None and (Path(state) / "config.json").is_file():
        if config is not None:
            raise ValueError(f"{state} holds a saved {what} with its own settings: drop config, or pass a new "
                             "state folder to start a new stream")
        model = npl_io.load(state)
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

    Returns:
        ``forecast_next`` (``[n_rows]``, NaN before the first valid row), ``next`` (the last
        forecast), and over the rows whose value was forecast: ``n``, ``mae`` (forecaster) and
        ``mae_persistence`` (the previous value as the forecast).
    """
    table = read_numeric_csv(path, columns=None if column is None else [column], on_bad=on_bad)
    if table.values.shape[1] != 1:
        raise ValueError(f"{path}: {table.values.shape[1]} numeric columns ({', '.join(table.columns)}): "
                         "choose one to forecast with column= (CLI: --column NAME)")
    model = _resume(state, config, SpikingForecaster,
                    lambda: SpikingForecaster.from_config(config) if config else SpikingForecaster(), "forecaster")
    vals = table.values[:, 0]
    fc = np.full(len(vals), np.nan)
    prev_fc, prev_val = math.nan, math.nan
    err_model, err_persist, n = 0.0, 0.0, 0
    bar = _progress(len(vals), Path(path).name, progress)
    try:
        for i, v in enumerate(vals.tolist()):
            if table.valid[i]:
                if math.isfinite(prev_fc):
                    err_model += abs(v - prev_fc)
                    err_persist += abs(v - prev_val)
                    n += 1
                prev_fc = model.forecast_one(v, None if table.timestamps is None else table.timestamps[i])
                prev_val = v
            fc[i] = prev_fc
            bar.update(1)
    finally:
        bar.close()
    if out is not None:
        _write_scores(out, table, fc, column="forecast_next")
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

    Returns:
        The summary: ``streams``, ``rows``, ``seconds``, ``points_per_second``, ``config`` and,
        with labels, ``profiles`` ``{profile: {score, threshold, tp, fp, fn, tn}}``,
        ``threshold_searched`` and ``scored_streams``.
    """
    streams = nab.read_corpus(corpus, duplicates="keep")
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
        reports = nab.score_all_profiles(scored, windows, threshold)
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
        jp = Path(json_path)
        jp.parent.mkdir(parents=True, exist_ok=True)
        jp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
