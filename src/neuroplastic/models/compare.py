"""Side-by-side comparison of the baselines and the spiking classifier on one train/test split.

Used by ``benchmarks/bench_classifiers.py`` and meant for the ``neuroplastic demo`` command.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> X, y = load_iris(return_X_y=True)
    >>> xtr, xte, ytr, yte = train_test_split(X, y, stratify=y, random_state=0)
    >>> rows = compare_classifiers(xtr, ytr, xte, yte, models={"wide_mlp": MLPClassifier(architecture="wide", max_epochs=20)})
    >>> rows[0]["model"], rows[0]["test_accuracy"] > 0.8
    ('wide_mlp', True)
"""
from __future__ import annotations

import time
from typing import Any, Callable

from sklearn.base import clone

from neuroplastic.models.mlp import MLPClassifier
from neuroplastic.models.snn import SNNClassifier

__all__ = ["compare_classifiers", "default_classifiers"]


def default_classifiers(random_state: int = 0, device: str = "auto") -> dict[str, Any]:
    """The three reference models with their default settings: founding MLP, wide MLP, SNN."""
    return {
        "founding_mlp": MLPClassifier(architecture="founding", random_state=random_state, device=device),
        "wide_mlp": MLPClassifier(architecture="wide", random_state=random_state, device=device),
        "snn": SNNClassifier(random_state=random_state, device=device),
    }


def compare_classifiers(x_train: Any, y_train: Any, x_test: Any, y_test: Any, models: dict[str, Any] | None = None,
                        on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Fit each model on the training split and score it on the test split.

    Args:
        x_train, y_train, x_test, y_test: the split (features are standardised by the estimators).
        models: name -> unfitted scikit-learn classifier (cloned before fitting); default
            :func:`default_classifiers`.
        on_result: called with each row as soon as it is ready (e.g. to print progress).

    Returns:
        One dict per model: ``model``, ``test_accuracy``, ``train_accuracy``, ``fit_seconds``
        (wall clock), ``cpu_seconds`` (process CPU time), ``epochs``, ``n_params``.
    """
    rows = []
    for name, est in (models or default_classifiers()).items():
        est = clone(est)
        t, c = time.perf_counter(), time.process_time()
        est.fit(x_train, y_train)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        model = getattr(est, "model_", None)
        row = {
            "model": name,
            "test_accuracy": float(est.score(x_test, y_test)),
            "train_accuracy": float(est.score(x_train, y_train)),
            "fit_seconds": wall,
            "cpu_seconds": cpu,
            "epochs": int(getattr(est, "n_epochs_", 0)),
            "n_params": int(model.count_params()) if model is not None else None,
        }
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return rows
