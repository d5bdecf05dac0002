r"""Leaky integrator (no spikes): the readout used to decode spiking networks.

.. math::
    v_{t+1} = v_{leak} + (v_t - v_{leak}) e^{-dt/\tau_m} + (1 - e^{-dt/\tau_m}) R I_t

The output at each step is the membrane potential itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from neuroplastic.neurons._base import (
    NeuronCell,
    NeuronSequence,
    ParamLike,
    as_param,
    exp_decay,
    param_full_like,
    param_like,
    register_reference,
)


@dataclass(frozen=True)
class LIParams:
    """Leaky integrator: membrane time constant ``tau_mem`` (s), ``v_leak``, resistance ``r``.

    Each is a number or a tensor of per-neuron values broadcasting over the trailing dims of one
    input step (as in :class:`~neuroplastic.neurons.lif.LIFParams`).
    """

    tau_mem: ParamLike = 20e-3
    v_leak: ParamLike = 0.0
    r: ParamLike = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_mem", as_param("tau_mem", self.tau_mem, positive=True))
        object.__setattr__(self, "v_leak", as_param("v_leak", self.v_leak))
        object.__setattr__(self, "r", as_param("r", self.r))


class LIState(NamedTuple):
    """Membrane potential ``v``."""

    v: torch.Tensor


def li_init(x: torch.Tensor, params: LIParams) -> LIState:
    """Resting state shaped like one step's input."""
    return LIState(param_full_like(params.v_leak, x))


def li_step(x: torch.Tensor, state: LIState, params: LIParams, dt: float = 1e-3) -> tuple[torch.Tensor, LIState]:
    """One exact leaky-integration step. Returns ``(v, new_state)``."""
    beta = param_like(exp_decay(dt, params.tau_mem), x)
    v_leak = param_like(params.v_leak, x)
    v = v_leak + (state.v - v_leak) * beta + (1.0 - beta) * param_like(params.r, x) * x
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
