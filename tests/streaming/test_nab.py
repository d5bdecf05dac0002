"""Tests for the NAB corpus I/O and scorer (neuroplastic.streaming.nab)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from neuroplastic.streaming import nab

STEP = np.timedelta64(5, "m")
T0 = np.datetime64("2020-01-01T00:00:00", "ns")


def S(y: float) -> float:
    """NAB's scaled sigmoid, written out by hand: 2 * sigmoid(-5 y) - 1, or -1 past y = 3."""
    return -1.0 if y > 3.0 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def stamps(n: int) -> np.ndarray:
    return T0 + np.arange(n) * STEP


def nab_root() -> Path | None:
    env = os.environ.get("NEUROPLASTIC_DATA")
    cands = [Path(env)] if env else []
    cands.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    for d in cands:
        for root in (d / "nab", d):
            if (root / "data").is_dir() and (root / "labels" / "combined_windows.json").is_file():
                return root
    return None


# ----------------------------------------------------------------- scoring primitives


def test_scaled_sigmoid_anchor_values():
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.0) == pytest.approx(S(3.0)) and S(3.0) > -1.0
    assert nab.scaled_sigmoid(3.0001) == -1.0
    assert nab.MAX_TP == pytest.approx(S(-1.0))


@pytest.mark.parametrize("n, expected", [(0, 0), (7, 1), (100, 15), (4999, 749), (5000, 750), (22695, 750)])
def test_probation_length(n, expected):
    assert nab.probation_length(n) == expected == min(math.floor(0.15 * n), 750)


# ----------------------------------------------------------------- hand-computed cases

N, WS, WE = 100, 40, 49  # one window on rows 40..49 (width 10); probation = 15 rows
W = WE - WS + 1


def one_stream(detect_rows, profile="standard"):
    ts = stamps(N)
    s = np.zeros(N)
    s[list(detect_rows)] = 1.0
    return nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": [(ts[WS], ts[WE])]}, profile, threshold=0.5)


@pytest.mark.parametrize(
    "rows, raw",
    [
        ([], -1.0),  # false negative
        ([WS], 1.0),  # TP at the window start is worth exactly tpWeight
        ([WE], S(-(WE - WE + 1) / W) / S(-1.0)),  # TP on the last row
        ([WS + 5], S(-(WE - WS - 5 + 1) / W) / S(-1.0)),  # TP mid-window
        ([WS + 5, WS + 2, WE], S(-(WE - WS - 2 + 1) / W) / S(-1.0)),  # only the earliest counts
        ([WE + 1], -1.0 + 0.11 * S((WE + 1 - WE) / (W - 1))),  # FP right after: tiny penalty
        ([WE + 10], -1.0 + 0.11 * S(10 / (W - 1))),  # FP a window-width later
        ([N - 1], -1.0 - 0.11),  # FP far away: y > 3, full fpWeight
        ([20], -1.0 - 0.11),  # FP before any window: full fpWeight
        ([5], -1.0),  # detection inside the probationary period is ignored
        ([WS, 20, N - 1], 1.0 - 0.11 - 0.11),
    ],
)
def test_hand_computed_standard(rows, raw):
    rep = one_stream(rows)
    assert rep.raw_score == pytest.approx(raw, abs=1e-12)
    assert rep.null_score == -1.0 and rep.perfect_score == 1.0
    assert rep.score == pytest.approx(100 * (raw + 1.0) / 2.0, abs=1e-10)
    assert rep.per_stream["c/a.csv"] == pytest.approx(raw, abs=1e-12)


def test_hand_computed_profiles():
    fp_after = S(3 / (W - 1))
    low_fp = one_stream([WE + 3], "reward_low_FP_rate")
    assert low_fp.raw_score == pytest.approx(-1.0 + 0.22 * fp_after)
    low_fn = one_stream([WE + 3], "reward_low_FN_rate")
    assert low_fn.raw_score == pytest.approx(-2.0 + 0.11 * fp_after)
    assert low_fn.null_score == -2.0
    assert low_fn.score == pytest.approx(100 * (low_fn.raw_score + 2.0) / 3.0)


def test_counts_are_rows_after_probation():
    rep = one_stream([WS, WS + 1, 20])
    assert (rep.tp, rep.fp, rep.fn, rep.tn) == (2, 1, W - 2, N - 15 - W - 1)


def test_fp_after_second_window_measured_from_the_nearest_preceding_one():
    ts = stamps(200)
    wins = [(ts[40], ts[49]), (ts[100], ts[119])]  # widths 10 and 20
    s = np.zeros(200)
    s[[40, 100, 125]] = 1.0
    rep = nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": wins}, threshold=1.0)
    assert rep.raw_score == pytest.approx(2.0 + 0.11 * S((125 - 119) / 19))


# ----------------------------------------------------------------- brute-force oracle


def oracle(results, windows, cost, threshold, pp=0.15):
    """Raw NAB score at one threshold, straight from the definitions (slow, loops)."""
    total = 0.0
    for name, (ts, s) in results.items():
        n = len(s)
        first = nab.probation_length(n, pp)
        lims = [(int(np.searchsorted(ts, a)), int(np.searchsorted(ts, b))) for a, b in windows[name]]
        det = [i for i in range(first, n) if s[i] >= threshold]
        for a, b in lims:
            if b < first:
                continue  # window entirely in probation: not scored
            hits = [i for i in det if a <= i <= b]
            total += cost["tpWeight"] * S(-(b - hits[0] + 1) / (b - a + 1)) / S(-1.0) if hits else -cost["fnWeight"]
        for i in det:
            if any(a <= i <= b for a, b in lims):
                continue
            before = [(a, b) for a, b in lims if b < i]
            if not before:
                total -= cost["fpWeight"]
            else:
                a, b = before[-1]
                total += cost["fpWeight"] * S((i - b) / (b - a))
    return total


def random_corpus(rng, n_streams=3, ties=False):
    results, windows = {}, {}
    for k in range(n_streams):
        n = int(rng.integers(30, 160))
        ts = stamps(n)
        cuts = np.sort(rng.choice(np.arange(n), size=2 * int(rng.integers(0, 4)), replace=False))
        windows[f"c/s{k}.csv"] = [(ts[a], ts[b]) for a, b in zip(cuts[::2], cuts[1::2])]
        s = rng.choice([0.0, 0.2, 0.5, 0.8, 1.0], size=n) if ties else rng.random(n)
        results[f"c/s{k}.csv"] = (ts, s)
    return results, windows


@pytest.mark.parametrize("seed", range(6))
def test_sweep_matches_brute_force_at_every_threshold(seed):
    rng = np.random.default_rng(seed)
    results, windows = random_corpus(rng, ties=seed % 2 == 0)
    pp = (0.15, 0.0, 0.3)[seed % 3]
    for profile, cost in nab.PROFILES.items():
        thr, raw = nab.threshold_curve(results, windows, profile, probation_percent=pp)
        assert np.all(np.diff(thr) < 0)
        for t, r in zip(thr, raw):
            assert r == pytest.approx(oracle(results, windows, cost, t, pp), abs=1e-9)
        if any(windows.values()):
            best = nab.score_corpus(results, windows, profile, probation_percent=pp)
            assert best.raw_score == pytest.approx(raw.max(), abs=1e-12)
            assert best.threshold == thr[int(np.argmax(raw))] and best.searched


def test_fixed_threshold_between_scores_and_per_stream_sum():
    rng = np.random.default_rng(7)
    results, windows = random_corpus(rng, n_streams=4)
    windows["c/s0.csv"] = [(results["c/s0.csv"][0][-20], results["c/s0.csv"][0][-5])]
    for t in (0.05, 0.33, 0.9, 1.5):
        rep = nab.score_corpus(results, windows, threshold=t)
        assert rep.raw_score == pytest.approx(oracle(results, windows, nab.PROFILES["standard"], t), abs=1e-9)
        assert sum(rep.per_stream.values()) == pytest.approx(rep.raw_score, abs=1e-9)
        assert rep.threshold == t and not rep.searched


def test_threshold_search_obvious_case():
    # score 0.9 at every window start, 0.6 on rows far from any window, 0.1 elsewhere:
    # 0.9 is the only threshold that catches all windows with no false positive.
    results, windows = {}, {}
    for k in range(3):
        ts = stamps(300)
        s = np.full(300, 0.1)
        windows[f"c/s{k}.csv"] = [(ts[100], ts[119]), (ts[200], ts[219])]
        s[[100, 200]] = 0.9
        s[[60, 160, 280, 290]] = 0.6
        s[[105, 110]] = 0.95 - k / 100  # later in-window detections: must not help
        results[f"c/s{k}.csv"] = (ts, s)
    rep = nab.score_corpus(results, windows)
    assert rep.threshold == 0.9
    assert rep.score == pytest.approx(100.0)
    assert (rep.tp, rep.fp) == (3 * 4, 0)
    lower = nab.score_corpus(results, windows, threshold=0.6)
    assert lower.score < rep.score


# ----------------------------------------------------------------- null / perfect


def null_and_perfect(results_ts, windows):
    null = {k: (ts, np.zeros(len(ts))) for k, ts in results_ts.items()}
    perfect = {}
    for k, ts in results_ts.items():
        s = np.zeros(len(ts))
        for a, _ in windows[k]:
            s[np.searchsorted(ts, a)] = 1.0
        perfect[k] = (ts, s)
    return nab.score_all_profiles(null, windows), nab.score_all_profiles(perfect, windows)


@pytest.mark.parametrize("seed", range(3))
def test_null_zero_perfect_hundred_synthetic(seed):
    rng = np.random.default_rng(seed)
    results_ts, windows = {}, {}
    for k in range(4):
        n = int(rng.integers(200, 2000))
        ts = stamps(n)
        first = nab.probation_length(n)
        starts = np.sort(rng.choice(np.arange(first, n - 10, 30), size=int(rng.integers(0, 4)), replace=False))
        windows[f"c/s{k}.csv"] = [(ts[a], ts[a + int(rng.integers(2, 10))]) for a in starts]
        results_ts[f"c/s{k}.csv"] = ts
    windows["c/s0.csv"] = [(results_ts["c/s0.csv"][-10], results_ts["c/s0.csv"][-3])]
    nulls, perfects = null_and_perfect(results_ts, windows)
    for p in nab.PROFILES:
        assert nulls[p].score == 0.0 and nulls[p].threshold == 1.1
        assert perfects[p].score == pytest.approx(100.0, abs=1e-10)


def test_null_zero_perfect_hundred_real_corpus():
    root = nab_root()
    if root is None:
        pytest.skip("NAB corpus not found: set NEUROPLASTIC_DATA or provide ../shared/data/nab")
    corpus = nab.read_corpus(root, duplicates="keep")
    windows = nab.read_windows(root)
    assert set(windows) == set(corpus)
    nulls, perfects = null_and_perfect({k: s.timestamps for k, s in corpus.items()}, windows)
    n_windows = sum(len(w) for w in windows.values())
    for p, cost in nab.PROFILES.items():
        assert nulls[p].score == 0.0
        assert nulls[p].null_score == -cost["fnWeight"] * n_windows
        assert perfects[p].score == pytest.approx(100.0, abs=1e-10)
        assert perfects[p].perfect_score == cost["tpWeight"] * n_windows


# ----------------------------------------------------------------- files


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_read_corpus_windows_and_labels(tmp_path):
    write_csv(tmp_path / "data/catA/x.csv", "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2.5\n"
              "2020-01-01 00:10:00,3\n")
    write_csv(tmp_path / "data/catB/y.csv", "timestamp,value\n2020-01-01 00:00:00,-1e3\n")
    write_csv(tmp_path / "labels/combined_windows.json",
              '{"catA/x.csv": [["2020-01-01 00:05:00.000000", "2020-01-01 00:10:00.000000"]], "catB/y.csv": []}')
    corpus = nab.read_corpus(tmp_path)
    assert list(corpus) == ["catA/x.csv", "catB/y.csv"]
    x = corpus["catA/x.csv"]
    assert x.category == "catA" and len(x) == 3
    assert x.values.tolist() == [1.0, 2.5, 3.0]
    assert x.timestamps[1] == np.datetime64("2020-01-01T00:05")
    windows = nab.read_windows(tmp_path)
    assert windows["catB/y.csv"] == []
    assert nab.label_stream(x.timestamps, windows["catA/x.csv"]).tolist() == [0, 1, 1]


def test_results_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    ts = stamps(50) + np.timedelta64(1, "s")
    vals, scores = rng.normal(size=50) * 1e6, rng.random(50)
    labels = nab.label_stream(ts, [(ts[10], ts[19])])
    path = nab.write_results(tmp_path / "zdet", "zdet", "realX/foo.csv", ts, vals, scores, labels)
    assert path == tmp_path / "zdet/realX/zdet_foo.csv"
    assert path.read_text().splitlines()[0] == "timestamp,value,anomaly_score,label"
    assert path.read_text().splitlines()[1].startswith("2020-01-01 00:00:01,")
    back = nab.read_result_file(path)
    assert np.array_equal(back.timestamps, ts)
    assert np.array_equal(back.values, vals) and np.array_equal(back.anomaly_scores, scores)
    assert np.array_equal(back.labels, labels)
    # overwrite in place, no temporary files left behind
    nab.write_results(tmp_path / "zdet", "zdet", "realX/foo.csv", ts, vals, scores * 0, labels)
    assert sorted(p.name for p in path.parent.iterdir()) == ["zdet_foo.csv"]
    res = nab.read_results(tmp_path / "zdet", "zdet")
    assert list(res) == ["realX/foo.csv"] and not res["realX/foo.csv"][1].any()


def test_write_results_rejects_bad_input(tmp_path):
    ts = stamps(3)
    with pytest.raises(ValueError, match="finite"):
        nab.write_results(tmp_path, "d", "c/a.csv", ts, np.zeros(3), np.array([0, np.nan, 0]), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        nab.write_results(tmp_path, "d", "c/a.csv", ts, np.zeros(2), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="category"):
        nab.write_results(tmp_path, "d", "a.csv", ts, np.zeros(3), np.zeros(3), np.zeros(3))
    assert not any(tmp_path.rglob("*"))


HEAD = "timestamp,value\n"


@pytest.mark.parametrize(
    "text, match",
    [
        ("time,value\n2020-01-01 00:00:00,1\n", "missing column.*timestamp"),
        ("timestamp\n2020-01-01 00:00:00\n", "missing column.*value"),
        (HEAD + "2020-01-01 00:00:00,1\n2020-01-01 00:05:00,abc\n", "line 3: value 'abc' is not a number"),
        (HEAD + "2020-01-01 00:00:00,nan\n", "line 2: value is 'nan'"),
        (HEAD + "2020-01-01 00:00:00,inf\n", "line 2: value is 'inf'"),
        (HEAD + "2020-01-01 00:05:00,1\n2020-01-01 00:00:00,2\n", "line 3: .*earlier than the previous row"),
        (HEAD + "2020-01-01 00:00:00,1\n2020-01-01 00:00:00,2\n", "line 3: .*duplicates the previous row"),
        (HEAD + "2020-01-01 00:00:00,1\nyesterday,2\n", "line 3: cannot parse timestamp 'yesterday'"),
        (HEAD + "2020-01-01 00:00:00,1,7\n", "line 2: 3 fields"),
        (HEAD, "no data rows"),
        ("", "empty file"),
    ],
)
def test_bad_csv_errors_name_file_and_line(tmp_path, text, match):
    path = write_csv(tmp_path / "c/bad.csv", text)
    with pytest.raises(ValueError, match=match) as err:
        nab.read_stream(path)
    assert "bad.csv" in str(err.value)


def test_duplicates_keep_is_opt_in(tmp_path):
    path = write_csv(tmp_path / "c/d.csv", HEAD + "2020-01-01 00:00:00,1\n2020-01-01 00:00:00,2\n")
    assert len(nab.read_stream(path, duplicates="keep")) == 2
    path = write_csv(tmp_path / "c/u.csv", HEAD + "2020-01-01 00:05:00,1\n2020-01-01 00:00:00,2\n")
    with pytest.raises(ValueError, match="earlier"):
        nab.read_stream(path, duplicates="keep")


def test_scoring_input_errors():
    ts = stamps(40)
    ok = {"c/a.csv": [(ts[20], ts[25])]}
    s = np.zeros(40)
    with pytest.raises(ValueError, match="unknown profile"):
        nab.score_corpus({"c/a.csv": (ts, s)}, ok, "lenient")
    with pytest.raises(KeyError, match="no windows"):
        nab.score_corpus({"c/b.csv": (ts, s)}, ok)
    with pytest.raises(ValueError, match="not a timestamp of the stream"):
        nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": [(ts[20] + np.timedelta64(1, "s"), ts[25])]})
    with pytest.raises(ValueError, match="overlaps"):
        nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": [(ts[20], ts[25]), (ts[24], ts[30])]})
    with pytest.raises(ValueError, match="single row"):
        nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": [(ts[20], ts[20])]})
    with pytest.raises(ValueError, match="finite"):
        nab.score_corpus({"c/a.csv": (ts, np.where(np.arange(40) == 3, np.nan, 0.0))}, ok)
    with pytest.raises(ValueError, match="one score per row"):
        nab.score_corpus({"c/a.csv": (ts, s[:-1])}, ok)
    with pytest.raises(ValueError, match="no anomaly windows"):
        nab.score_corpus({"c/a.csv": (ts, s)}, {"c/a.csv": []})
