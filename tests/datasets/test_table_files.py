"""Reading the CSV files people have (issue 17): delimiters, encodings, long cells, exact labels."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from neuroplastic.datasets import TableEncoder, load_csv, read_csv

ROWS = [["x1", "café", "y"], ["1.5", "a", "02134"], ["2", "b", "2134"], ["3", "a", "02134"], ["4", "b", "2134"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252"])
def test_any_delimiter_and_encoding_reads_the_same_cells(tmp_path, delimiter, encoding):
    text = "\n".join(delimiter.join(r) for r in ROWS) + "\n"
    (tmp_path / "t.csv").write_bytes(text.encode(encoding))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = read_csv(tmp_path / "t.csv")
    assert t.columns == ROWS[0]                                        # BOM dropped, é decoded
    assert [t.cells[c] for c in t.columns] == [list(col) for col in zip(*ROWS[1:])]
    latin = encoding in ("latin-1", "cp1252")
    assert any("--encoding" in str(w.message) for w in caught) == latin   # said, not silent


def test_labels_are_kept_exactly_as_written(tmp_path):
    rows = [["x", "y"]] + [[str(i), lab] for i, lab in enumerate(["02134", "2134", "01", "1"] * 3)]
    (tmp_path / "t.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    enc = TableEncoder("y").fit(tmp_path / "t.csv")
    assert enc.classes_.tolist() == ["01", "02134", "1", "2134"]       # four classes, none merged
    big = [str(2**53 + 1), str(2**53)] * 3                             # equal as floats, not as integers
    enc = TableEncoder("y").fit({"x": list(range(6)), "y": big})
    assert enc.classes_.tolist() == [2**53, 2**53 + 1]
    assert enc.inverse_transform_target(enc.transform_target({"y": big})).tolist() == [int(b) for b in big]


def test_a_cell_beyond_the_csv_modules_limit(tmp_path):
    long = "z" * 300_000
    (tmp_path / "t.csv").write_text(f"a,b\n1,{long}\n2,short\n")
    assert read_csv(tmp_path / "t.csv").cells["b"] == [long, "short"]


def test_one_class_and_a_missing_exclude_are_refused_naming_the_fix(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},k\n" for i in range(10)))
    with pytest.raises(ValueError, match="one class only .*choose another target"):
        load_csv(tmp_path / "t.csv", "y")
    with pytest.raises(ValueError, match="excluded column 'nope' not found.*available columns: a, b, y"):
        TableEncoder("y", exclude=["nope"]).fit(tmp_path / "t.csv")


def test_huge_values_standardise_like_their_scaled_copy():
    x = np.array([1.0, 3.0, 7.0, 2.0, 9.0])
    enc = TableEncoder(None).fit({"big": (x * 1e200).tolist(), "small": x.tolist()})
    ref = (x - x.mean()) / x.std()
    out = enc.transform({"big": (x * 1e200).tolist(), "small": x.tolist()})
    np.testing.assert_allclose(out[:, 0], ref, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], ref, rtol=1e-6)
    with pytest.raises(ValueError, match="float32 range"):       # a new row far beyond training scale
        enc.transform({"big": [1e200], "small": [1e300]})


def test_binary_and_unknown_encodings_are_named(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(ValueError, match="looks binary"):
        read_csv(tmp_path / "b.csv")
    (tmp_path / "t.csv").write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_csv(tmp_path / "t.csv", encoding="klingon")
