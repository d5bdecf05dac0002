"""Dense synapses applied to every ``T x B`` row at once."""
from __future__ import annotations

import torch
from torch import nn


class Dense(nn.Linear):
    """Fully connected synapses ``I = x W^T + b`` over time-first input ``[T, B, in]`` or ``[B, in]``.

    A thin :class:`torch.nn.Linear` (which already maps all leading dims in one matrix product),
    with a shape check whose error names the fix.
    """

    stateful = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Dense expects {self.in_features} input features, got shape {tuple(x.shape)}: "
                "check in_features or add a Flatten layer before it"
            )
        return super().forward(x)


class Flatten(nn.Module):
    """Flatten all dims after the first ``keep_dims`` (default 2: keeps ``[T, B]``)."""

    stateful = False

    def __init__(self, keep_dims: int = 2) -> None:
        super().__init__()
        self.keep_dims = keep_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(self.keep_dims)
