"""Numeric and categorical CSV tables: `TableEncoder` (fit on training rows, reusable at predict
time) and `load_csv` (read, stratified split, encode).

Only the standard library's `csv` module and numpy are used; pandas is not needed, though a
pandas ``DataFrame`` is accepted wherever a table is. Files are read by ``_read`` (delimiter
detection, UTF-8/BOM/Latin-1, cells of any length, the file named in every error).

* ``_cells``: `Table`, `read_csv` and the rules for single cells;
* ``encoder``: `TableEncoder`.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from neuroplastic._core.errors import DataError
from neuroplastic.datasets._split import stratified_indices
from neuroplastic.datasets._types import Split
from neuroplastic.datasets.table._cells import MISSING_TOKENS, Table, _encode_labels, _is_number, read_csv
from neuroplastic.datasets.table.encoder import TableEncoder

__all__ = ["MISSING_TOKENS", "Table", "TableEncoder", "load_csv", "read_csv"]


def load_csv(
    path: str | os.PathLike,
    target: str,
    *,
    test_size: float | int = 0.25,
    seed: int = 0,
    standardize: bool = True,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    categorical: str | Sequence[str] = "auto",
    delimiter: str | None = None,
    encoding: str = "auto",
) -> Split:
    """Read a numeric CSV, split it stratified by ``target``, and encode both parts.

    The rows are split first (``train_test_split(stratify=y, random_state=seed)``), then a
    `TableEncoder` is fit on the training rows only and applied to both parts. It is returned
    as ``split.encoder``; save ``split.encoder.to_config()`` beside a model to encode new CSVs.

    Args:
        path: CSV file with a header row.
        target: Name of the label column (strings or integers).
        test_size: Fraction of rows held out, or a number of rows.
        seed: Random state of the shuffle.
        standardize: Z-score features with the training rows' mean and std.
        features: Feature columns to use (default: all but target and ``exclude``).
        exclude: Columns to leave out.
        categorical: Columns to one-hot encode, or ``"auto"`` (text columns); see `TableEncoder`.
        delimiter: Field separator, or ``None`` to detect it (``,`` ``;`` tab ``|``).
        encoding: ``"auto"`` (UTF-8 with or without BOM, else Latin-1 with a warning) or a codec.

    Returns:
        `Split` (float32 features, int64 codes; ``class_names`` from ``encoder.classes_``;
        ``name`` is the file's stem).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Missing target column (the message lists the columns), a missing cell or a
            stray text cell in a numeric column (column and line named), a text column with too
            many categories, a target with one class only, or a class with fewer than 2 rows.
    """
    t = read_csv(path, delimiter=delimiter, encoding=encoding)
    TableEncoder._require_columns(t, [target], what="target column")
    # Class codes of all rows, only to stratify; the encoder is then fit on training rows.
    classes, y_all = _encode_labels(t, target)
    if len(classes) < 2:
        raise DataError(
            f"target column {target!r} of {t.source} holds one class only ({classes[0]!r} in all {t.n_rows} "
            "rows): a classifier needs at least 2 classes to learn anything; choose another target column "
            "or add rows of the other classes"
        )
    if len(classes) > max(20, t.n_rows // 2):
        kind = "numbers" if all(_is_number(c) for c in classes) else "values"
        raise DataError(
            f"target column {target!r} of {t.source} has {len(classes)} distinct {kind} in {t.n_rows} rows "
            f"(e.g. {', '.join(map(str, classes[:3]))}): it looks like a quantity to predict (regression) or an "
            "identifier, and this trains a classifier: bin it into a few classes (e.g. low/medium/high) or "
            "choose another target column"
        )
    train_idx, test_idx = stratified_indices(
        y_all, test_size, seed, class_names=[str(c) for c in classes], where=t.where,
        source=t.source,
    )
    train, test = t.take(train_idx), t.take(test_idx)
    enc = TableEncoder(target, features=features, exclude=exclude, standardize=standardize, categorical=categorical)
    x_train, y_train = enc.fit_transform(train)
    if len(enc.classes_) != len(classes):
        seen = set(enc.classes_.tolist())
        lost = [str(c) for c in classes if c not in seen]
        raise ValueError(f"class(es) {', '.join(lost)} ended up with no training rows: lower "
                         f"test_size={test_size} or add rows of those classes")
    return Split(
        x_train=x_train,
        y_train=y_train,
        x_test=enc.transform(test),
        y_test=enc.transform_target(test),
        feature_names=tuple(enc.feature_names_),
        class_names=enc.class_names,
        name=Path(path).stem,
        encoder=enc,
    )
