"""detect_csv / run_nab: one output row per input row, bad CSVs, NAB layout and scores."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from neuroplastic.streaming import SpikingAnomalyDetector, detect_csv, read_numeric_csv, run_nab
from neuroplastic.streaming import nab

FAST = dict(steps=(1, 2), rows_per_step=100.0, warmup=16, refractory=4, edge_warmup=60, edge_refractory=30)
T0 = np.datetime64("2024-01-01T00:00:00")


def write(path, text):
    path.write_text(text)
    return path


def series(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = 5 + np.sin(np.arange(n) / 6.0) + 0.1 * rng.standard_normal(n)
    if n > 300:
        x[300] = 40.0
    return x


def csv_text(x, stamps=True):
    lines = ["timestamp,value" if stamps else "value"]
    for i, v in enumerate(x):
        t = str(T0 + np.timedelta64(5 * i, "m")).replace("T", " ")
        lines.append(f"{t},{float(v)!r}" if stamps else repr(float(v)))
    return "\n".join(lines) + "\n"


def test_detect_csv_writes_one_score_per_row_in_order(tmp_path):
    x = series()
    src = write(tmp_path / "in.csv", csv_text(x))
    scores = detect_csv(src, tmp_path / "out" / "scores.csv", config=FAST, progress=False)
    np.testing.assert_array_equal(scores, SpikingAnomalyDetector(**FAST).score_many(x))
    with open(tmp_path / "out" / "scores.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == len(x) + 1
    assert [float(r[1]) for r in rows[1:]] == x.tolist()  # input rows unchanged, in order
    assert [float(r[2]) for r in rows[1:]] == scores.tolist()
    assert scores[300] == 1.0


def test_detect_csv_without_timestamp_to_a_stream_and_several_columns(tmp_path):
    x = series(200)
    src = write(tmp_path / "in.csv", csv_text(x, stamps=False))
    buf = io.StringIO()
    detect_csv(src, buf, config=FAST, progress=False)
    assert buf.getvalue().splitlines()[0] == "value,anomaly_score" and len(buf.getvalue().splitlines()) == 201
    two = write(tmp_path / "two.csv", "a,b\n" + "\n".join(f"{v},{2 * v}" for v in x) + "\n")
    both = detect_csv(two, config=FAST, progress=False)
    only_a = detect_csv(two, config=FAST, columns=["a"], progress=False)
    assert both.shape == only_a.shape == (200,)
    assert (both >= only_a).all()  # the largest of the per-column scores


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("timestamp,value\n", "no data rows"),
        ("timestamp,value\n2024-01-01 00:00:00,1.0,3\n", "line 2: 3 fields"),
        ("timestamp,value\n2024-01-01 00:00:00,1.0\nyesterday,2.0\n", "line 3: cannot parse timestamp"),
        ("timestamp,value\n2024-01-01 00:05:00,1.0\n2024-01-01 00:00:00,2.0\n", "line 3.*sort the file"),
        ("timestamp,value\n2024-01-01 00:00:00,1.0\n2024-01-01 00:05:00,abc\n", "line 3: column value is 'abc'"),
        ("timestamp,value\n2024-01-01 00:00:00,1.0\n2024-01-01 00:05:00,\n", "line 3: column value is ''"),
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,nan\n", "line 3: column value is 'nan'"),
        ("timestamp,label\n2024-01-01 00:00:00,cat\n", "hold no numbers"),
        ("timestamp\n2024-01-01 00:00:00\n", "no value column"),
    ],
)
def test_bad_csvs_fail_with_file_line_and_column(tmp_path, text, match):
    src = write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=match):
        detect_csv(src, progress=False)


def test_missing_requested_column(tmp_path):
    src = write(tmp_path / "in.csv", "timestamp,value\n2024-01-01 00:00:00,1.0\n")
    with pytest.raises(ValueError, match="missing column\\(s\\) cpu"):
        read_numeric_csv(src, columns=["cpu"])


def test_bad_values_hold_or_skip_keep_every_row(tmp_path):
    x = series(120)
    lines = csv_text(x).splitlines()
    for i in (1, 50, 51, 90):  # rows 0, 49, 50, 89: bad values (first row has no previous value)
        t = lines[i].split(",")[0]
        lines[i] = f"{t},{'NaN' if i != 50 else 'oops'}"
    src = write(tmp_path / "in.csv", "\n".join(lines) + "\n")
    held = read_numeric_csv(src, on_bad="hold")
    assert not held.valid[0] and held.valid[1:].all()
    assert held.values[49, 0] == held.values[50, 0] == x[48] and held.values[89, 0] == x[88]
    s_hold = detect_csv(src, config=FAST, on_bad="hold", progress=False)
    s_skip = detect_csv(src, config=FAST, on_bad="skip", progress=False)
    assert s_hold.shape == s_skip.shape == (120,)
    assert s_skip[[0, 49, 50, 89]].tolist() == [0.0] * 4
    ok = np.ones(120, bool)
    ok[[0, 49, 50, 89]] = False
    np.testing.assert_array_equal(s_skip[ok], SpikingAnomalyDetector(**FAST).score_many(x[ok]))


def test_duplicated_timestamps_and_gaps_are_kept_in_file_order(tmp_path):
    text = "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:00:00,2\n2024-01-03 00:00:00,3\n"
    table = read_numeric_csv(write(tmp_path / "d.csv", text))
    assert table.values[:, 0].tolist() == [1.0, 2.0, 3.0] and len(table.timestamps) == 3
    assert detect_csv(tmp_path / "d.csv", progress=False).shape == (3,)


def make_corpus(root, with_labels=True):
    streams = {}
    for k, cat in enumerate(["catA", "catB"]):
        x = series(500, seed=k)
        ts = T0 + np.arange(500) * np.timedelta64(5, "m")
        (root / "data" / cat).mkdir(parents=True)
        write(root / "data" / cat / f"s{k}.csv", csv_text(x))
        streams[f"{cat}/s{k}.csv"] = (ts, x)
    if with_labels:
        (root / "labels").mkdir()
        wins = {n: [[str(ts[290]).replace("T", " ") + ".000000", str(ts[330]).replace("T", " ") + ".000000"]]
                for n, (ts, _) in streams.items()}
        (root / "labels" / "combined_windows.json").write_text(json.dumps(wins))
    return streams


def test_run_nab_writes_nab_layout_and_scores(tmp_path):
    streams = make_corpus(tmp_path / "corpus")
    lines = []
    summary = run_nab(tmp_path / "corpus", tmp_path / "res", json_path=tmp_path / "s.json",
                      config=FAST, progress=False, echo=lines.append)
    assert summary["streams"] == 2 and summary["rows"] == 1000 and summary["threshold_searched"]
    for name, (ts, x) in streams.items():
        cat, file = name.split("/")
        r = nab.read_result_file(tmp_path / "res" / cat / f"neuroplastic_{file}")
        np.testing.assert_array_equal(r.values, x)
        np.testing.assert_array_equal(r.anomaly_scores, SpikingAnomalyDetector(**FAST).score_many(x))
        assert r.labels[290:331].all() and r.labels.sum() == 41
    prof = summary["profiles"]["standard"]
    # the spike at row 300 is inside each window: both found at the first window third
    assert prof["score"] > 50 and set(summary["profiles"]) == set(nab.PROFILES)
    assert json.loads((tmp_path / "s.json").read_text())["profiles"]["standard"]["score"] == prof["score"]
    assert any("standard" in line for line in lines)
    fixed = run_nab(tmp_path / "corpus", tmp_path / "res2", threshold=2.0, config=FAST, progress=False, echo=None)
    assert not fixed["threshold_searched"]
    assert fixed["profiles"]["standard"]["score"] == pytest.approx(0.0)  # nothing detected: the null score


def test_run_nab_without_labels_only_writes_results(tmp_path):
    make_corpus(tmp_path / "corpus", with_labels=False)
    summary = run_nab(tmp_path / "corpus", tmp_path / "res", config=FAST, progress=False, echo=None)
    assert "profiles" not in summary
    assert len(list((tmp_path / "res").rglob("neuroplastic_*.csv"))) == 2


# ----------------------------------------------------------------------------- forecast_csv
from neuroplastic.streaming import SpikingForecaster, forecast_csv  # noqa: E402


def test_forecast_csv_one_forecast_of_the_next_row_per_input_row(tmp_path):
    x = series(500, seed=1)
    x[300] = x[299]                                         # no outlier for the forecaster
    src = write(tmp_path / "in.csv", csv_text(x))
    res = forecast_csv(src, tmp_path / "out" / "fc.csv", progress=False)
    stamps = T0 + np.arange(len(x)) * np.timedelta64(5, "m")
    want = SpikingForecaster().forecast_many(x, stamps)      # want[i] forecasts x[i + 1]
    np.testing.assert_allclose(res["forecast_next"], want, rtol=0, atol=1e-12)
    rows = list(csv.reader(open(tmp_path / "out" / "fc.csv")))
    assert rows[0] == ["timestamp", "value", "forecast_next"] and len(rows) == len(x) + 1
    assert [float(r[1]) for r in rows[1:]] == x.tolist()
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], want, rtol=0, atol=1e-12)
    # the summary by hand: errors of the forecasts of rows 1..n-1, and of persistence
    assert res["n"] == len(x) - 1 and res["next"] == want[-1]
    np.testing.assert_allclose(res["mae"], np.abs(x[1:] - want[:-1]).mean())
    np.testing.assert_allclose(res["mae_persistence"], np.abs(np.diff(x)).mean())
    assert res["mae"] < res["mae_persistence"]               # a smooth periodic series: it learns


def test_forecast_csv_needs_one_column_and_keeps_every_row(tmp_path):
    two = write(tmp_path / "two.csv", "a,b\n" + "".join(f"{v},{2 * v}\n" for v in range(50)))
    with pytest.raises(ValueError, match="--column"):
        forecast_csv(two, progress=False)
    res = forecast_csv(two, column="b", progress=False)
    np.testing.assert_allclose(res["forecast_next"], SpikingForecaster().forecast_many(2.0 * np.arange(50)))
    gap = write(tmp_path / "gap.csv", "value\n1\n2\nNaN\n4\n5\n")
    with pytest.raises(ValueError, match="line 4"):
        forecast_csv(gap, progress=False)
    skip = forecast_csv(gap, on_bad="skip", progress=False)["forecast_next"]
    assert len(skip) == 5 and skip[2] == skip[1]             # a skipped row repeats the standing forecast
    np.testing.assert_allclose(skip[[0, 1, 3, 4]], SpikingForecaster().forecast_many([1.0, 2.0, 4.0, 5.0]))


def test_forecast_csv_continues_a_stream_from_its_state_folder(tmp_path):
    x = series(400, seed=2)
    x[300] = x[299]
    write(tmp_path / "all.csv", csv_text(x))
    lines = csv_text(x).splitlines()
    write(tmp_path / "a.csv", "\n".join(lines[:251]) + "\n")
    write(tmp_path / "b.csv", "\n".join([lines[0]] + lines[251:]) + "\n")
    whole = forecast_csv(tmp_path / "all.csv", progress=False)["forecast_next"]
    a = forecast_csv(tmp_path / "a.csv", state=tmp_path / "st", progress=False)["forecast_next"]
    b = forecast_csv(tmp_path / "b.csv", state=tmp_path / "st", progress=False)["forecast_next"]
    np.testing.assert_allclose(np.concatenate([a, b]), whole, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="not a forecaster"):
        forecast_csv(tmp_path / "a.csv", progress=False, state=_detector_state(tmp_path))


def _detector_state(tmp_path):
    d = tmp_path / "det"
    detect_csv(write(tmp_path / "d.csv", csv_text(series(100))), config=FAST, progress=False, state=d)
    return d
