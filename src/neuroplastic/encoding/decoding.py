"""Decoders: from time-first spikes or membrane traces ``[T, B, C]`` to per-class scores ``[B, C]``."""
from __future__ import annotations

import torch

from neuroplastic._core.checks import check_in_choices, check_time_first


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Total spikes per neuron over time: ``[T, B, ...] -> [B, ...]``."""
    check_time_first("spikes", spikes)
    return spikes.sum(0)


def spike_rate(spikes: torch.Tensor) -> torch.Tensor:
    """Mean spikes per step: ``[T, B, ...] -> [B, ...]``."""
    check_time_first("spikes", spikes)
    return spikes.mean(0)


def first_spike_time(spikes: torch.Tensor) -> torch.Tensor:
    """Step index of each neuron's first spike (``T`` if it never fires): ``[T, B, ...] -> [B, ...]``."""
    check_time_first("spikes", spikes)
    T = spikes.shape[0]
    steps = torch.arange(T, device=spikes.device, dtype=torch.float32).view(-1, *([1] * (spikes.ndim - 1)))
    masked = torch.where(spikes > 0, steps.expand_as(spikes), torch.full_like(spikes, float(T), dtype=torch.float32))
    return masked.min(0).values


def decode_membrane(v: torch.Tensor, mode: str = "max") -> torch.Tensor:
    """Readout membrane ``[T, B, C] -> [B, C]`` by ``"max"``, ``"mean"`` or ``"last"`` over time."""
    check_time_first("membrane", v)
    check_in_choices("membrane decode mode", mode, ("max", "mean", "last"))
    if mode == "max":
        return v.max(0).values
    if mode == "mean":
        return v.mean(0)
    return v[-1]
