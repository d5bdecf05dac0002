"""Early input checks whose errors name the fix."""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}: pass a {'non-negative' if allow_zero else 'positive'} value"
                         + (" in seconds" if name.startswith(("tau", "t_", "dt")) else ""))
    return v


def check_in_choices(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(map(repr, choices))}")
    return value


def check_finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or infinity."""
    # A finite sum proves every element finite (NaN and +-inf propagate), in one fast reduction;
    # only when it is not (bad values, or a rare overflow) are elements checked one by one.
    if not x.is_floating_point() or x.numel() == 0 or bool(torch.isfinite(x.detach().sum())):
        return x
    if not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN/inf values: clean or impute the input first")
    return x


def check_time_first(name: str, x: torch.Tensor, min_ndim: int = 2) -> torch.Tensor:
    """Check that ``x`` is a time-first tensor ``[T, B, ...]`` with at least ``min_ndim`` dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)} but a time-first tensor [T, B, ...] with at least "
            f"{min_ndim} dims is expected: add a time axis with x.unsqueeze(0) or encode it over time"
        )
    return x


def check_batch(name: str, state_batch: int, input_batch: int) -> None:
    """Raise a clear error when a carried state's batch size does not match the input."""
    if state_batch != input_batch:
        raise ValueError(
            f"{name} batch {state_batch} != input batch {input_batch}: pass state=None to start fresh"
        )
