"""`neuroplastic detect` and `neuroplastic nab` end to end on small synthetic streams."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "neuroplastic", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def write_stream(path: Path, n: int = 600, spike_at: int = 450, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2020, 1, 1)
    stamps = [(t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]
    values = 10 + np.sin(np.arange(n) / 12.0) + 0.05 * rng.standard_normal(n)
    values[spike_at] += 8.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows(zip(stamps, values.tolist()))
    return stamps


def test_detect_one_score_per_row_in_order(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    stamps = write_stream(src)
    out = tmp_path / "scores.csv"
    res = run_cli("detect", "--data", str(src), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(out)))
    assert [r["timestamp"] for r in rows] == stamps
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert np.all((scores >= 0) & (scores <= 1))


def test_detect_bad_value_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,abc\n")
    res = run_cli("detect", "--data", str(src), "--no-progress", cwd=tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "abc" in res.stderr or "line 3" in res.stderr


def test_nab_writes_layout_and_scores(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    stamps = write_stream(corpus / "data" / "synthetic" / "one.csv")
    (corpus / "labels").mkdir(parents=True)
    window = [stamps[440] + ".000000", stamps[470] + ".000000"]
    (corpus / "labels" / "combined_windows.json").write_text(json.dumps({"synthetic/one.csv": [window]}))
    out, js = tmp_path / "results", tmp_path / "nab.json"
    res = run_cli("nab", "--corpus", str(corpus), "--out", str(out), "--json", str(js), "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    files = list((out / "synthetic").glob("*_one.csv"))
    assert len(files) == 1
    rows = list(csv.DictReader(open(files[0])))
    assert len(rows) == len(stamps)
    assert {"timestamp", "value", "anomaly_score", "label"} <= set(rows[0])
    assert sum(int(r["label"]) for r in rows) == 31
    report = json.loads(js.read_text())
    text = json.dumps(report)
    assert "standard" in text and "threshold" in text


def test_detect_continues_a_stream_file_by_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = np.sin(np.arange(1200) * 2 * np.pi / 60) + 0.05 * rng.standard_normal(1200)
    x[1000:1010] += 4.0
    stamps = np.datetime64("2026-01-01T00:00") + np.arange(1200) * np.timedelta64(5, "m")

    def write(path: Path, lo: int, hi: int) -> None:
        path.write_text("timestamp,value\n" + "".join(f"{stamps[i]},{float(x[i])!r}\n" for i in range(lo, hi)))

    write(tmp_path / "all.csv", 0, 1200)
    write(tmp_path / "a.csv", 0, 700)
    write(tmp_path / "b.csv", 700, 1200)
    outs = {}
    for name, extra in (("all", []), ("a", ["--state", str(tmp_path / "st")]), ("b", ["--state", str(tmp_path / "st")])):
        res = run_cli("detect", "--data", str(tmp_path / f"{name}.csv"), "--out", str(tmp_path / f"{name}_s.csv"),
                      "--no-progress", *extra, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        outs[name] = [float(r["anomaly_score"]) for r in csv.DictReader(open(tmp_path / f"{name}_s.csv"))]
    assert (tmp_path / "st" / "config.json").is_file()
    assert outs["a"] + outs["b"] == outs["all"]
    assert max(outs["all"][1000:1010]) > 0


def test_forecast_writes_one_forecast_per_row_and_beats_persistence_on_a_daily_pattern(tmp_path: Path) -> None:
    src = tmp_path / "traffic.csv"
    write_stream(src, n=3 * 288, spike_at=700, seed=1)                 # 3 days of 5-minute rows
    res = run_cli("forecast", "--data", str(src), "--out", str(tmp_path / "fc.csv"), "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(tmp_path / "fc.csv")))
    vals = [float(r["value"]) for r in rows]
    src_vals = [float(r["value"]) for r in csv.DictReader(open(src))]
    assert len(rows) == 3 * 288 and vals == src_vals
    fc = np.array([float(r["forecast_next"]) for r in rows])
    mae = np.abs(np.array(vals[1:]) - fc[:-1]).mean()
    persistence = np.abs(np.diff(vals)).mean()
    assert f"MAE {mae:.6g}, persistence {persistence:.6g}" in res.stderr
    assert mae < persistence
    bad = run_cli("forecast", "--data", str(tmp_path / "fc.csv"), cwd=tmp_path)   # two numeric columns
    assert bad.returncode != 0 and "--column" in bad.stderr
