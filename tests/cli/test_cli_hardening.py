"""Issue 17 regressions on the command line: each case once, against an independent reference."""
from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neuroplastic.cli import main


def invoke(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True, **kw)


def table(path: Path, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    d = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    rows = [["a", "b", "noise", "y"]]
    for i in range(90):
        k = i % 3
        rows.append([f"{k * 3 + rng.normal():.4f}", f"{1000 * (k - 1) + 100 * rng.normal():.4f}",
                     f"{rng.normal() * 1e3:.4f}", ["007", "7", "70"][k]])
    return table(d / "blobs.csv", rows, delimiter=";")


def _accuracy(pred_csv: Path, data: Path) -> float:
    with open(pred_csv) as f:
        pred = [r["predicted_y"] for r in csv.DictReader(f)]
    with open(data) as f:
        truth = [r["y"] for r in csv.DictReader(f, delimiter=";")]
    return float(np.mean([p == t for p, t in zip(pred, truth)]))


def test_robustness_scores_each_model_through_its_own_encoder(tmp_path, blobs):
    assert invoke("train", "--data", blobs, "--target", "y", "--model", "mlp", "--epochs", "30",
                  "--out", tmp_path / "A").exit_code == 0
    # B sees other columns, so its encoder differs from A's: scoring B through A's was the bug
    assert invoke("train", "--data", blobs, "--target", "y", "--model", "mlp", "--epochs", "30",
                  "--exclude", "a", "--out", tmp_path / "B").exit_code == 0
    res = invoke("robustness", "--model", tmp_path / "A", "--model", tmp_path / "B", "--data", blobs,
                 "--out", tmp_path / "r", "--repeats", "1")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r" / "robustness.json").read_text())
    for name in ("A", "B"):
        assert invoke("predict", "--model", tmp_path / name, "--data", blobs,
                      "--out", tmp_path / f"{name}.csv").exit_code == 0
        assert report["models"][name]["clean"] == pytest.approx(_accuracy(tmp_path / f"{name}.csv", blobs))
    with open(tmp_path / "A.csv") as f:   # labels as written: 007, 7 and 70 are three classes
        assert {r["predicted_y"] for r in csv.DictReader(f)} <= {"007", "7", "70"}
    assert json.loads((tmp_path / "A" / "report.json").read_text())["classes"] == ["007", "7", "70"]


def test_outputs_get_the_umask_mode(tmp_path, blobs):
    old = os.umask(0o027)
    try:
        assert invoke("train", "--data", blobs, "--target", "y", "--model", "mlp-founding", "--epochs", "1",
                      "--out", tmp_path / "m").exit_code == 0
        assert invoke("predict", "--model", tmp_path / "m", "--data", blobs, "--out", tmp_path / "p.csv").exit_code == 0
        stream = table(tmp_path / "s.csv", [["value"]] + [[str(i % 7)] for i in range(40)])
        assert invoke("detect", "--data", stream, "--out", tmp_path / "d.csv", "--no-progress").exit_code == 0
    finally:
        os.umask(old)
    for f in ("m/report.json", "m/report.txt", "p.csv", "d.csv", "m/model/config.json"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o640, f


def test_huge_features_are_scaled_not_overflowed(tmp_path):
    rows = [["big", "y"]] + [[f"{(i % 10) + 1}e200", "ab"[i % 2]] for i in range(40)]
    data = table(tmp_path / "big.csv", rows)
    assert invoke("train", "--data", data, "--target", "y", "--model", "mlp-founding", "--epochs", "1",
                  "--out", tmp_path / "m").exit_code == 0
    enc = json.loads((tmp_path / "m" / "model" / "config.json").read_text())["extra"]["encoder"]
    values = np.array([(i % 10) + 1 for i in range(40)], dtype=float)
    # training rows only, so compare loosely with the statistics of all rows
    assert enc["mean"][0] / 1e200 == pytest.approx(values.mean(), rel=0.15)
    assert enc["scale"][0] / 1e200 == pytest.approx(values.std(), rel=0.15)
    res = invoke("predict", "--model", tmp_path / "m", "--data", data)
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 41


def test_a_bug_keeps_its_traceback_and_says_so(monkeypatch, tmp_path, blobs):
    import neuroplastic.apps.tabular as tabular

    def broken(*a, **k):
        raise KeyError("internal")

    monkeypatch.setattr(tabular, "train_csv", broken)
    res = invoke("train", "--data", blobs, "--target", "y", "--out", tmp_path / "o")
    assert isinstance(res.exception, KeyError)            # not hidden behind a one-line message
    assert "this is a bug" in res.stderr


def test_disk_full_is_one_line(monkeypatch, tmp_path, blobs):
    import neuroplastic.apps.tabular as tabular

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tabular, "train_csv", full)
    res = invoke("train", "--data", blobs, "--target", "y", "--out", tmp_path / "o")
    assert res.exit_code == 2 and res.stderr.strip().startswith("Error: No space left on device")
    assert len(res.stderr.strip().splitlines()) == 1


def _stream(path: Path, stamps, values):
    return table(path, [["timestamp", "value"]] + [[t, repr(float(v))] for t, v in zip(stamps, values)])


def test_epoch_seconds_are_the_same_clock_as_iso_dates(tmp_path):
    t = np.datetime64("2024-01-01T00:00:00") + np.arange(300) * np.timedelta64(3600, "s")
    x = 10 + np.sin(np.arange(300) * 2 * np.pi / 24)
    iso = _stream(tmp_path / "iso.csv", [str(s).replace("T", " ") for s in t], x)
    epoch = _stream(tmp_path / "epoch.csv", [str(int(s.astype("datetime64[s]").astype(np.int64))) for s in t], x)
    outs = []
    for src in (iso, epoch):
        res = invoke("forecast", "--data", src, "--out", tmp_path / f"f_{src.stem}.csv", "--no-progress")
        assert res.exit_code == 0, res.output
        with open(tmp_path / f"f_{src.stem}.csv") as f:
            outs.append([r["forecast_next"] for r in csv.DictReader(f)])
    assert outs[0] == outs[1]      # the forecaster's time-of-day features saw the same times


def test_nab_scores_a_stream_whose_clock_steps_back_in_file_order(tmp_path):
    """Reference: the same rows on a clock that does not step back (the true UTC times) score the same."""
    n = 400
    utc = np.datetime64("2024-10-27T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
    local = utc.copy()
    local[200:] -= np.timedelta64(3600, "s")     # 02:55 then 02:00 again: rows 200-211 repeat an hour
    x = 5 + np.sin(np.arange(n) / 8.0)
    x[300] = 40.0
    results = {}
    for name, clock in (("dst", local), ("utc", utc)):
        root = tmp_path / name
        (root / "data" / "c").mkdir(parents=True)
        _stream(root / "data" / "c" / "s.csv", [str(s).replace("T", " ") for s in clock], x)
        win = [[str(clock[290]).replace("T", " "), str(clock[320]).replace("T", " ")]]
        (root / "labels").mkdir()
        (root / "labels" / "combined_windows.json").write_text(json.dumps({"c/s.csv": win}))
        res = invoke("nab", "--corpus", root, "--out", tmp_path / f"r_{name}", "--json", tmp_path / f"{name}.json",
                     "--no-progress")
        assert res.exit_code == 0, res.output
        results[name] = json.loads((tmp_path / f"{name}.json").read_text())["profiles"]
        if name == "dst":
            assert "steps back" in res.stderr and "202" in res.stderr     # line 202 = row 200
    assert results["dst"] == results["utc"]
    strict = invoke("nab", "--corpus", tmp_path / "dst", "--out", tmp_path / "r2", "--strict-time", "--no-progress")
    assert strict.exit_code == 2 and "line 202" in strict.stderr


def test_a_value_error_from_inside_numpy_is_a_bug_but_ours_is_a_message(monkeypatch, tmp_path, blobs):
    import neuroplastic.apps.tabular as tabular

    def numpy_fails(*a, **k):
        np.zeros(3).reshape(2, 2)          # ValueError raised inside numpy: a bug of the caller

    monkeypatch.setattr(tabular, "train_csv", numpy_fails)
    res = invoke("train", "--data", blobs, "--target", "y", "--out", tmp_path / "o")
    assert isinstance(res.exception, ValueError) and "this is a bug" in res.stderr

    def check_fails(*a, **k):
        from neuroplastic._core.checks import check_positive

        check_positive("tau_mem", -1.0)    # ValueError from the library's own check: the user's to fix

    monkeypatch.setattr(tabular, "train_csv", check_fails)
    res = invoke("train", "--data", blobs, "--target", "y", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "tau_mem must be finite and > 0" in res.stderr
