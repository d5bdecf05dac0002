r"""The JSON codec of estimator checkpoints: plain data (tuples, non-finite floats) to JSON and back.

:func:`_to_json` makes a JSON-able copy of constructor parameters and fitted plain data (tuples are
tagged so they come back as tuples, ``nan``/``inf`` are tagged because JSON cannot hold them) and
names the attribute when something cannot be saved without pickle; :func:`_from_json` undoes it.
The estimator checkpoint itself (:class:`~neuroplastic.models.EstimatorCheckpoint`, which knows the
training ``Model``) lives in :mod:`neuroplastic.models`, above ``training``.

Deprecated alias: ``neuroplastic.io.estimator.EstimatorCheckpoint`` still resolves (with a
``DeprecationWarning``) through a module ``__getattr__`` that imports ``neuroplastic.models`` by
name at first use; import it from :mod:`neuroplastic.models` instead.

Example:
    >>> _to_json((1, float("inf")), "x")
    {'__tuple__': [1, {'__float__': 'inf'}]}
    >>> _from_json(_to_json((1, float("inf")), "x"))
    (1, inf)
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Mapping

import numpy as np
import torch

from neuroplastic.io._errors import CheckpointError

__all__: list[str] = []

_TUPLE = "__tuple__"
_FLOAT = "__float__"   # non-finite floats, which JSON cannot hold: {"__float__": "nan" | "inf" | "-inf"}


def _to_json(value: Any, where: str) -> Any:
    """JSON-able copy of ``value`` (tuples tagged so they come back as tuples)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {_FLOAT: repr(v)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tuple):
        return {_TUPLE: [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckpointError(f"{where} has the key {k!r}; only str keys can be saved: convert the keys to str")
            out[k] = _to_json(v, f"{where}[{k!r}]")
        return out
    hint = ("pass an int seed instead of a RandomState/Generator" if isinstance(value, (np.random.RandomState,
            np.random.Generator, torch.Generator)) else "use numbers, strings, lists or dicts")
    raise CheckpointError(f"{where} is a {type(value).__name__}, which cannot be saved without pickle: {hint}")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_from_json(v) for v in value[_TUPLE])
        if set(value) == {_FLOAT} and value[_FLOAT] in ("nan", "inf", "-inf"):
            return float(value[_FLOAT])
        return {k: _from_json(v) for k, v in value.items()}
    return value


#: names that moved up to neuroplastic.models: ``name -> module`` (imported by name, on first use only)
_MOVED = {"EstimatorCheckpoint": "neuroplastic.models._checkpoint"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(f"neuroplastic.io.estimator.{name} moved to neuroplastic.models.{name}: import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'neuroplastic.io.estimator' has no attribute {name!r}")
