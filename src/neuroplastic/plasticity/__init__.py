"""Synaptic plasticity: local learning rules as pure steps, and how to apply them.

Every rule is ``rule.step(pre, post, weight, state, *, modulator=None) -> (dw, state)`` on one
time step of activity ``pre`` ``[B, n_in]`` and ``post`` ``[B, n_out]`` with ``weight``
``[n_out, n_in]`` (see :mod:`neuroplastic.plasticity.base`). :class:`Plastic` applies a rule to
a dense or convolutional layer, in place with bounds or through ``weight.grad``.

Example:
    >>> import torch
    >>> from neuroplastic.plasticity import get_rule
    >>> rule = get_rule("stdp", a_plus=0.01, a_minus=0.012)
    >>> w = torch.full((2, 3), 0.5)
    >>> pre, post = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    >>> dw, state = rule.step(pre, post, w, None)
    >>> round(dw[1, 0].item(), 6)  # pre and post spike in the same step: counted as causal
    0.01
"""
from neuroplastic.plasticity.base import (
    NoState,
    Rule,
    available_rules,
    get_rule,
    register_rule,
    rule_from_config,
)
from neuroplastic.plasticity.bcm import BCM, BCMState
from neuroplastic.plasticity.competition import (
    KWTA,
    LateralInhibition,
    SoftWTA,
    kwta,
    lateral_inhibition,
    soft_wta,
)
from neuroplastic.plasticity.connection import Plastic, apply_update, unfold_conv
from neuroplastic.plasticity.hebbian import Hebb, Oja, SeedHebb
from neuroplastic.plasticity.homeostasis import (
    AdaptiveThreshold,
    AdaptiveThresholdState,
    ScalingState,
    SynapticScaling,
    normalize_weights,
    normalize_weights_,
)
from neuroplastic.plasticity.krotov import KrotovHopfield, SoftHebb, lp_currents
from neuroplastic.plasticity.rstdp import RSTDP, RSTDPState
from neuroplastic.plasticity.stdp import STDP, STDPState, TripletSTDP, TripletState, trace_step

__all__ = [
    "BCM", "BCMState", "KWTA", "RSTDP", "RSTDPState", "STDP", "STDPState", "AdaptiveThreshold",
    "AdaptiveThresholdState", "Hebb", "KrotovHopfield", "LateralInhibition", "NoState", "Oja",
    "Plastic", "Rule", "ScalingState", "SeedHebb", "SoftHebb", "SoftWTA", "SynapticScaling",
    "TripletSTDP", "TripletState", "apply_update", "available_rules", "get_rule", "kwta",
    "lateral_inhibition", "lp_currents", "normalize_weights", "normalize_weights_",
    "register_rule", "rule_from_config", "soft_wta", "trace_step", "unfold_conv",
]
