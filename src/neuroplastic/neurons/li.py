r"""Leaky integrator (no spikes): the readout used to decode spiking networks.

.. math::
    v_{t+1} = v_{leak} + (v_t - v_{leak}) e^{-dt/\tau_m} + (1 - e^{-dt/\tau_m}) R I_t

The output at each step is the membrane potential itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.neurons._base import NeuronCell, NeuronSequence, register_reference


@dataclass(frozen=True)
class LIParams:
    """Leaky integrator: membrane time constant ``tau_mem`` (s), ``v_leak``, resistance ``r``."""

    tau_mem: float = 20e-3
    v_leak: float = 0.0
    r: float = 1.0

    def __post_init__(self) -> None:
        check_positive("tau_mem", self.tau_mem)


class LIState(NamedTuple):
    """Membrane potential ``v``."""

    v: torch.Tensor


def li_init(x: torch.Tensor, params: LIParams) -> LIState:
    """Resting state shaped like one step's input."""
    return LIState(torch.full_like(x, params.v_leak))


def li_step(x: torch.Tensor, state: LIState, params: LIParams, dt: float = 1e-3) -> tuple[torch.Tensor, LIState]:
    """One exact leaky-integration step. Returns ``(v, new_state)``."""
    beta = math.exp(-dt / params.tau_mem)
    v = params.v_leak + (state.v - params.v_leak) * beta + (1.0 - beta) * params.r * x
    return v, LIState(v)


register_reference("li_sequence", li_step, li_init)


class LICell(NeuronCell):
    """Single-step leaky integrator."""

    params_cls = LIParams
    step_fn = staticmethod(li_step)
    init_fn = staticmethod(li_init)
    op = "li_sequence"


class LI(NeuronSequence):
    """Whole-sequence leaky integrator: returns the membrane trace ``[T, B, ...]``."""

    params_cls = LIParams
    step_fn = staticmethod(li_step)
    init_fn = staticmethod(li_init)
    op = "li_sequence"
    nonfinite_reaches_state = True  # NaN/inf input ends in the final v (no reset, no clamp)
