"""Small time-first layers that NIR graphs need and the synapse layers do not provide.

Each is stateless (``stateful = False``), maps ``[T, B, ...]`` (or one step ``[B, ...]``) and is
what :func:`~neuroplastic.interop.from_nir` builds for NIR's ``Scale``, ``Conv1d``, ``SumPool2d``
and a ``Flatten`` over other dims than all of them.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Scale(nn.Module):
    """Elementwise gain ``y = x * scale`` (NIR ``Scale``); ``scale`` broadcasts over the trailing dims."""

    stateful = False

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.get_default_dtype()).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)


def _frames(x: torch.Tensor, spatial: int, fn) -> torch.Tensor:
    """Apply ``fn`` to ``[N, C, *spatial]`` frames of a ``[T, B, C, ...]`` or ``[B, C, ...]`` input."""
    if x.ndim == spatial + 2:
        return fn(x)
    if x.ndim != spatial + 3:
        raise ValueError(f"expected [T, B, C, {'L' if spatial == 1 else 'H, W'}] or one step without T, got shape {tuple(x.shape)}")
    t, b = x.shape[:2]
    y = fn(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class Conv1d(nn.Conv1d):
    """1-D convolution over time-first ``[T, B, C, L]`` (``T`` and ``B`` merged for the call)."""

    stateful = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _frames(x, 1, super().forward)


class SumPool2d(nn.Module):
    """Sum pooling over ``[T, B, C, H, W]`` frames (NIR ``SumPool2d``): zero padding, then sums."""

    stateful = False

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        pair = nn.modules.utils._pair
        self.kernel_size, self.padding = pair(kernel_size), pair(padding)
        self.stride = pair(stride if stride is not None else kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0] * self.kernel_size[1]
        return _frames(x, 2, lambda f: F.avg_pool2d(f, self.kernel_size, self.stride, self.padding,
                                                    count_include_pad=True) * k)


class FlattenDims(nn.Module):
    """Flatten dims ``start_dim..end_dim`` of one sample (NIR's indices, which leave out ``T`` and ``B``)."""

    stateful = False

    def __init__(self, start_dim: int = 0, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = 2  # [T, B, ...]
        start = self.start_dim + lead if self.start_dim >= 0 else self.start_dim
        end = self.end_dim + lead if self.end_dim >= 0 else self.end_dim
        return x.flatten(start, end)
