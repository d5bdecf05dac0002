"""A sequential container that threads each stateful layer's state."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuroplastic.network.state import NetState


def is_stateful(layer: nn.Module) -> bool:
    """A layer is stateful when its ``forward(x, state)`` returns ``(y, state)``."""
    return bool(getattr(layer, "stateful", False))


class Sequential(nn.Sequential):
    """Chain of layers over time-first tensors; stateful layers receive and return their state.

    ``forward(x, state=None) -> (y, NetState)``. ``state`` may be a :class:`NetState` (updated and
    returned), a list of per-layer states, or None (start at rest).
    """

    def forward(self, x: torch.Tensor, state: NetState | list | None = None) -> tuple[torch.Tensor, NetState]:  # type: ignore[override]
        y, state, _ = self._run(x, state, record=False)
        return y, state

    def forward_record(self, x: torch.Tensor, state: NetState | list | None = None) -> tuple[torch.Tensor, NetState, list[torch.Tensor]]:
        """Like ``forward`` but also returns every layer's output (for rasters, spike counts, energy)."""
        return self._run(x, state, record=True)

    def _run(self, x: torch.Tensor, state: Any, record: bool) -> tuple[torch.Tensor, NetState, list[torch.Tensor]]:
        if state is None:
            state = NetState()
        elif isinstance(state, (list, tuple)):
            state = NetState(list(state))
        elif not isinstance(state, NetState):
            raise TypeError(f"state must be a NetState, a list or None, got {type(state).__name__}")
        outs: list[torch.Tensor] = []
        y = x
        for i, layer in enumerate(self):
            if is_stateful(layer):
                y, state[i] = layer(y, state[i])
            else:
                y = layer(y)
            if record:
                outs.append(y)
        return y, state, outs
