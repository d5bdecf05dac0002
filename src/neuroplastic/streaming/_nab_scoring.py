"""Numerical core of the NAB scorer: row geometry and the sorted threshold sweep.

Private module; the public API lives in :mod:`neuroplastic.streaming.nab`. Everything
here is plain numpy over whole arrays, so a sweep over the full corpus (~300k rows)
runs in well under a second.

The rules are those of NAB v1.x (``nab/sweeper.py``, ``nab/optimizer.py``,
``nab/runner.py``) and are restated where they are applied.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: Largest relative position for which the scaled sigmoid is evaluated; beyond it a
#: false positive costs the full weight (NAB: ``if position > 3.0: return -1.0``).
SIGMOID_CUTOFF = 3.0


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's scaled sigmoid of a relative position in or after an anomaly window.

    ``S(y) = 2 / (1 + exp(5 y)) - 1`` (that is ``2 * sigmoid(-5 y) - 1``) for
    ``y <= 3`` and ``S(y) = -1`` for ``y > 3``. ``y = -1`` is the left edge of a
    window (``S = 0.98661``), ``y = 0`` its right edge (``S = 0``), ``y > 0`` false
    positives after it.

    Args:
        position: relative position(s) ``y``.

    Returns:
        ``S(y)`` as a float64 array (0-d for a scalar input).
    """
    y = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > SIGMOID_CUTOFF, -1.0, val)


#: ``S(-1)``: the unweighted score of a detection at a window's first row. NAB divides
#: in-window scores by it so that such a detection is worth exactly ``tpWeight``.
MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(n_rows: int, probation_percent: float = 0.15) -> int:
    """Number of leading rows NAB ignores when scoring a file.

    NAB (``util.getProbationPeriod`` / ``Sweeper._getProbationaryLength``) marks row
    ``i`` probationary when ``i < min(floor(p * n), p * 5000)``; with ``p = 0.15``
    that is ``min(floor(0.15 n), 750)`` rows.

    Args:
        n_rows: rows in the file.
        probation_percent: NAB's ``probationPercent``.

    Returns:
        The count of probationary rows (rows ``0 .. count-1``).
    """
    limit = min(math.floor(probation_percent * n_rows), probation_percent * 5000)
    return max(0, int(math.ceil(limit)))


@dataclass(frozen=True)
class StreamGeometry:
    """Per-row facts about one stream that do not depend on the detector.

    Attributes:
        name: stream name, for messages.
        n_rows: rows in the stream.
        n_probation: leading rows excluded from scoring.
        starts: row index of each window's first row.
        ends: row index of each window's last row.
        inside: ``[n_rows]`` bool, row lies in a window.
        window: ``[n_rows]`` int, index of the window holding the row (or of the last
            window before it; ``-1`` before the first window).
        unweighted: ``[n_rows]`` float, NAB's unweighted sweep score ``S(y)`` of a
            detection at that row (``-1`` before the first window).
    """

    name: str
    n_rows: int
    n_probation: int
    starts: np.ndarray
    ends: np.ndarray
    inside: np.ndarray
    window: np.ndarray
    unweighted: np.ndarray


def _fmt(ts: np.datetime64) -> str:
    return str(np.datetime_as_string(ts, unit="auto")).replace("T", " ")


def stream_geometry(
    name: str,
    timestamps: np.ndarray,
    windows: Sequence[tuple[np.datetime64, np.datetime64]],
    probation_percent: float = 0.15,
) -> StreamGeometry:
    """Locate windows in a stream and compute each row's unweighted NAB sweep score.

    Matches ``Sweeper.calcSweepScore``: a window of width ``w`` rows ending at row
    ``e`` gives row ``i`` inside it ``y = -(e - i + 1) / w``; a row after it (and
    before the next window) gets ``y = (i - e) / (w - 1)``; a row before any window
    scores ``-1``.

    Args:
        name: stream name, for messages.
        timestamps: sorted, unique ``datetime64`` array.
        windows: ``(start, end)`` timestamps; both must be timestamps of the stream
            (NAB enters and leaves a window only on exact timestamp equality).
        probation_percent: NAB's ``probationPercent``.

    Returns:
        The stream's :class:`StreamGeometry`.

    Raises:
        ValueError: a window boundary is not a timestamp of the stream, windows
            overlap or are out of order, or a one-row window is followed by rows
            (NAB divides by ``w - 1`` there and fails).
    """
    ts = np.asarray(timestamps).astype("datetime64[ns]")
    n = len(ts)
    k_win = len(windows)
    starts = np.empty(k_win, dtype=np.int64)
    ends = np.empty(k_win, dtype=np.int64)
    for k, (t1, t2) in enumerate(windows):
        for slot, t in ((starts, t1), (ends, t2)):
            t = np.datetime64(t, "ns")
            j = int(np.searchsorted(ts, t))
            if j >= n or ts[j] != t:
                raise ValueError(
                    f"{name}: window {k} boundary {_fmt(t)} is not a timestamp of the stream: "
                    "NAB windows must start and end on existing rows; fix the labels or the data"
                )
            slot[k] = j
        if starts[k] > ends[k]:
            raise ValueError(f"{name}: window {k} starts after it ends: swap its limits")
        if k and starts[k] <= ends[k - 1]:
            raise ValueError(
                f"{name}: window {k} overlaps or precedes window {k - 1}: "
                "windows must be sorted and disjoint"
            )
    width = (ends - starts + 1).astype(np.float64)
    for k in np.nonzero((width == 1) & (ends < n - 1))[0]:
        raise ValueError(
            f"{name}: window {int(k)} spans a single row and rows follow it; NAB scores false "
            "positives after a window relative to (width - 1) and fails on it: widen the window"
        )

    i = np.arange(n, dtype=np.int64)
    win = np.searchsorted(starts, i, side="right") - 1
    safe = np.maximum(win, 0)
    has_win = win >= 0
    inside = has_win & (i <= ends[safe] if k_win else np.zeros(n, dtype=bool))
    unweighted = np.full(n, -1.0)
    if k_win:
        e = ends[safe]
        w = width[safe]
        pos_in = -(e - i + 1) / w
        with np.errstate(divide="ignore", invalid="ignore"):
            pos_out = np.abs(e - i) / (w - 1.0)
        after = has_win & ~inside
        unweighted[inside] = scaled_sigmoid(pos_in[inside])
        unweighted[after] = scaled_sigmoid(pos_out[after])
    return StreamGeometry(
        name=name,
        n_rows=n,
        n_probation=probation_length(n, probation_percent),
        starts=starts,
        ends=ends,
        inside=inside,
        window=win,
        unweighted=unweighted,
    )


@dataclass(frozen=True)
class CorpusRows:
    """All scorable (post-probation) rows of a corpus, concatenated.

    Attributes:
        names: stream names in concatenation order.
        stream: ``[N]`` index into ``names``.
        scores: ``[N]`` detector anomaly scores.
        unweighted: ``[N]`` unweighted sweep scores.
        window: ``[N]`` corpus-wide window id for rows inside a window, else ``-1``.
        row: ``[N]`` row index within the corpus (orders rows of one window).
        n_windows_scorable: windows with at least one scorable row (the null detector
            scores ``-fnWeight`` for each).
        n_windows_total: all windows of the scored streams (the perfect detector
            scores ``tpWeight`` for each).
    """

    names: tuple[str, ...]
    stream: np.ndarray
    scores: np.ndarray
    unweighted: np.ndarray
    window: np.ndarray
    row: np.ndarray
    n_windows_scorable: int
    n_windows_total: int


def gather_rows(geoms: Sequence[StreamGeometry], scores: Sequence[np.ndarray]) -> CorpusRows:
    """Concatenate the scorable rows of several streams.

    Args:
        geoms: one geometry per stream.
        scores: matching anomaly-score arrays.

    Returns:
        The corpus' :class:`CorpusRows`.
    """
    parts_s, parts_u, parts_w, parts_id, parts_row = [], [], [], [], []
    w_offset = 0
    r_offset = 0
    n_total = 0
    for sid, (g, s) in enumerate(zip(geoms, scores)):
        sl = slice(g.n_probation, g.n_rows)
        inside = g.inside[sl]
        parts_s.append(np.asarray(s, dtype=np.float64)[sl])
        parts_u.append(g.unweighted[sl])
        parts_w.append(np.where(inside, g.window[sl] + w_offset, -1))
        parts_id.append(np.full(g.n_rows - g.n_probation, sid, dtype=np.int64))
        parts_row.append(np.arange(g.n_probation, g.n_rows, dtype=np.int64) + r_offset)
        w_offset += len(g.starts)
        r_offset += g.n_rows
        n_total += len(g.starts)
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.empty(0, dt))
    window = cat(parts_w, np.int64)
    return CorpusRows(
        names=tuple(g.name for g in geoms),
        stream=cat(parts_id, np.int64),
        scores=cat(parts_s, np.float64),
        unweighted=cat(parts_u, np.float64),
        window=window,
        row=cat(parts_row, np.int64),
        n_windows_scorable=int(np.unique(window[window >= 0]).size),
        n_windows_total=n_total,
    )


def weighted(rows: CorpusRows, cost: Mapping[str, float]) -> np.ndarray:
    """Weighted sweep score of a detection at each row (NAB ``sweepScore``).

    In a window: ``S(y) * tpWeight / S(-1)``; outside: ``S(y) * fpWeight``.
    """
    inside = rows.window >= 0
    return np.where(inside, rows.unweighted * cost["tpWeight"] / MAX_TP,
                    rows.unweighted * cost["fpWeight"])


@dataclass(frozen=True)
class Sweep:
    """Raw corpus score at every distinct threshold, highest threshold first.

    ``thresholds[0]`` detects nothing (NAB's start value ``1.1``, or just above the
    largest score if scores exceed it); ``thresholds[j]`` for ``j > 0`` is a distinct
    anomaly score and detects every row whose score is ``>=`` it.
    """

    thresholds: np.ndarray
    raw: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray


def sweep(rows: CorpusRows, cost: Mapping[str, float]) -> Sweep:
    """Score all thresholds at once, as ``Sweeper.calcScoreByThreshold`` does.

    Rows are visited from the highest anomaly score down. A false-positive row adds
    its sweep score; a window adds ``max(-fnWeight, best sweep score of its detected
    rows)``, i.e. only its earliest detection counts (sweep scores fall strictly
    along a window). Done here with one sort, a grouped running minimum of the
    earliest detected row per window, and a cumulative sum.

    Args:
        rows: the corpus' scorable rows.
        cost: cost matrix with ``tpWeight``, ``fpWeight``, ``fnWeight``.

    Returns:
        The :class:`Sweep`.
    """
    fn_w = float(cost["fnWeight"])
    v = weighted(rows, cost)
    n = rows.scores.size
    order = np.argsort(-rows.scores, kind="stable")
    s_sorted = rows.scores[order]
    g_sorted = rows.window[order]
    is_fp = g_sorted < 0
    fp_contrib = np.where(is_fp, v[order], 0.0)
    win_contrib = np.zeros(n)

    win_pos = np.nonzero(~is_fp)[0]
    if win_pos.size:
        gw = g_sorted[win_pos]
        by_win = np.argsort(gw, kind="stable")  # within a window: descending score
        gg = gw[by_win]
        local = (rows.row[order][win_pos][by_win]).astype(np.int64)
        big = np.int64(int(rows.row.max()) + 1)
        offset = (np.int64(gg.max()) - gg) * big  # decreasing across windows
        earliest = np.minimum.accumulate(offset + local) - offset
        # sweep score of the earliest detected row so far, per window
        row_to_pos = np.empty(int(rows.row.max()) + 1, dtype=np.int64)
        row_to_pos[rows.row] = np.arange(n)
        best = v[row_to_pos[earliest]]
        first = np.ones(gg.size, dtype=bool)
        first[1:] = gg[1:] != gg[:-1]
        prev = np.empty_like(best)
        prev[0] = -fn_w
        prev[1:] = best[:-1]
        prev[first] = -fn_w
        win_contrib[win_pos[by_win]] = best - prev

    base = -fn_w * rows.n_windows_scorable
    # false positives and windows summed apart (as NAB's running "fp" part), then added
    total = np.cumsum(fp_contrib) + (base + np.cumsum(win_contrib))
    last = np.ones(n, dtype=bool)
    last[:-1] = s_sorted[1:] != s_sorted[:-1]
    idx = np.nonzero(last)[0]
    top = float(s_sorted[0]) if n else 0.0
    never = 1.1 if top < 1.1 else float(np.nextafter(top, np.inf))
    tp = np.cumsum(~is_fp)[idx]
    fp = np.cumsum(is_fp)[idx]
    n_in = int((~is_fp).sum())
    n_out = n - n_in
    return Sweep(
        thresholds=np.concatenate([[never], s_sorted[idx]]),
        raw=np.concatenate([[base], total[idx]]),
        tp=np.concatenate([[0], tp]),
        fp=np.concatenate([[0], fp]),
        fn=np.concatenate([[n_in], n_in - tp]),
        tn=np.concatenate([[n_out], n_out - fp]),
    )


def per_stream_raw(rows: CorpusRows, cost: Mapping[str, float], threshold: float) -> np.ndarray:
    """Raw NAB score of each stream at a fixed threshold (detection: score ``>=``).

    Args:
        rows: the corpus' scorable rows.
        cost: cost matrix.
        threshold: detection threshold.

    Returns:
        ``[len(rows.names)]`` raw scores.
    """
    v = weighted(rows, cost)
    det = rows.scores >= threshold
    n_streams = len(rows.names)
    out = np.zeros(n_streams)
    fp = det & (rows.window < 0)
    np.add.at(out, rows.stream[fp], v[fp])
    inside = rows.window >= 0
    if inside.any():
        n_w = int(rows.window.max()) + 1
        win_stream = np.full(n_w, -1, dtype=np.int64)
        win_stream[rows.window[inside]] = rows.stream[inside]
        best = np.full(n_w, -float(cost["fnWeight"]))
        m = det & inside
        np.maximum.at(best, rows.window[m], v[m])
        present = win_stream >= 0
        np.add.at(out, win_stream[present], best[present])
    return out
