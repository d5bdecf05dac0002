"""CSV tables: `load_csv`, `TableEncoder`, and their errors."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from neuroplastic.datasets import TableEncoder, load_csv, read_csv


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_rows(n_per_class: int = 8, seed: int = 0) -> tuple[list[str], list[list[object]]]:
    rng = np.random.default_rng(seed)
    rows = []
    for k, label in enumerate(["setosa", "virginica", "versicolor"]):
        for _ in range(n_per_class):
            rows.append([round(float(rng.normal(k, 1)), 4), round(float(rng.normal(10 * k, 3)), 4),
                         label])
    order = rng.permutation(len(rows))
    return ["a", "b", "species"], [rows[i] for i in order]


@pytest.fixture
def flowers(tmp_path: Path) -> Path:
    header, rows = make_rows()
    return write_csv(tmp_path / "flowers.csv", header, rows)


def test_load_csv_split_and_training_only_stats(flowers: Path) -> None:
    s = load_csv(flowers, "species")
    assert s.name == "flowers" and s.feature_names == ("a", "b")
    assert s.class_names == ("setosa", "versicolor", "virginica")  # sorted
    assert s.x_train.dtype == s.x_test.dtype == np.float32
    assert s.y_train.dtype == s.y_test.dtype == np.int64
    assert s.x_train.shape == (18, 2) and s.x_test.shape == (6, 2)
    assert (np.bincount(s.y_test) == 2).all()  # stratified: 2 of each 8
    # by hand: same split as sklearn, stats from the training rows only
    raw = np.loadtxt(flowers, delimiter=",", skiprows=1, usecols=(0, 1))
    labels = np.loadtxt(flowers, delimiter=",", skiprows=1, usecols=2, dtype=str)
    y = np.searchsorted(np.array(s.class_names), labels)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
    mean, sd = raw[tr].mean(axis=0), raw[tr].std(axis=0)
    np.testing.assert_allclose(s.x_train, (raw[tr] - mean) / sd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.x_test, (raw[te] - mean) / sd, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(s.y_train, y[tr])
    np.testing.assert_array_equal(s.y_test, y[te])
    np.testing.assert_allclose(s.encoder.mean_, mean)
    raw_split = load_csv(flowers, "species", standardize=False)
    np.testing.assert_allclose(raw_split.x_test, raw[te], rtol=1e-6)


def test_config_round_trip_encodes_new_csv_without_target(flowers: Path, tmp_path: Path) -> None:
    s = load_csv(flowers, "species")
    config = json.loads(json.dumps(s.encoder.to_config()))
    enc = TableEncoder.from_config(config)
    # predict time: no target column, columns reordered, an extra column ignored
    new = write_csv(tmp_path / "new.csv", ["id", "b", "a"], [[1, 10.5, 0.25], [2, -3, 2]])
    x = enc.transform(new)
    expected = (np.array([[0.25, 10.5], [2, -3]]) - s.encoder.mean_) / s.encoder.scale_
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    np.testing.assert_array_equal(x, s.encoder.transform(new))
    assert enc.class_names == s.class_names
    assert enc.inverse_transform_target([2, 0]).tolist() == ["virginica", "setosa"]


def test_in_memory_tables_match_csv(flowers: Path) -> None:
    table = read_csv(flowers)
    enc = TableEncoder("species").fit(flowers)
    as_dict = {c: table.cells[c] for c in table.columns}
    as_rows = [dict(zip(table.columns, vals)) for vals in zip(*as_dict.values())]
    for t in (as_dict, as_rows):
        np.testing.assert_array_equal(enc.transform(t), enc.transform(flowers))
        np.testing.assert_array_equal(enc.transform_target(t), enc.transform_target(flowers))
    x, y = TableEncoder("species").fit_transform(as_rows)
    np.testing.assert_array_equal(x, enc.transform(flowers))


def test_integer_labels_sort_numerically_and_stay_ints(tmp_path: Path) -> None:
    rows = [[i, lab] for i, lab in enumerate([10, 2, 10, 2, 10, 2, 10, 2])]
    s = load_csv(write_csv(tmp_path / "ints.csv", ["f", "y"], rows), "y", test_size=0.5)
    assert s.class_names == ("2", "10")
    cfg = json.loads(json.dumps(s.encoder.to_config()))
    assert cfg["classes"] == [2, 10]
    enc = TableEncoder.from_config(cfg)
    assert enc.transform_target({"y": ["10", "2", 10.0]}).tolist() == [1, 0, 1]
    assert enc.inverse_transform_target([1]).tolist() == [10]


def test_constant_column_is_centred_not_divided(tmp_path: Path) -> None:
    rows = [[0.1, i, "x" if i % 2 else "y"] for i in range(8)]
    path = write_csv(tmp_path / "c.csv", ["const", "f", "y"], rows)
    with pytest.warns(UserWarning, match=r"'const' .*constant.*exclude="):
        s = load_csv(path, "y")
    assert s.encoder.constant_features_ == ["const"]
    assert s.encoder.scale_[0] == 1.0
    assert (s.x_train[:, 0] == 0).all() and (s.x_test[:, 0] == 0).all()
    assert np.isfinite(s.x_train).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_csv(path, "y", exclude=["const"]).feature_names == ("f",)


# ------------------------------------------------------------------ errors naming the fix
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv.*does not exist.*pass the path"):
        load_csv(tmp_path / "nope.csv", "y")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_csv(tmp_path, "y")


def test_missing_target_lists_columns(flowers: Path) -> None:
    with pytest.raises(ValueError, match=r"'Species' not found.*did you mean 'species'.*"
                                         r"available columns: a, b, species"):
        load_csv(flowers, "Species")


def test_non_numeric_feature_names_column_and_row(tmp_path: Path) -> None:
    header, rows = make_rows()
    rows[4][1] = "high"
    path = write_csv(tmp_path / "t.csv", header, rows)
    with pytest.raises(ValueError, match=r"column 'b', line 6 of t\.csv: 'high' is not a number"
                                         r".*exclude=\['b'\]"):
        TableEncoder("species").fit(path)
    with pytest.raises(ValueError, match=r"column 'b', line 6 of t\.csv.*not a number"):
        load_csv(path, "species", test_size=0.5)  # wherever the row lands
    with pytest.raises(ValueError, match=r"column 'x', row 1: 'oops'"):
        TableEncoder("y", categorical=()).fit({"x": [1, "oops"], "y": [0, 1]})   # numbers only
    # half text: categories by default ("1" and "oops"), see test_categorical_columns_are_one_hot
    assert TableEncoder("y").fit({"x": [1, "oops"], "y": [0, 1]}).feature_names_ == ["x=1", "x=oops"]


def test_categorical_columns_are_one_hot_encoded_and_saved(tmp_path: Path) -> None:
    import json
    import warnings
    table = {"age": [30, 40, 50, 60], "sex": ["f", "m", " f", "m"], "cp": ["typical", "none", "atypical", "none"],
             "y": ["no", "yes", "no", "yes"]}
    enc = TableEncoder("y", standardize=False).fit(table)
    assert enc.columns_ == ["age", "sex", "cp"]
    assert enc.categories_ == {"sex": ["f", "m"], "cp": ["atypical", "none", "typical"]}
    assert enc.feature_names_ == ["age", "sex=f", "sex=m", "cp=atypical", "cp=none", "cp=typical"]
    x = enc.transform(table)
    np.testing.assert_array_equal(x, [[30, 1, 0, 0, 0, 1], [40, 0, 1, 0, 1, 0], [50, 1, 0, 1, 0, 0],
                                      [60, 0, 1, 0, 1, 0]])
    again = TableEncoder.from_config(json.loads(json.dumps(enc.to_config())))
    with pytest.warns(UserWarning, match=r"column 'cp': 1 category not seen in training.*'asymptomatic' \(row 1\)"):
        new = again.transform({"age": [45, 55], "sex": ["m", "f"], "cp": ["none", "asymptomatic"]})
    np.testing.assert_array_equal(new, [[45, 0, 1, 0, 1, 0], [55, 1, 0, 0, 0, 0]])
    z = TableEncoder("y").fit(table).transform(table)           # standardised like any feature
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # version-1 configs (numeric) still load
        old = {k: v for k, v in TableEncoder("y", standardize=False).fit({"a": [1, 2], "y": [0, 1]}).to_config().items()
               if k not in ("columns", "categories")}
        old["version"] = 1
        assert TableEncoder.from_config(old).transform({"a": [3]}).tolist() == [[3.0]]


def test_categorical_refusals_name_the_fix() -> None:
    ids = {"id": [f"p{i // 2}" for i in range(80)], "v": [i % 10 for i in range(80)], "y": [i % 2 for i in range(80)]}
    with pytest.raises(ValueError, match=r"'id' of the table has 40 distinct text values.*max_categories=30.*"
                                         r"exclude=\['id'\] \(command line: --exclude id\)"):
        TableEncoder("y").fit(ids)
    assert TableEncoder("y", exclude=["id"]).fit(ids).feature_names_ == ["v"]
    assert len(TableEncoder("y", max_categories=40).fit(ids).feature_names_) == 41
    unique = {"id": [f"p{i}" for i in range(40)], "y": [i % 2 for i in range(40)]}
    with pytest.raises(ValueError, match=r"different text value in each of its 40 rows: an identifier"):
        TableEncoder("y", max_categories=40).fit(unique)
    few = {"id": [f"p{i}" for i in range(12)], "y": [i % 2 for i in range(12)]}
    with pytest.raises(ValueError, match=r"each of its 12 rows.*--exclude id"):
        TableEncoder("y").fit(few)
    assert len(TableEncoder("y").fit({k: v[:9] for k, v in few.items()}).feature_names_) == 9   # tiny: allowed
    with pytest.raises(ValueError, match=r"column 'sex', row 1: missing value"):
        TableEncoder("y").fit({"sex": ["f", "", "m"], "y": [0, 1, 0]})
    coded = {"grade": [1, 2, 3, 1], "y": [0, 1, 0, 1]}           # numbers as categories, on request
    assert TableEncoder("y", categorical=["grade"]).fit(coded).feature_names_ == ["grade=1", "grade=2", "grade=3"]
    with pytest.raises(ValueError, match="categorical column 'nope' not found"):
        TableEncoder("y", categorical=["nope"]).fit(coded)
    with pytest.raises(ValueError, match=r"categorical=\['grade'\]"):
        TableEncoder("y", categorical="grade")


@pytest.mark.parametrize("cell", ["", "NaN", "NA", "?"])
def test_missing_values_name_column_and_row(tmp_path: Path, cell: str) -> None:
    header, rows = make_rows()
    rows[2][0] = cell
    path = write_csv(tmp_path / "m.csv", header, rows)
    with pytest.raises(ValueError, match=r"column 'a', line 4 of m\.csv: missing value.*fill"):
        TableEncoder("species").fit(path)


def test_infinite_value(tmp_path: Path) -> None:
    header, rows = make_rows()
    rows[0][0] = "inf"
    with pytest.raises(ValueError, match=r"column 'a', line 2.*not finite"):
        TableEncoder("species").fit(write_csv(tmp_path / "i.csv", header, rows))


def test_missing_label(tmp_path: Path) -> None:
    header, rows = make_rows()
    rows[3][2] = ""
    with pytest.raises(ValueError, match=r"target column 'species', line 5 .*missing label"):
        load_csv(write_csv(tmp_path / "l.csv", header, rows), "species")


def test_class_with_too_few_rows(tmp_path: Path) -> None:
    header, rows = make_rows()
    rows.append([0.0, 0.0, "rare"])
    path = write_csv(tmp_path / "r.csv", header, rows)
    with pytest.raises(ValueError, match=r"class 'rare' has only 1 row.*line 26 of r\.csv.*"
                                         r"at least 2 rows per class"):
        load_csv(path, "species")


def test_test_size_too_small_for_classes(flowers: Path) -> None:
    with pytest.raises(ValueError, match="at least one row per class: choose a test_size"):
        load_csv(flowers, "species", test_size=2)


def test_ragged_empty_and_duplicate(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n1,2,x\n3,y\n")
    with pytest.raises(ValueError, match="line 3 of ragged.csv has 2 fields but the header has 3"):
        read_csv(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        read_csv(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("a,y\n")
    with pytest.raises(ValueError, match="no data rows"):
        read_csv(header_only)
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,y\n1,2,x\n")
    with pytest.raises(ValueError, match="'a' appears twice.*rename"):
        read_csv(dup)


def test_predict_time_errors(flowers: Path) -> None:
    enc = TableEncoder("species").fit(flowers)
    with pytest.raises(ValueError, match=r"feature column 'b' not found.*available columns: a"):
        enc.transform({"a": [1.0]})
    with pytest.raises(ValueError, match=r"label 'daisy' was not seen in training"):
        enc.transform_target({"species": ["daisy"]})
    with pytest.raises(RuntimeError, match=r"not fitted: call fit\(table\)"):
        TableEncoder("species").transform(flowers)
    with pytest.raises(ValueError, match="not a TableEncoder config"):
        TableEncoder.from_config({"format": "something else"})
    with pytest.raises(ValueError, match="no target"):
        TableEncoder(None).fit({"a": [1, 2]}).transform_target({"a": [1]})


def test_a_continuous_target_is_refused_as_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [[f"{a:.4f}", f"{a * 3 + rng.random():.6f}"] for a in rng.random(60)]
    path = write_csv(tmp_path / "r.csv", ["a", "y"], rows)
    with pytest.raises(ValueError, match=r"'y' of r\.csv has 60 distinct numbers in 60 rows.*regression.*bin it"):
        load_csv(path, "y")


def test_numeric_identifier_columns_are_refused_naming_exclude() -> None:
    rng = np.random.default_rng(0)
    n = 60
    ids = rng.permutation(np.arange(5000, 5000 + n)).tolist()          # record ids in any order
    table = {"id": ids, "x": rng.normal(size=n).round(3).tolist(), "y": [i % 2 for i in range(n)]}
    with pytest.raises(ValueError, match=r"'id' of the table holds a different whole number in each of its 60 rows.*"
                                         r"--exclude id"):
        TableEncoder("y").fit(table)
    assert TableEncoder("y", exclude=["id"]).fit(table).feature_names_ == ["x"]
    # whole numbers that repeat, or distinct ones spread over a wide range, are measurements
    counts = {**table, "id": rng.integers(0, 20, n).tolist()}
    assert TableEncoder("y").fit(counts).feature_names_ == ["id", "x"]
    spread = {**table, "id": (np.arange(n) * 1000 + rng.integers(0, 999, n)).tolist()}
    assert TableEncoder("y").fit(spread).feature_names_ == ["id", "x"]
