"""Fuzz `detect`, `forecast` and `nab` with streams people have, and bad ones.

Exit 0 or a one-line error (exit 2), never a traceback; on success every input row comes back
once, in order, with its fields unchanged, plus one score in [0, 1] (or one finite forecast).
"""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import read_back, run, write_table

FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
T0 = np.datetime64("2024-03-31T00:00:00")
BAD_TIME = ["", "NaT", "yesterday", "10000-01-01 00:00:00", "1711843200", "2024-03-31 25:00:00",
            "2024-03-31T01:00:00+02:00", "0"]
BAD_VALUE = ["", "nan", "inf", "-inf", "1e308", "-1e308", "5e-324", "1e400", "abc", "1,5", " 3 "]


@st.composite
def streams(draw):
    n = draw(st.integers(1, 60))
    stamps = [str(T0 + np.timedelta64(300 * i, "s")).replace("T", " ") for i in range(n)]
    mode = draw(st.sampled_from(["iso", "iso", "none", "epoch", "dst"]))
    if mode == "epoch":
        stamps = [str(1_711_843_200 + 300 * i) for i in range(n)]
    if mode == "dst" and n > 10:
        stamps = stamps[:8] + stamps[4:n - 4]          # the clock steps back 20 minutes
    for _ in range(draw(st.integers(0, 2))):
        if n:
            stamps[draw(st.integers(0, n - 1))] = draw(st.sampled_from(BAD_TIME))
    n_cols = draw(st.integers(1, 3))
    value = st.one_of(st.floats(-1e6, 1e6, allow_nan=False).map(repr), st.sampled_from(BAD_VALUE))
    clean = st.floats(-1e6, 1e6, allow_nan=False).map(repr)
    bad_share = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5]))
    rows = [(["timestamp"] if mode != "none" else []) + [f"v{k}" for k in range(n_cols)]]
    for i in range(n):
        vals = [draw(value) if draw(st.floats(0, 1)) < bad_share else draw(clean) for _ in range(n_cols)]
        rows.append(([stamps[i]] if mode != "none" else []) + vals)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    return write_table(rows, delimiter, encoding), delimiter, encoding, n_cols


def _check_output(data: bytes, delimiter: str, encoding: str, out: Path, column: str) -> list[str]:
    given_rows = read_back(data, delimiter, encoding)
    with open(out, newline="", encoding="utf-8") as f:
        back = list(csv.reader(f))
    assert back[0] == [h.strip() for h in given_rows[0]] + [column]     # header kept (no BOM), column added
    assert len(back) == len(given_rows)                                  # every row, once
    for src, got in zip(given_rows[1:], back[1:]):
        assert got[:-1] == src                                           # in order, fields unchanged
    return [r[-1] for r in back[1:]]


@FUZZ
@given(streams(), st.sampled_from(["error", "hold", "skip"]), st.booleans())
def test_detect_keeps_every_row(stream, on_bad, strict):
    data, delimiter, encoding, _ = stream
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "s.csv"
        src.write_bytes(data)
        args = ["detect", "--data", src, "--out", Path(tmp) / "o.csv", "--on-bad", on_bad, "--no-progress"]
        res = run(args + (["--strict-time"] if strict else []))
        if res.exit_code == 0:
            scores = _check_output(data, delimiter, encoding, Path(tmp) / "o.csv", "anomaly_score")
            assert all(0.0 <= float(s) <= 1.0 for s in scores)
        else:
            assert not (Path(tmp) / "o.csv").exists()                    # no half-written output


@FUZZ
@given(streams(), st.sampled_from(["error", "hold", "skip"]))
def test_forecast_keeps_every_row(stream, on_bad):
    data, delimiter, encoding, n_cols = stream
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "s.csv"
        src.write_bytes(data)
        res = run(["forecast", "--data", src, "--out", Path(tmp) / "o.csv", "--on-bad", on_bad, "--no-progress",
                   "--column", "v0", "--state", Path(tmp) / "state"])
        if res.exit_code == 0:
            fc = _check_output(data, delimiter, encoding, Path(tmp) / "o.csv", "forecast_next")
            assert all(f == "" or np.isfinite(float(f)) for f in fc)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([None, '{"cat/s.csv": []}', "{not json", "[]", '{"cat/s.csv": 5}',
                                   '{"cat/s.csv": [["2024-03-31 00:05:00", "2024-03-31 00:30:00"]]}',
                                   '{"cat/s.csv": [["x", "y"]]}', '{"cat/s.csv": [[1, 2]]}', '{"cat/s.csv": [[1]]}',
                                   '{"other/s.csv": []}']))
def test_nab_on_a_fuzzed_corpus(stream, labels):
    data, _, _, _ = stream
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c" / "data" / "cat").mkdir(parents=True)
        (Path(tmp) / "c" / "data" / "cat" / "s.csv").write_bytes(data)
        if labels is not None:
            (Path(tmp) / "c" / "labels").mkdir()
            (Path(tmp) / "c" / "labels" / "combined_windows.json").write_text(labels)
        run(["nab", "--corpus", Path(tmp) / "c", "--out", Path(tmp) / "r", "--no-progress"])


def _set(tree, path, value):
    node = tree
    for k in path[:-1]:
        node = node[k]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


DELETE = object()
CH = ("config", "stream_state", "units", 0, "channels", 0)
TAMPER = [
    (CH + ("i",), "abc"), (CH + ("layer", "weights", "shape"), [3]),
    (CH + ("layer", "weights", "tensor"), "nope"), (CH + ("recent",), 7),
    (("config", "stream_state", "units"), {}), (("config", "stream_state", "version"), 99),
    (("config", "stream_state", "units", 0, "scales"), "x"), (("config", "steps"), "x"),
    (("config", "window"), 3), (("config", "levels"), -1), (CH + ("layer",), DELETE),
    (("config", "stream_state"), [1, 2]), (("kind",), "streaming.SpikingForecaster"),
]


def test_tampered_stream_state_is_a_clear_error(tmp_path):
    import copy

    rows = [["value"]] + [[str(float(i % 5))] for i in range(300)]
    (tmp_path / "s.csv").write_bytes(write_table(rows))
    assert run(["detect", "--data", tmp_path / "s.csv", "--state", tmp_path / "st", "--no-progress"]).exit_code == 0
    cfg = json.loads((tmp_path / "st" / "config.json").read_text())
    for path, value in TAMPER:
        broken = copy.deepcopy(cfg)
        _set(broken, path, value)
        (tmp_path / "st" / "config.json").write_text(json.dumps(broken))
        res = run(["detect", "--data", tmp_path / "s.csv", "--state", tmp_path / "st", "--no-progress"])
        assert res.exit_code == 2, (path, value, res.output[-500:])
    for path, value in [(CH + ("i",), -5), (CH + ("avg",), None), (CH + ("match_n",), 10**30)]:
        broken = copy.deepcopy(cfg)   # plausible-looking values: used or refused, never a traceback
        _set(broken, path, value)
        (tmp_path / "st" / "config.json").write_text(json.dumps(broken))
        run(["detect", "--data", tmp_path / "s.csv", "--state", tmp_path / "st", "--no-progress"])


LABEL_FILES = ['{"cat/s.csv": []}', "{not json", "[]", '{"cat/s.csv": 5}', '{"cat/s.csv": [["x", "y"]]}',
               '{"cat/s.csv": [[1, 2]]}', '{"cat/s.csv": [[1]]}', '{"other/s.csv": []}', "\\udcff",
               '{"cat/s.csv": [["2024-03-31 00:05:00", "2024-03-31 00:30:00"]]}',
               '{"cat/s.csv": [["2024-03-31 00:30:00", "2024-03-31 00:05:00"]]}',
               '{"cat/s.csv": [["2024-03-31 00:07:00", "2024-03-31 00:30:00"]]}']


def test_nab_labels_files_good_and_bad(tmp_path):
    rows = [["timestamp", "value"]] + [[str(T0 + np.timedelta64(300 * i, "s")).replace("T", " "), str(i % 7)]
                                       for i in range(60)]
    (tmp_path / "c" / "data" / "cat").mkdir(parents=True)
    (tmp_path / "c" / "data" / "cat" / "s.csv").write_bytes(write_table(rows))
    (tmp_path / "c" / "labels").mkdir()
    codes = []
    for text in LABEL_FILES:
        (tmp_path / "c" / "labels" / "combined_windows.json").write_bytes(text.encode("utf-8", "surrogateescape"))
        codes.append(run(["nab", "--corpus", tmp_path / "c", "--out", tmp_path / "r", "--no-progress"]).exit_code)
    assert codes[9] == 0                                   # a valid window scores
    assert codes[0] == codes[1] == codes[10] == codes[11] == 2   # no window at all, not JSON, reversed, off-row
