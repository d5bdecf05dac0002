"""Deprecated: the scikit-learn estimators moved to :mod:`neuroplastic.models`.

``SNNClassifier`` and ``MLPClassifier`` are now :class:`neuroplastic.models.SNNClassifier` and
:class:`neuroplastic.models.MLPClassifier` (also ``neuroplastic.SNNClassifier``). Models sit
above ``training`` (they are built from it), so this module cannot import them; its
``__getattr__`` imports ``neuroplastic.models`` by name on first use and warns with a
``DeprecationWarning``.
"""
from __future__ import annotations

import warnings
from typing import Any

__all__: list[str] = []

_MOVED = ("MLPClassifier", "SNNClassifier", "LEARNING_MODES")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(f"neuroplastic.training.sklearn.{name} moved to neuroplastic.models.{name}: import it from "
                      "neuroplastic or neuroplastic.models", DeprecationWarning, stacklevel=2)
        module = "neuroplastic.models.snn" if name == "LEARNING_MODES" else "neuroplastic.models"
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'neuroplastic.training.sklearn' has no attribute {name!r}")
