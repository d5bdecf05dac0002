"""Shared input checks of the River estimators."""
from __future__ import annotations

import math
import numbers
from typing import Any, Hashable, Mapping

__all__ = ["numeric_items", "sort_key"]


def numeric_items(x: Mapping[Hashable, Any], skip: Hashable | None = None) -> dict[Hashable, float]:
    """``{feature: float}`` of ``x``; a non-numeric value raises ``TypeError`` naming its feature.

    Non-finite values (NaN, inf) are dropped: they are treated as a missing feature.
    """
    if not isinstance(x, Mapping):
        raise TypeError(f"x must be a dict of {{feature: number}}, got {type(x).__name__}")
    out: dict[Hashable, float] = {}
    for k, v in x.items():
        if k == skip and skip is not None:
            continue
        if not isinstance(v, numbers.Real):  # bools count as 0/1
            raise TypeError(f"feature {k!r} has non-numeric value {v!r} ({type(v).__name__}): encode it as a number "
                            "first, e.g. with river.preprocessing.OneHotEncoder in a compose.Pipeline")
        f = float(v)
        if math.isfinite(f):
            out[k] = f
    return out


def sort_key(k: Hashable) -> tuple[str, str]:
    """A total order on feature names of mixed types."""
    return (type(k).__name__, repr(k))
