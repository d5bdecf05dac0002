"""Fuzz `train`, `predict` and `robustness` with the tables people have, and bad ones.

Every run must end in exit 0 or a one-line error (exit 2); when it succeeds, nothing about the
data may have changed silently: the classes are exactly the labels as written (``02134`` is not
``2134``, ``01`` stays ``01``), and ``predict`` writes one row per input row, each a known class.
"""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import read_back, run, write_table

NASTY = ["", " ", "NaN", "nan", "inf", "-inf", "1e308", "-1e308", "1e-310", "5e-324", "1e200", "-1e200", "abc",
         "?", "none", "NA", "1,5", "0x10", "1e400", "00012", "-0", "+3", "ä", "x;y", 'q"uote']
LABELS = ["a", "b", "c", "02134", "2134", "01", "1", "9007199254740993", "9007199254740992", " c ", "-7", "1.0",
          "é"]
NAMES = ["x1", "x2", "x 3", "é", "col;semi", "id", "target2"]
settings.register_profile("fuzz", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile("fuzz")


@st.composite
def tables(draw):
    n_feat = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n_feat, max_size=n_feat, unique=True))
    n = draw(st.integers(3, 24))
    number = st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr)
    cell = st.one_of(number, number, number, st.sampled_from(NASTY))
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=2, max_size=4, unique=True))
    rows = [[*names, "y"]]
    for _ in range(n):
        rows.append([draw(cell) for _ in names] + [draw(st.sampled_from(labels))])
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    blank = draw(st.booleans())
    return write_table(rows, delimiter, encoding, blank), delimiter, encoding


def _data_rows(data: bytes, delimiter: str, encoding: str) -> list[list[str]]:
    recs = read_back(data, delimiter, encoding)
    return [r for r in recs[1:] if any(c.strip() for c in r)]


@FUZZ
@given(tables(), st.sampled_from(["mlp-founding", "snn"]))
def test_train_then_predict_never_changes_labels_or_rows(table, model):
    data, delimiter, encoding = table
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "data.csv"
        src.write_bytes(data)
        res = run(["train", "--data", src, "--target", "y", "--model", model, "--epochs", "1", "--out", Path(tmp) / "m"])
        if res.exit_code != 0:
            return
        rows = _data_rows(data, delimiter, encoding)
        written = {r[-1].strip() for r in rows}
        report = json.loads((Path(tmp) / "m" / "report.json").read_text())
        assert {str(c) for c in report["classes"]} == written   # no label merged, renamed or lost
        pred = run(["predict", "--model", Path(tmp) / "m", "--data", src, "--out", Path(tmp) / "p.csv"])
        if pred.exit_code != 0:
            return
        with open(Path(tmp) / "p.csv", newline="", encoding="utf-8") as f:
            out = list(csv.reader(f))
        assert len(out) - 1 == len(rows)                        # one prediction per input row
        assert [int(r[0]) for r in out[1:]] == list(range(len(rows)))
        assert {r[1] for r in out[1:]} <= written


@FUZZ
@given(tables())
def test_predict_and_robustness_on_any_table(trained, table):
    data, _, _ = table
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "new.csv"
        src.write_bytes(data)
        run(["predict", "--model", trained, "--data", src])
        run(["robustness", "--model", trained, "--data", src, "--out", Path(tmp) / "r", "--repeats", "1"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained")
    rows = [["x1", "x2", "y"]] + [[str(i % 7), str((i * 3) % 5), "ab"[i % 2]] for i in range(30)]
    (d / "t.csv").write_bytes(write_table(rows))
    run(["train", "--data", d / "t.csv", "--target", "y", "--model", "mlp-founding", "--epochs", "1",
         "--out", d / "m"])
    return d / "m"


@pytest.mark.parametrize("args", [
    ["train", "--data", "{csv}", "--target", "y", "--out", "{csv}/sub"],          # output under a file
    ["train", "--data", "{csv}", "--target", "nope", "--out", "{tmp}/o"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--exclude", "nope"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--seed", "-1"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--strategy", "ddp"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--epochs", "0"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--test-size", "1.5"],
    ["train", "--data", "{csv}", "--target", "y", "--out", "{tmp}/o", "--encoding", "klingon"],
    ["predict", "--model", "{tmp}", "--data", "{csv}"],
    ["predict", "--model", "{model}", "--data", "{csv}", "--out", "{csv}"],                # the input itself
    ["robustness", "--model", "{model}", "--data", "{csv}", "--out", "{csv}"],
    ["robustness", "--model", "{model}", "--data", "{csv}", "--out", "{tmp}/r", "--repeats", "0"],
    ["demo", "--dataset", "nope"],
    ["demo", "--quick", "--out", "{csv}"],
    ["nosuchcommand"],
])
def test_bad_options_are_one_line_errors(tmp_path, trained, args):
    rows = [["x1", "x2", "y"]] + [[str(i), str(i % 3), "ab"[i % 2]] for i in range(12)]
    (tmp_path / "d.csv").write_bytes(write_table(rows))
    before = (tmp_path / "d.csv").read_bytes()
    fill = {"csv": tmp_path / "d.csv", "tmp": tmp_path, "model": trained}
    res = run([a.format(**fill) for a in args])
    assert res.exit_code == 2
    assert (tmp_path / "d.csv").read_bytes() == before                     # the input is never touched
    assert not (tmp_path / "o").exists()                                    # nothing trained for nothing


def test_a_cell_longer_than_the_csv_field_limit(tmp_path):
    rows = [["x1", "note", "y"]] + [[str(i), "n" * (200_000 if i == 3 else 3), "ab"[i % 2]] for i in range(12)]
    (tmp_path / "d.csv").write_bytes(write_table(rows))
    res = run(["train", "--data", tmp_path / "d.csv", "--target", "y", "--out", tmp_path / "o", "--epochs", "1",
               "--model", "mlp-founding", "--exclude", "note"])
    assert res.exit_code == 0, res.output


def test_tampered_encoder_is_a_clear_error(tmp_path, trained):
    import copy
    import shutil

    cfg = json.loads((trained / "model" / "config.json").read_text())
    enc = cfg["extra"]["encoder"]
    edits = [("mean", [1.0]), ("scale", "x"), ("classes", ["a"]), ("classes", [1, "a"]), ("features", ["x1"]),
             ("columns", 5), ("categories", {"zz": ["a"]}), ("version", 9), ("format", None), ("standardize", None),
             ("classes", ["a", "b", "c"]), ("classes", ["a", "a"])]
    rows = [["x1", "x2", "y"]] + [[str(i), str(i % 3), "ab"[i % 2]] for i in range(6)]
    (tmp_path / "d.csv").write_bytes(write_table(rows))
    for key, value in edits + [(None, None)]:
        broken = copy.deepcopy(cfg)
        if key is None:
            del broken["extra"]["encoder"]["columns"]
        else:
            broken["extra"]["encoder"][key] = value
        shutil.copytree(trained, tmp_path / "m", dirs_exist_ok=True)
        (tmp_path / "m" / "model" / "config.json").write_text(json.dumps(broken))
        res = run(["predict", "--model", tmp_path / "m", "--data", tmp_path / "d.csv"])
        if key in ("mean", "scale", "classes", "features", "version", "format", "columns"):
            assert res.exit_code == 2, (key, value, res.output)
    assert enc == cfg["extra"]["encoder"]


@st.composite
def clean_tables(draw):
    """Valid tables in any delimiter and encoding, with awkward names: these must always train."""
    n_feat = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n_feat, max_size=n_feat, unique=True))
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=2, max_size=3,
                           unique_by=lambda s: s.strip()))
    n = draw(st.integers(16, 30))
    number = st.floats(-1e6, 1e6, allow_nan=False).map(repr)
    rows = [[*names, "y"]] + [[draw(number) for _ in names] + [labels[i % len(labels)]] for i in range(n)]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    return write_table(rows, delimiter, encoding, draw(st.booleans())), delimiter, encoding


@FUZZ
@given(clean_tables())
def test_valid_tables_always_train_with_their_labels(table):
    data, delimiter, encoding = table
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "data.csv"
        src.write_bytes(data)
        res = run(["train", "--data", src, "--target", "y", "--model", "mlp-founding", "--epochs", "1",
                   "--out", Path(tmp) / "m"])
        assert res.exit_code == 0, res.output
        report = json.loads((Path(tmp) / "m" / "report.json").read_text())
        rows = _data_rows(data, delimiter, encoding)
        assert {str(c) for c in report["classes"]} == {r[-1].strip() for r in rows}
        assert report["n_train"] + report["n_test"] == len(rows)
