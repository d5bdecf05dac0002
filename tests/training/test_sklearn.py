"""scikit-learn estimators: the estimator-check suite, label/feature handling, partial_fit."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from neuroplastic.training.architectures import ARCHITECTURES
from neuroplastic.training.sklearn import MLPClassifier, SNNClassifier

# Short training so the suite stays fast; every other setting is the default.
CHECKED = [
    SNNClassifier(max_epochs=5, random_state=0, device="cpu"),
    # The 4-4 founding network at its default lr 1e-3 needs ~100 epochs on check_classifiers_train's
    # 300 blobs to pass its > 0.83 training accuracy; lr 1e-2 gets there in 20 epochs.
    MLPClassifier(architecture="founding", max_epochs=20, learning_rate=1e-2, random_state=0, device="cpu"),
    MLPClassifier(architecture="wide", max_epochs=5, random_state=0, device="cpu"),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)
