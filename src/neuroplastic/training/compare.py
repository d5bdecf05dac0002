"""Deprecated: ``compare_classifiers`` and ``default_classifiers`` moved to :mod:`neuroplastic.models.compare`.

They compare estimators, which sit above ``training``; this module imports the new one by name
on first use and warns with a ``DeprecationWarning``.
"""
from __future__ import annotations

import warnings
from typing import Any

__all__: list[str] = []

_MOVED = ("compare_classifiers", "default_classifiers")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(f"neuroplastic.training.compare.{name} moved to neuroplastic.models.compare.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("neuroplastic.models.compare"), name)
    raise AttributeError(f"module 'neuroplastic.training.compare' has no attribute {name!r}")
