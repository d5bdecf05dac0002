"""The learned state of a streaming model as JSON, so a stream can be checkpointed and resumed.

A streaming model's state is a graph of small Python objects (running statistics, resonance
layers, sorted windows, deques). :func:`encode` turns it into JSON-able data and :func:`decode`
rebuilds it exactly: floats round-trip bit for bit (Python's ``repr``), ``deque`` keeps its
``maxlen``, dicts keep non-string keys, numpy arrays keep dtype and shape. Only classes listed in
:data:`CLASSES` are rebuilt (``cls.__new__`` then their ``__dict__``): a checkpoint cannot name
any other code, so loading one never runs anything it carries.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

__all__ = ["CLASSES", "decode", "encode", "register_state_class"]

#: classes a state may contain, by a stable name
CLASSES: dict[str, type] = {}
_NAMES: dict[type, str] = {}


def register_state_class(name: str):  # type: ignore[no-untyped-def]
    """Class decorator: instances may appear in a checkpointed stream state as ``name``."""

    def deco(cls: type) -> type:
        CLASSES[name], _NAMES[cls] = cls, name
        return cls

    return deco


def encode(value: Any, where: str = "state") -> Any:
    """JSON-able form of ``value`` (see the module docstring); unknown types are an error."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {"f": repr(v)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: arrays of dtype {value.dtype} cannot be saved")
        flat = [encode(v, where) for v in value.ravel().tolist()]
        return {"a": flat, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, deque):
        return {"q": [encode(v, f"{where}[]") for v in value], "maxlen": value.maxlen}
    if isinstance(value, tuple):
        return {"t": [encode(v, f"{where}[]") for v in value]}
    if isinstance(value, list):
        return [encode(v, f"{where}[]") for v in value]
    if isinstance(value, dict):
        return {"d": [[encode(k, f"{where} key"), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    name = _NAMES.get(type(value))
    if name is not None:
        return {"o": name, "v": {k: encode(v, f"{where}.{k}") for k, v in vars(value).items()}}
    raise TypeError(f"{where} is a {type(value).__name__}, which a stream checkpoint cannot hold: register its class "
                    "with neuroplastic.streaming._state_io.register_state_class")


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "f" in data and len(data) == 1:
        return float(data["f"])
    if "a" in data:
        out = np.array([decode(v) for v in data["a"]], dtype=np.dtype(data["dtype"]))
        return out.reshape(data["shape"])
    if "q" in data:
        return deque((decode(v) for v in data["q"]), maxlen=data["maxlen"])
    if "t" in data:
        return tuple(decode(v) for v in data["t"])
    if "d" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["d"]}
    if "o" in data:
        cls = CLASSES.get(data["o"])
        if cls is None:
            raise ValueError(f"the stream state names class {data['o']!r}, which is not a registered state class "
                             f"(known: {sorted(CLASSES)})")
        obj = cls.__new__(cls)
        obj.__dict__.update({k: decode(v) for k, v in data["v"].items()})
        return obj
    raise ValueError(f"not an encoded stream state: {sorted(data)[:5]}")


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, (list, tuple)) else k
