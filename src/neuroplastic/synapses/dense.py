"""Dense synapses applied to every ``T x B`` row at once."""
from __future__ import annotations

import torch
from torch import nn

from neuroplastic._core.registry import get_backend


class Dense(nn.Linear):
    """Fully connected synapses ``I = x W^T + b`` over time-first input ``[T, B, in]`` or ``[B, in]``.

    A thin :class:`torch.nn.Linear` (which already maps all leading dims in one matrix product),
    with a shape check whose error names the fix.

    Args:
        in_features, out_features, bias, device, dtype: as :class:`torch.nn.Linear`.
        spike_input: the input is spikes (0/1): compute the product event-driven, adding only
            the weights of inputs that spiked, forward and backward (operation ``"spike_linear"``,
            see :mod:`neuroplastic.kernels.spike_linear`; on CPU float32 about 1.7x faster than
            MKL's dense product at 20 % activity; on CUDA an exact bfloat16 split on tensor cores).
            Input with other values gets the dense product, so the result is always ``x W^T + b``
            (to float rounding).
        backend: force a ``"spike_linear"`` implementation (``"reference"``, ``"cpu_event"``,
            ``"cuda_bf16x3"``).
    """

    stateful = False

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, *, spike_input: bool = False, backend: str | None = None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.spike_input = bool(spike_input)
        self.backend = backend   # checked on the input's device at the first forward, as the neurons do

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Dense expects {self.in_features} input features, got shape {tuple(x.shape)}: "
                "check in_features or add a Flatten layer before it"
            )
        if self.spike_input:
            return get_backend("spike_linear", x.device, name=self.backend)(x, self.weight, self.bias)
        return super().forward(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", spike_input=True" if self.spike_input else "")


class Flatten(nn.Module):
    """Flatten all dims after the first ``keep_dims`` (default 2: keeps ``[T, B]``)."""

    stateful = False

    def __init__(self, keep_dims: int = 2) -> None:
        super().__init__()
        self.keep_dims = keep_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(self.keep_dims)
