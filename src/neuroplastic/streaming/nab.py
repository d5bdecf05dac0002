"""Numenta Anomaly Benchmark (NAB): corpus I/O and a faithful, vectorised scorer.

Our own implementation of NAB v1.x scoring (no dependency on the ``nab`` package),
following ``nab/sweeper.py``, ``nab/optimizer.py``, ``nab/runner.py`` and
``config/profiles.json`` of github.com/numenta/NAB:

* Each labelled anomaly window rewards only its earliest detection, by a scaled
  sigmoid of the position in the window: with window width ``w`` rows ending at
  row ``e``, a detection at row ``i`` has ``y = -(e - i + 1) / w`` and earns
  ``tpWeight * S(y) / S(-1)``, where ``S(y) = 2 sigmoid(-5 y) - 1``. A detection
  on the first row earns exactly ``tpWeight``. An undetected window costs
  ``fnWeight``.
* Every detection outside a window is a false positive costing
  ``fpWeight * S(y)`` with ``y = (i - e) / (w - 1)`` measured from the end of the
  previous window (the penalty grows from ~0 right after it to ``fpWeight`` for
  ``y > 3``); before the first window it costs the full ``fpWeight``.
* The first ``min(floor(0.15 n), 750)`` rows of each file are a probationary period
  and are not scored.
* The threshold (detection: ``anomaly_score >= threshold``) is chosen once for the
  whole corpus, maximising the summed raw score over every distinct score value.
* ``score = 100 * (raw - null) / (perfect - null)`` with ``null`` the raw score of
  a detector that never fires (``-fnWeight`` per window) and ``perfect`` equal to
  ``tpWeight`` times the number of windows (NAB's ``tpCount``).

Example:
    >>> import numpy as np
    >>> ts = np.datetime64("2020-01-01") + np.arange(100) * np.timedelta64(1, "h")
    >>> windows = {"toy/a.csv": [(ts[50], ts[59])]}
    >>> scores = np.zeros(100); scores[50] = 1.0
    >>> report = score_corpus({"toy/a.csv": (ts, scores)}, windows)
    >>> round(report.score, 6), report.threshold
    (100.0, 1.0)
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from neuroplastic._core.checks import check_in_choices
from neuroplastic.streaming._nab_io import (  # noqa: F401 - re-exported; commands uses the _ helpers
    Stream,
    _check_increasing,
    _format_timestamps,
    _parse_floats,
    _parse_timestamps,
    _read_columns,
    label_stream,
    read_corpus,
    read_stream,
    read_windows,
)
from neuroplastic.streaming._nab_scoring import (
    MAX_TP,
    CorpusRows,
    gather_rows,
    per_stream_raw,
    probation_length,
    scaled_sigmoid,
    stream_geometry,
    sweep,
)

__all__ = [
    "PROFILES",
    "Stream",
    "ScoreReport",
    "DetectorResult",
    "read_stream",
    "read_corpus",
    "read_windows",
    "label_stream",
    "write_results",
    "read_result_file",
    "read_results",
    "score_corpus",
    "score_all_profiles",
    "threshold_curve",
    "probation_length",
    "scaled_sigmoid",
    "MAX_TP",
]

#: NAB's application profiles (``config/profiles.json``): cost-matrix weights.
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}

Windows = Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]]
Results = Mapping[str, tuple[np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------- results


class DetectorResult(NamedTuple):
    """The columns of one NAB results file."""

    timestamps: np.ndarray
    values: np.ndarray
    anomaly_scores: np.ndarray
    labels: np.ndarray


def _result_path(out: str | os.PathLike, detector: str, name: str) -> Path:
    if "/" not in name or name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"stream name {name!r} must look like '<category>/<file>.csv'")
    category, file = name.rsplit("/", 1)
    return Path(out) / category / f"{detector}_{file}"


def write_results(
    out: str | os.PathLike,
    detector: str,
    name: str,
    timestamps: np.ndarray,
    values: np.ndarray,
    anomaly_scores: np.ndarray,
    labels: np.ndarray,
) -> Path:
    """Write one results file in NAB layout, atomically.

    The file is ``<out>/<category>/<detector>_<file>.csv`` with header
    ``timestamp,value,anomaly_score,label`` (NAB writes ``results/<detector>/...``:
    pass ``out=results/<detector>``). It is written to a temporary file in the same
    folder and moved into place with :func:`os.replace`, so readers never see a
    partial file.

    Args:
        out: results folder for this detector.
        detector: detector name (file prefix); must not contain ``/``.
        name: stream name ``"<category>/<file>.csv"``.
        timestamps: ``datetime64`` array.
        values: the stream values.
        anomaly_scores: detector scores, finite.
        labels: 0/1 window labels (see :func:`label_stream`).

    Returns:
        The path written.
    """
    if not detector or "/" in detector or os.sep in detector:
        raise ValueError(f"detector name {detector!r} must be non-empty without path separators")
    ts = _format_timestamps(timestamps)
    vals = np.asarray(values, dtype=np.float64)
    scores = np.asarray(anomaly_scores, dtype=np.float64)
    labs = np.asarray(labels)
    n = len(ts)
    for what, arr in (("values", vals), ("anomaly_scores", scores), ("labels", labs)):
        if arr.shape != (n,):
            raise ValueError(
                f"{name}: {what} has shape {arr.shape}, timestamps has {n} rows: "
                "pass 1-D arrays of equal length"
            )
    if not np.isfinite(scores).all():
        j = int(np.nonzero(~np.isfinite(scores))[0][0])
        raise ValueError(f"{name}: anomaly score at row {j} is {scores[j]}: NAB scores must be finite")
    path = _result_path(out, detector, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write("timestamp,value,anomaly_score,label\n")
            f.writelines(
                f"{t},{v!r},{s!r},{int(lab)}\n"
                for t, v, s, lab in zip(ts, vals.tolist(), scores.tolist(), labs.tolist())
            )
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_result_file(path: str | os.PathLike, *, duplicates: str = "error") -> DetectorResult:
    """Read one NAB results file (``timestamp,value,anomaly_score,label``).

    Args:
        path: the CSV file.
        duplicates: as in :func:`read_stream`.

    Raises:
        ValueError: as :func:`read_stream`, for any of the four columns.
    """
    cols = _read_columns(path, ("timestamp", "value", "anomaly_score", "label"))
    ts = _parse_timestamps(cols["timestamp"], path, 2)
    _check_increasing(ts, path, 2, duplicates)
    return DetectorResult(
        timestamps=ts,
        values=_parse_floats(cols["value"], "value", path, 2),
        anomaly_scores=_parse_floats(cols["anomaly_score"], "anomaly_score", path, 2),
        labels=_parse_floats(cols["label"], "label", path, 2).astype(np.int64),
    )


def read_results(
    out: str | os.PathLike, detector: str, *, duplicates: str = "error"
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read every ``<out>/<category>/<detector>_<file>.csv`` back, ready to score.

    Args:
        out: results folder of the detector.
        detector: detector name (file prefix).
        duplicates: as in :func:`read_stream`.

    Returns:
        ``{"<category>/<file>.csv": (timestamps, anomaly_scores)}``, sorted by name.
    """
    out = Path(out)
    prefix = f"{detector}_"
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for p in sorted(out.glob(f"*/{prefix}*.csv")):
        r = read_result_file(p, duplicates=duplicates)
        found[f"{p.parent.name}/{p.name[len(prefix):]}"] = (r.timestamps, r.anomaly_scores)
    return found


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoreReport:
    """NAB score of one detector under one profile.

    Attributes:
        profile: profile name.
        threshold: detection threshold used (``score >= threshold`` fires); when it
            was searched, the corpus-wide best.
        score: normalised NAB score, ``100 * (raw - null) / (perfect - null)``.
        raw_score: summed raw score over the corpus.
        null_score: raw score of a detector that never fires.
        perfect_score: ``tpWeight * number of windows``.
        tp, fp, fn, tn: row counts after the probationary period, as NAB reports
            them (a row in a window is a TP if detected, else an FN).
        per_stream: raw score of each stream at ``threshold``.
        searched: whether ``threshold`` was searched.
    """

    profile: str
    threshold: float
    score: float
    raw_score: float
    null_score: float
    perfect_score: float
    tp: int
    fp: int
    fn: int
    tn: int
    per_stream: dict[str, float] = field(repr=False)
    searched: bool = False


def _prepare(results: Results, windows: Windows, probation_percent: float) -> CorpusRows:
    if not results:
        raise ValueError("no results to score: pass {stream name: (timestamps, scores)}")
    geoms, scores = [], []
    for name in sorted(results):
        pair = results[name]
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{name}: expected a (timestamps, anomaly_scores) pair, got {type(pair).__name__}")
        ts = np.asarray(pair[0])
        if not np.issubdtype(ts.dtype, np.datetime64):
            raise TypeError(f"{name}: timestamps must be datetime64, got dtype {ts.dtype}: use np.datetime64 values")
        ts = ts.astype("datetime64[ns]")
        s = np.asarray(pair[1], dtype=np.float64)
        if s.shape != ts.shape or s.ndim != 1:
            raise ValueError(
                f"{name}: {s.shape[0] if s.ndim else 0} scores for {ts.shape[0]} timestamps: "
                "pass one score per row"
            )
        if not np.isfinite(s).all():
            j = int(np.nonzero(~np.isfinite(s))[0][0])
            raise ValueError(f"{name}: anomaly score at row {j} is {s[j]}: scores must be finite")
        _check_increasing(ts, name, 0, duplicates="keep")
        if name not in windows:
            raise KeyError(
                f"{name}: no windows for this stream: add it to the windows "
                "(an empty list if it has no anomaly)"
            )
        geoms.append(stream_geometry(name, ts, windows[name], probation_percent))
        scores.append(s)
    return gather_rows(geoms, scores)


def _report(rows: CorpusRows, profile: str, threshold: float | None) -> ScoreReport:
    cost = PROFILES[check_in_choices("profile", profile, PROFILES)]
    sw = sweep(rows, cost)
    if threshold is None:
        j = int(np.argmax(sw.raw))  # first maximum: the highest threshold, as NAB's stable sort
    else:
        threshold = float(threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold {threshold} must be finite, or None to search it")
        # thresholds[1:] descend; count of distinct scores >= threshold
        j = int(np.searchsorted(-sw.thresholds[1:], -threshold, side="right"))
    thr = float(sw.thresholds[j]) if threshold is None else threshold
    null = -float(cost["fnWeight"]) * rows.n_windows_scorable
    perfect = float(cost["tpWeight"]) * rows.n_windows_total
    if perfect == null:
        raise ValueError("the scored streams hold no anomaly windows: NAB's normalised score is undefined")
    raw = float(sw.raw[j])
    per = per_stream_raw(rows, cost, thr if threshold is not None else float(sw.thresholds[j]))
    return ScoreReport(
        profile=profile,
        threshold=thr,
        score=100.0 * (raw - null) / (perfect - null),
        raw_score=raw,
        null_score=null,
        perfect_score=perfect,
        tp=int(sw.tp[j]),
        fp=int(sw.fp[j]),
        fn=int(sw.fn[j]),
        tn=int(sw.tn[j]),
        per_stream={n: float(x) for n, x in zip(rows.names, per)},
        searched=threshold is None,
    )


def score_corpus(
    results: Results,
    windows: Windows,
    profile: str = "standard",
    threshold: float | None = None,
    *,
    probation_percent: float = 0.15,
) -> ScoreReport:
    """Score a detector's results on a NAB corpus under one profile.

    Args:
        results: ``{stream name: (timestamps, anomaly_scores)}``; every name must be
            a key of ``windows``.
        windows: anomaly windows per stream (see :func:`read_windows`).
        profile: ``"standard"``, ``"reward_low_FP_rate"`` or ``"reward_low_FN_rate"``.
        threshold: fixed detection threshold (``score >= threshold`` fires), or
            ``None`` to search the corpus-wide threshold maximising the raw score
            over every distinct score value (NAB's optimiser).
        probation_percent: NAB's ``probationPercent``.

    Returns:
        The :class:`ScoreReport`.
    """
    return _report(_prepare(results, windows, probation_percent), profile, threshold)


def score_all_profiles(
    results: Results,
    windows: Windows,
    threshold: float | Mapping[str, float] | None = None,
    *,
    probation_percent: float = 0.15,
) -> dict[str, ScoreReport]:
    """Score under NAB's three profiles, sharing the per-row preparation.

    Args:
        results: as in :func:`score_corpus`.
        windows: as in :func:`score_corpus`.
        threshold: ``None`` (search per profile, as NAB does), one value for all, or
            ``{profile: threshold}`` (a profile left out is searched).
        probation_percent: NAB's ``probationPercent``.

    Returns:
        ``{profile: ScoreReport}`` in ``PROFILES`` order.
    """
    rows = _prepare(results, windows, probation_percent)
    out = {}
    for name in PROFILES:
        thr = threshold.get(name) if isinstance(threshold, Mapping) else threshold
        out[name] = _report(rows, name, thr)
    return out


def threshold_curve(
    results: Results,
    windows: Windows,
    profile: str = "standard",
    *,
    probation_percent: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score at every distinct threshold (NAB ``calcScoreByThreshold``).

    Returns:
        ``(thresholds, raw_scores)``, thresholds descending; the first detects nothing.
    """
    cost = PROFILES[check_in_choices("profile", profile, PROFILES)]
    sw = sweep(_prepare(results, windows, probation_percent), cost)
    return sw.thresholds, sw.raw
