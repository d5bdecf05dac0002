"""``NetState``: the one mutable container a runner owns for a network's per-layer states."""
from __future__ import annotations

from typing import Any, Iterator

from neuroplastic._core.state import detach_state, state_to


class NetState:
    """Per-layer states of a network, keyed by layer index.

    Layers never keep runtime state; a runner (``Sequential``, a streaming model, a user's loop)
    keeps one ``NetState`` across calls to continue a long simulation.

    Example:
        >>> import torch
        >>> from neuroplastic import Sequential, Dense, LIF
        >>> net = Sequential(Dense(3, 4), LIF())
        >>> state = NetState()
        >>> y, state = net(torch.ones(5, 2, 3), state)   # 5 steps
        >>> y, state = net(torch.ones(5, 2, 3), state)   # continues where it stopped
        >>> state.detach().reset() is state
        True
    """

    def __init__(self, states: list[Any] | None = None) -> None:
        self.states: list[Any] = list(states) if states is not None else []

    def __getitem__(self, i: int) -> Any:
        return self.states[i] if i < len(self.states) else None

    def __setitem__(self, i: int, value: Any) -> None:
        while len(self.states) <= i:
            self.states.append(None)
        self.states[i] = value

    def __len__(self) -> int:
        return len(self.states)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.states)

    def reset(self) -> "NetState":
        """Forget all states (next run starts at rest). Returns self."""
        self.states = []
        return self

    def detach(self) -> "NetState":
        """Detach every tensor (truncated backprop through time across calls). Returns self."""
        self.states = [detach_state(s) for s in self.states]
        return self

    def to(self, *args: Any, **kwargs: Any) -> "NetState":
        """Move/cast every tensor like ``Tensor.to``. Returns self."""
        self.states = [state_to(s, *args, **kwargs) for s in self.states]
        return self

    def __repr__(self) -> str:
        kinds = [type(s).__name__ if s is not None else "None" for s in self.states]
        return f"NetState({kinds})"
