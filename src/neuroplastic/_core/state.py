"""Helpers for explicit state: NamedTuples of tensors (possibly nested in lists/dicts)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils import _pytree as pytree


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: Any) -> Any:
    """Apply ``fn`` to every tensor leaf of ``state`` (NamedTuples, lists, dicts, None)."""
    return pytree.tree_map(lambda t: fn(t) if isinstance(t, torch.Tensor) else t, state)


def detach_state(state: Any) -> Any:
    """Return ``state`` with every tensor detached (truncates backpropagation through time)."""
    return map_state(lambda t: t.detach(), state)


def state_to(state: Any, *args: Any, **kwargs: Any) -> Any:
    """Return ``state`` with every tensor moved/cast with ``Tensor.to(*args, **kwargs)``."""
    return map_state(lambda t: t.to(*args, **kwargs), state)
