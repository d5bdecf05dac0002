r"""Send-on-delta coding for streams: an event whenever the signal moved by ``threshold``.

For each step the signal is compared with a reference level ``ref`` (initially the first value,
or the one given in the state). With :math:`k = \operatorname{trunc}((x_t - ref)/\theta)`, an ON
spike is sent when :math:`k > 0`, an OFF spike when :math:`k < 0`, and :math:`ref \leftarrow ref
+ \operatorname{sign}(k)\theta`: one event moves the reference by one threshold, so a receiver
rebuilds it exactly as :math:`x_0 + \theta \sum (ON - OFF)` (within ``threshold`` of the signal
while it moves less than ``threshold`` per step; faster moves are followed at that slew rate).
Causal: step ``t`` uses only ``x_0 .. x_t``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_finite, check_positive, check_time_first


class DeltaState(NamedTuple):
    """Reference level per input channel."""

    ref: torch.Tensor


def delta_step(x: torch.Tensor, state: DeltaState | None, threshold: float) -> tuple[torch.Tensor, DeltaState]:
    """One step: returns ``(spikes[..., 2] (ON, OFF), new_state)``."""
    check_positive("threshold", threshold)
    if state is None:
        state = DeltaState(x.clone())
    k = torch.trunc((x - state.ref) / threshold)
    spikes = torch.stack([(k > 0), (k < 0)], dim=-1).to(x.dtype)
    return spikes, DeltaState(state.ref + torch.sign(k) * threshold)


def delta_encode(x: torch.Tensor, threshold: float, state: DeltaState | None = None) -> tuple[torch.Tensor, DeltaState]:
    """Encode a time-first signal ``[T, ...]`` into ON/OFF spikes ``[T, ..., 2]``."""
    check_time_first("signal", x, min_ndim=1)
    check_finite("signal", x)
    outs = []
    for t in range(x.shape[0]):
        s, state = delta_step(x[t], state, threshold)
        outs.append(s)
    return torch.stack(outs), state  # type: ignore[return-value]
