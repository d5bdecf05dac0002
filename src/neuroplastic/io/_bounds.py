"""Bounded resource use while a checkpoint is rebuilt: a tampered config cannot allocate gigabytes.

A checkpoint's config decides what ``from_config`` builds (``hidden=[100000, 100000]`` builds a
40 GB weight), while the tensors that will fill it are already known from the safetensors header
(read without loading). :func:`build_guard` caps what may be allocated while the object is
built, in proportion to the checkpoint's own tensors, and refuses the rest before allocating;
after the build, ``load`` compares every tensor's shape with the file's. :func:`check_steps`
bounds simulation lengths (``num_steps``), which size every later forward pass but no tensor.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.overrides import TorchFunctionMode

from neuroplastic.io._errors import CheckpointError

__all__ = ["MAX_STEPS", "build_guard", "check_steps"]

#: default bound on a config's simulation length (``num_steps`` and the like); ``load(max_steps=...)`` changes it
MAX_STEPS = 100_000
#: config keys holding a simulation length
STEP_KEYS = frozenset({"num_steps", "n_steps", "time_steps", "timesteps", "steps_per_sample"})
#: allocations up to this many elements are always allowed while building (small buffers, scratch)
_FLOOR = 2**22

_FACTORIES = frozenset({"empty", "zeros", "ones", "full", "rand", "randn", "randint", "randperm", "empty_strided",
                        "eye", "arange", "linspace", "logspace", "new_empty", "new_zeros", "new_ones", "new_full",
                        "tensor", "as_tensor", "repeat", "expand_copy", "tile"})


def _numel_from(func_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """Elements a factory call would allocate, if it can be told from its arguments."""
    if func_name in ("tensor", "as_tensor"):
        return None  # sized by existing data
    if func_name in ("arange", "linspace", "logspace"):
        nums = [a for a in args if isinstance(a, (int, float))]
        if func_name == "arange":
            if not nums:
                return None
            start, end, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) > 2 else 1)
            return max(0, math.ceil((end - start) / step)) if step else None
        steps = kwargs.get("steps", nums[2] if len(nums) > 2 else None)
        return int(steps) if isinstance(steps, (int, float)) else None
    if func_name == "randperm":
        return int(args[0]) if args and isinstance(args[0], int) else None
    if func_name == "eye":
        n = args[0] if args else kwargs.get("n")
        m = args[1] if len(args) > 1 and isinstance(args[1], int) else n
        return int(n) * int(m) if isinstance(n, int) and isinstance(m, int) else None
    rest = args[1:] if func_name.startswith("new_") or func_name in ("repeat", "tile") else args
    if func_name == "randint":
        rest = [a for a in rest if isinstance(a, (tuple, list, torch.Size))][:1]
    size = kwargs.get("size")
    if size is None and rest:
        size = rest[0] if isinstance(rest[0], (tuple, list, torch.Size)) else [a for a in rest if isinstance(a, int)]
    if size is None:
        return None
    try:
        dims = [int(s) for s in size]
    except (TypeError, ValueError):
        return None
    if func_name in ("repeat", "tile") and args and isinstance(args[0], torch.Tensor):
        return args[0].numel() * math.prod(dims)
    return math.prod(dims)


class _Guard(TorchFunctionMode):
    def __init__(self, per_tensor: int, total: int, where: Path) -> None:
        super().__init__()
        self.per_tensor, self.total, self.where, self.used = per_tensor, total, where, 0

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _FACTORIES:
            n = _numel_from(name, args, kwargs)
            if n is not None:
                self.used += n
                if n > self.per_tensor or self.used > self.total:
                    raise CheckpointError(
                        f"the config in {self.where} would build a tensor of {n:,} elements ({self.used:,} so far), "
                        f"far more than the checkpoint's own tensors hold (allowed: {self.per_tensor:,} per tensor, "
                        f"{self.total:,} in all): the config was edited or does not belong to these weights; "
                        "restore or re-save the checkpoint (nothing was allocated)")
        return func(*args, **kwargs)


@contextlib.contextmanager
def build_guard(header: dict[str, dict[str, Any]], where: Path) -> Iterator[None]:
    """Refuse, before allocating, any tensor far larger than the checkpoint's own (see the module).

    A build may allocate each tensor up to 4x the largest tensor in ``header`` (at least 4M
    elements) and 8x their total (at least 32M elements) in all; torch factory calls beyond that
    raise :class:`CheckpointError` without allocating.
    """
    sizes = [math.prod(h["shape"]) for h in header.values()]
    largest, total = max(sizes, default=0), sum(sizes)
    with _Guard(max(4 * largest, _FLOOR), max(8 * total, 8 * _FLOOR), where):
        yield


def check_steps(config: Any, where: Path, max_steps: int | float = MAX_STEPS, _path: str = "config") -> None:
    """Refuse a config whose simulation length (``num_steps`` ...) exceeds ``max_steps``."""
    if isinstance(config, dict):
        for k, v in config.items():
            here = f"{_path}.{k}"
            if k in STEP_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                if not math.isfinite(v) or v > max_steps or v < 0:
                    raise CheckpointError(
                        f"{here} = {v!r} in {where} is over the bound of {max_steps:,} simulation steps (each forward "
                        f"pass would allocate [{v!r}, batch, ...] tensors): the config was edited; restore the "
                        "checkpoint, or if the model really runs that long load it with "
                        f"neuroplastic.load(path, max_steps={int(v) if math.isfinite(v) else 'N'})")
            else:
                check_steps(v, where, max_steps, here)
    elif isinstance(config, list):
        for i, v in enumerate(config):
            check_steps(v, where, max_steps, f"{_path}[{i}]")
