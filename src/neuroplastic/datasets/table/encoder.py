"""`TableEncoder`: numeric and categorical feature columns and class labels, fitted on training
rows and reusable at predict time (its config is plain JSON)."""
from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroplastic._core.errors import DataError, InputError, StateError
from neuroplastic.datasets._split import fit_standardizer
from neuroplastic.datasets.table._cells import (
    Table,
    TableLike,
    _as_table,
    _categorical_column,
    _encode_labels,
    _is_missing,
    _is_number,
    _label_key,
    _numeric_column,
)

__all__ = ["TableEncoder"]

CONFIG_FORMAT = "neuroplastic.datasets.TableEncoder"
CONFIG_VERSION = 2          # 2: categorical columns ("columns", "categories"); version 1 still loads

#: A text column is taken for categories when at most this share of its cells are numbers
#: (more, and the text cells look like typos or missing-value markers: an error names the first).
_NUMERIC_SHARE_FOR_TYPO = 0.9


def _fit_standardizer_safe(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`fit_standardizer` that does not overflow: columns of huge values (|x| ~ 1e200, whose
    squares are infinite) are divided by their largest magnitude first and the statistics scaled
    back, so the mean and std of any finite column are finite."""
    big = np.abs(x).max(axis=0) if len(x) else np.zeros(x.shape[1])
    m = np.where(big > 1e100, big, 1.0)
    mean, scale, constant = fit_standardizer(x / m)
    constant = np.asarray(constant, dtype=bool)
    if len(x):
        mean = np.where(constant, x[0], np.asarray(mean, dtype=np.float64) * m)   # exact for constant columns
    scale = np.asarray(scale, dtype=np.float64) * m
    scale = np.where(constant | ~(scale > 0) | ~np.isfinite(scale), 1.0, scale)
    return np.asarray(mean, dtype=np.float64), scale, constant


class TableEncoder:
    """Turn rows of a numeric table into float32 features and int64 class codes.

    ``fit`` (on training rows only) remembers the feature columns, the classes of the target
    column (strings, or integers if every label is an integer; sorted; class ``k`` is
    ``classes_[k]``) and, if ``standardize``, the per-column mean and standard deviation.
    ``transform`` then encodes any table with those columns (in any order, extra columns
    ignored), so the same encoder serves at predict time when the target column is absent.

    A feature column constant on the training rows (std 0) is kept and centred but not divided
    (scale 1), so it is all zeros on the training rows; it is listed in ``constant_features_``
    and a warning names it (drop it with ``exclude=[...]`` to silence the warning).

    Categorical columns are one-hot encoded: with ``categorical="auto"`` (default) a feature
    column whose cells are text (at most 90 % of them numbers) becomes one output feature per
    category seen in training, named ``column=category`` (sorted); a category first seen at
    ``transform`` sets none of them and a warning names it. A text column with more than
    ``max_categories`` categories, or (from 10 rows) a different value in every row, is refused
    (an identifier or free text: leave it out). A
    column whose cells are numbers except a few is refused too, naming the first odd cell (a
    typo or a missing-value marker); list it in ``categorical=[...]`` if it is really categories.

    Missing values (empty cells, ``NA``, ``NaN``, ``?``, ``None``; in a categorical column the
    text ``none`` is a category) are errors naming the column and row; nothing is imputed or
    dropped silently.

    Args:
        target: Name of the label column, or ``None`` for features only.
        features: Feature columns to use, in this order. Default: every column but the target
            and ``exclude``, in file order.
        exclude: Columns to leave out (identifiers, free text ...).
        standardize: Z-score features with training mean and std (``True``) or keep raw values
            (one-hot features included).
        categorical: ``"auto"`` (text columns), or the columns to one-hot encode (numbers in them
            are categories too); ``()`` for none: every feature must then be numeric.
        max_categories: Most categories a column may have.

    Attributes:
        columns_: Input columns used, in order.
        categories_: ``{column: [category, ...]}`` for the one-hot encoded columns.
        feature_names_: Output features, in the order of the output's columns (a numeric
            column's name, or ``column=category``).
        classes_: Original labels; code ``k`` stands for ``classes_[k]``. ``None`` without target.
        mean_: Training mean per feature (float64), or ``None`` if not standardising.
        scale_: Training std per feature, 1 for constant features, or ``None``.
        constant_features_: Features constant on the training rows.

    Example:
        >>> enc = TableEncoder(target="kind").fit({"a": [1, 2, 3, 4], "kind": ["x", "y", "x", "y"]})
        >>> enc.transform({"a": [2.5]}).round(3).tolist(), enc.classes_.tolist()
        ([[0.0]], ['x', 'y'])
        >>> TableEncoder.from_config(enc.to_config()).transform_target({"kind": ["y"]}).tolist()
        [1]
    """

    def __init__(
        self,
        target: str | None,
        *,
        features: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        standardize: bool = True,
        categorical: str | Sequence[str] = "auto",
        max_categories: int = 30,
    ) -> None:
        if isinstance(categorical, str) and categorical != "auto":
            raise ValueError(f"categorical must be 'auto' or a list of columns, got {categorical!r}: "
                             f"write categorical=[{categorical!r}] for one column")
        if not (isinstance(max_categories, (int, np.integer)) and max_categories >= 2):
            raise ValueError(f"max_categories must be an integer >= 2, got {max_categories!r}")
        self.target = target
        self.features = None if features is None else list(features)
        self.exclude = list(exclude)
        self.standardize = bool(standardize)
        self.categorical = categorical if isinstance(categorical, str) else list(categorical)
        self.max_categories = int(max_categories)
        self.columns_: list[str] | None = None
        self.categories_: dict[str, list[str]] = {}
        self.feature_names_: list[str] | None = None
        self.classes_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.constant_features_: list[str] = []

    # ---------------------------------------------------------------- fitting
    def fit(self, table: TableLike) -> TableEncoder:
        """Learn feature columns, classes and (optionally) mean/std from training rows.

        Args:
            table: Training rows: a CSV path, ``{column: values}``, row dicts or a DataFrame.

        Returns:
            ``self``.

        Raises:
            ValueError: Missing target or feature column, missing or non-numeric cell.
        """
        t = _as_table(table)
        if self.target is not None:
            self._require_columns(t, [self.target], what="target column")
        if self.features is not None:
            feats = list(self.features)
            if self.target in feats:
                raise ValueError(f"target {self.target!r} is also in features=: remove it there")
        else:
            self._require_columns(t, self.exclude, what="excluded column")
            feats = [c for c in t.columns if c != self.target and c not in self.exclude]
        if not feats:
            raise ValueError(
                f"no feature columns left in {t.source} (columns: {', '.join(t.columns)}): "
                "check target=, features= and exclude="
            )
        self._require_columns(t, feats, what="feature column")
        if not isinstance(self.categorical, str):
            self._require_columns(t, self.categorical, what="categorical column")
            stray = [c for c in self.categorical if c not in feats]
            if stray:
                raise ValueError(f"categorical column(s) {', '.join(map(repr, stray))} are not features: "
                                 "drop them from categorical= or from exclude=")
        self.columns_ = feats
        self.categories_ = {c: self._fit_categories(t, c) for c in feats if self._is_categorical(t, c)}
        self.feature_names_ = [n for c in feats for n in self._output_names(c)]
        if self.target is not None:
            classes, _ = _encode_labels(t, self.target)
            self.classes_ = np.array(classes)
        x = self._features(t)
        self._refuse_numeric_identifiers(t, x)
        if self.standardize:
            mean, scale, constant = _fit_standardizer_safe(x)
            self.mean_, self.scale_ = mean, scale
            self.constant_features_ = [f for f, c in zip(feats, constant) if c]
            if self.constant_features_:
                warnings.warn(
                    f"feature(s) {', '.join(map(repr, self.constant_features_))} are constant "
                    f"on the {len(x)} training rows of {t.source}: they are centred to 0 and not "
                    "scaled; leave them out with exclude=[...] if they carry no information",
                    UserWarning,
                    stacklevel=2,
                )
        return self

    def fit_transform(self, table: TableLike) -> tuple[np.ndarray, np.ndarray | None]:
        """``fit`` then encode the same rows.

        Returns:
            ``(x, y)``: float32 ``[N, F]`` and int64 ``[N]`` (``y`` is ``None`` without target).
        """
        t = _as_table(table)
        self.fit(t)
        y = self.transform_target(t) if self.target is not None else None
        return self.transform(t), y

    # --------------------------------------------------------------- encoding
    def transform(self, table: TableLike) -> np.ndarray:
        """Encode features of new rows the way the training rows were encoded.

        Args:
            table: Rows with (at least) the columns in ``columns_``; the target column may be
                absent.

        Returns:
            float32 ``[N, F]``.
        """
        self._check_fitted()
        t = _as_table(table)
        self._require_columns(t, self.columns_, what="feature column")
        x = self._features(t)
        if self.standardize:
            x = (x - self.mean_) / self.scale_
        with np.errstate(over="ignore"):   # found and named just below
            out = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(out).all():  # the cells are finite: a value beyond float32 after encoding
            i, j = map(int, np.argwhere(~np.isfinite(out))[0])
            name = self.feature_names_[j]
            raise DataError(
                f"feature {name!r}, {t.where(i)}: the value {t.cells[name][i]!r} is "
                f"{'beyond' if np.isfinite(x[i, j]) else 'too far from'} the float32 range (|x| <= 3.4e38) "
                f"{'once standardised with the training mean and std' if self.standardize else ''}: rescale the "
                f"column (its logarithm, other units) or leave it out with {self._hint(name)}"
            )
        return out

    def transform_target(self, table: TableLike) -> np.ndarray:
        """Encode the target column of ``table`` to codes 0..K-1.

        Returns:
            int64 ``[N]``.

        Raises:
            ValueError: No target configured or present, or a label unseen during ``fit``.
        """
        self._check_fitted()
        if self.target is None or self.classes_ is None:
            raise ValueError("this TableEncoder has no target: build it with target='<column>'")
        t = _as_table(table)
        self._require_columns(t, [self.target], what="target column")
        as_int = self.classes_.dtype.kind in "iu"
        index = {k.item() if isinstance(k, np.generic) else k: i
                 for i, k in enumerate(self.classes_)}
        out = np.empty(t.n_rows, dtype=np.int64)
        for i, v in enumerate(t.cells[self.target]):
            if _is_missing(v):
                raise ValueError(f"target column {self.target!r}, {t.where(i)}: missing label "
                                 f"({v!r}): fill it in or drop that row")
            try:
                out[i] = index[_label_key(v, as_int)]
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"target column {self.target!r}, {t.where(i)}: label {v!r} was not seen in "
                    f"training (classes: {', '.join(map(str, self.classes_.tolist()))}): drop "
                    "that row or refit on data that includes it"
                ) from None
        return out

    def inverse_transform_target(self, codes: Sequence[int] | np.ndarray) -> np.ndarray:
        """Map class codes 0..K-1 (e.g. predictions) back to the original labels."""
        self._check_fitted()
        if self.classes_ is None:
            raise ValueError("this TableEncoder has no target: build it with target='<column>'")
        codes = np.asarray(codes, dtype=np.int64)
        bad = (codes < 0) | (codes >= len(self.classes_))
        if bad.any():
            raise ValueError(f"class code {int(codes[bad][0])} out of range "
                             f"0..{len(self.classes_) - 1}")
        return self.classes_[codes]

    @property
    def class_names(self) -> tuple[str, ...]:
        """``classes_`` as strings (empty without target)."""
        return () if self.classes_ is None else tuple(str(c) for c in self.classes_.tolist())

    # ---------------------------------------------------------- serialisation
    def to_config(self) -> dict[str, Any]:
        """A plain JSON-able dict holding everything ``transform`` needs.

        Example:
            >>> import json
            >>> enc = TableEncoder("y").fit({"a": [0, 2], "y": [3, 5]})
            >>> json.loads(json.dumps(enc.to_config()))["classes"]
            [3, 5]
        """
        self._check_fitted()
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "target": self.target,
            "columns": list(self.columns_),
            "categories": {c: list(v) for c, v in self.categories_.items()},
            "features": list(self.feature_names_),
            "standardize": self.standardize,
            "classes": None if self.classes_ is None else self.classes_.tolist(),
            "mean": None if self.mean_ is None else [float(v) for v in self.mean_],
            "scale": None if self.scale_ is None else [float(v) for v in self.scale_],
            "constant_features": list(self.constant_features_),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TableEncoder:
        """Rebuild a fitted encoder from `to_config`'s dict (e.g. after a JSON round trip).

        Raises:
            StateError: the dict is not a TableEncoder config, or it was damaged or edited (a
                missing key, a value of the wrong type, lengths that do not match).
        """
        try:
            return cls._from_config(config)
        except StateError:
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            what = f"key {e.args[0]!r} is missing" if isinstance(e, KeyError) and e.args else f"{type(e).__name__}: {e}"
            raise StateError(f"the table encoder's config cannot be used ({what}): it is damaged or was edited by "
                             "hand; retrain with `neuroplastic train`, or restore the model folder") from e

    @classmethod
    def _from_config(cls, config: Mapping[str, Any]) -> TableEncoder:
        if not isinstance(config, Mapping):
            raise StateError(f"a TableEncoder config is a dict, got {type(config).__name__}: the config is corrupt")
        if config.get("format") != CONFIG_FORMAT:
            raise ValueError(f"not a TableEncoder config (format={config.get('format')!r}): pass "
                             "the dict made by TableEncoder.to_config()")
        if config.get("version") not in (1, CONFIG_VERSION):
            raise ValueError(f"TableEncoder config version {config.get('version')!r} is not "
                             f"supported (expected {CONFIG_VERSION}): upgrade neuroplastic")
        columns = list(config.get("columns", config["features"]))     # version 1: numeric columns only
        categories = {str(c): [str(v) for v in vals] for c, vals in dict(config.get("categories", {})).items()}
        if set(categories) - set(columns):
            raise ValueError("config 'categories' names columns missing from 'columns': the config is corrupt")
        enc = cls(config["target"], features=columns, standardize=bool(config["standardize"]),
                  categorical=list(categories))
        enc.columns_, enc.categories_ = columns, categories
        enc.feature_names_ = [n for c in columns for n in enc._output_names(c)]
        feats = enc.feature_names_
        if list(config["features"]) != feats:
            raise ValueError("config 'features' do not match its columns and categories: the config is corrupt")
        classes = config.get("classes")
        if classes is not None:
            kinds = {type(c) for c in classes} if isinstance(classes, list) else {None}
            if not classes or not (kinds <= {int} or kinds <= {str}) or len(set(classes)) != len(classes):
                raise StateError("config 'classes' must be a non-empty list of distinct labels, all ints or "
                                 "all strings: the config is corrupt")
            enc.classes_ = np.array(classes)
        if enc.standardize:
            mean = np.asarray(config["mean"], dtype=np.float64)
            scale = np.asarray(config["scale"], dtype=np.float64)
            if mean.shape != (len(feats),) or scale.shape != (len(feats),):
                raise ValueError(f"config has {len(feats)} features but mean/scale of lengths "
                                 f"{mean.shape}/{scale.shape}: the config is corrupt")
            if not (np.isfinite(scale).all() and (scale > 0).all()):
                raise ValueError("config 'scale' must be finite and > 0: the config is corrupt")
            enc.mean_, enc.scale_ = mean, scale
        enc.constant_features_ = list(config.get("constant_features", []))
        return enc

    # ----------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if self.feature_names_ is None:
            raise RuntimeError("TableEncoder is not fitted: call fit(table) first, or rebuild "
                               "a saved one with TableEncoder.from_config(config)")

    def _hint(self, c: str) -> str:
        return (f"features= without {c!r}" if self.features is not None
                else f"exclude={[*self.exclude, c]!r} (command line: --exclude {c})")

    def _is_categorical(self, t: Table, c: str) -> bool:
        if not isinstance(self.categorical, str):
            return c in self.categorical
        cells = [v for v in t.cells[c] if not _is_missing(v)]
        numbers = sum(_is_number(v) for v in cells)
        if numbers == len(cells):
            return False
        if numbers > _NUMERIC_SHARE_FOR_TYPO * len(cells):
            i = next(i for i, v in enumerate(t.cells[c]) if not _is_missing(v) and not _is_number(v))
            raise ValueError(
                f"column {c!r}, {t.where(i)}: {t.cells[c][i]!r} is not a number, though {numbers} of the "
                f"column's {len(cells)} cells are: fix that cell, pass categorical=[{c!r}] if the column "
                f"holds categories, or leave it out with {self._hint(c)}"
            )
        return True

    def _refuse_numeric_identifiers(self, t: Table, x: np.ndarray) -> None:
        """A numeric column of distinct whole numbers spanning less than twice as many values as
        rows (row numbers, record ids: 1000, 1001, ... in any order) identifies rows instead of
        describing them; training on it memorises the split. Refused like a text identifier."""
        n = len(x)
        if n < 20 or self.features is not None:  # named features are the user's explicit choice
            return
        j = 0
        for c in self.columns_:
            width = len(self.categories_.get(c, ())) or 1
            if c not in self.categories_:
                col = x[:, j].astype(np.float64)
                if (np.isfinite(col).all() and np.array_equal(col, np.round(col))
                        and len(np.unique(col)) == n and col.max() - col.min() < 2 * n):
                    raise DataError(
                        f"column {c!r} of {t.source} holds a different whole number in each of its {n} rows, "
                        f"from {col.min():.0f} to {col.max():.0f}: a row number or identifier? it tells rows apart "
                        f"instead of describing them; leave it out with {self._hint(c)}")
            j += width

    def _fit_categories(self, t: Table, c: str) -> list[str]:
        values = _categorical_column(t, c)
        cats = sorted(set(values))
        if len(cats) == len(values) >= 10:
            raise ValueError(
                f"column {c!r} of {t.source} has a different text value in each of its {len(values)} rows: "
                f"an identifier? leave it out with {self._hint(c)}"
            )
        if len(cats) > self.max_categories:
            raise ValueError(
                f"column {c!r} of {t.source} has {len(cats)} distinct text values, more than "
                f"max_categories={self.max_categories}: an identifier or free text? leave it out with "
                f"{self._hint(c)}, or raise max_categories to one-hot encode it"
            )
        return cats

    def _output_names(self, c: str) -> list[str]:
        return [f"{c}={v}" for v in self.categories_[c]] if c in self.categories_ else [c]

    def _features(self, t: Table) -> np.ndarray:
        cols = []
        for c in self.columns_:
            if c not in self.categories_:
                cols.append(_numeric_column(t, c, hint=self._hint(c))[:, None])
                continue
            values = _categorical_column(t, c)
            index = {v: k for k, v in enumerate(self.categories_[c])}
            onehot = np.zeros((len(values), len(index)))
            unseen: dict[str, int] = {}
            for i, v in enumerate(values):
                k = index.get(v)
                if k is None:
                    unseen.setdefault(v, i)
                else:
                    onehot[i, k] = 1.0
            if unseen:
                first = ", ".join(f"{v!r} ({t.where(i)})" for v, i in list(unseen.items())[:5])
                warnings.warn(
                    f"column {c!r}: {len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} not seen in training, "
                    f"encoded as none of the known ones: {first}", UserWarning, stacklevel=3)
            cols.append(onehot)
        return np.concatenate(cols, axis=1)

    def __repr__(self) -> str:
        fitted = self.feature_names_ is not None
        extra = (f", n_features={len(self.feature_names_)}, classes={self.class_names}"
                 if fitted else ", unfitted")
        return f"TableEncoder(target={self.target!r}, standardize={self.standardize}{extra})"

    @staticmethod
    def _require_columns(t: Table, wanted: Sequence[str], *, what: str) -> None:
        missing = [c for c in wanted if c not in t.cells]
        if not missing:
            return
        c = missing[0]
        close = difflib.get_close_matches(c, t.columns, n=1, cutoff=0.6)
        if not close:
            lower = {x.lower(): x for x in t.columns}
            close = [lower[c.lower()]] if c.lower() in lower else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"{what} {c!r} not found in {t.source}{hint}; available columns: "
            f"{', '.join(t.columns)}: pass one of those"
        )
