r"""Integrate-and-fire neuron: a perfect (leak-free) integrator.

.. math::
    v_{t+1} = v_t + r\,x_t ,

a spike is emitted when :math:`v_{t+1} \ge v_{th}`, after which the membrane is reset
(``reset="subtract"``: :math:`v \leftarrow v - (v_{th} - v_{reset})`, which keeps the residue and
makes the spike count an exact running quantisation of the integrated input; ``"zero"``:
:math:`v \leftarrow v_{reset}`; ``"none"``). ``r`` is the gain per step (NIR's continuous
:math:`dv/dt = R I` discretised at step ``dt`` has ``r = R dt``), so ``dt`` does not enter the
update. With a subtractive reset, ``v_reset = 0`` and a constant input
:math:`0 \le r x < v_{th}`, the number of spikes after :math:`T` steps is
:math:`\lfloor (v_0 + T r x) / v_{th} \rfloor`: the rate converges to :math:`r x / v_{th}`. This is
the neuron that ANN-to-SNN conversion (:func:`neuroplastic.convert`) puts in place of a ReLU.

Example:
    >>> import torch
    >>> from neuroplastic.neurons.integrate_fire import IFParams, if_init, if_step
    >>> p = IFParams(v_th=1.0)
    >>> x = torch.full((1, 1), 0.25)
    >>> state, n = if_init(x, p), 0
    >>> for _ in range(10):
    ...     s, state = if_step(x, state, p)
    ...     n += int(s.item())
    >>> n  # floor(10 * 0.25)
    2
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic.neurons._base import (
    NeuronCell,
    ParamLike,
    any_ge,
    as_param,
    param_full_like,
    param_like,
    register_reference,
)
from neuroplastic.neurons.lif import LIF, RESETS, apply_reset
from neuroplastic.neurons.surrogate import SurrogateLike, as_surrogate


@dataclass(frozen=True)
class IFParams:
    """Parameters of the integrate-and-fire neuron.

    Attributes:
        v_th: firing threshold.
        v_reset: reset potential.
        r: input gain per step.
        v_init: membrane potential at rest (the start of a presentation). Conversion uses
            ``v_th / 2``, which halves the quantisation error of the spike count.
        reset: ``"subtract"``, ``"zero"`` (to ``v_reset``) or ``"none"``.
        surrogate: surrogate gradient of the threshold (name, dict or :class:`Surrogate`).
        detach_reset: if True, no gradient flows through the reset term.

    ``v_th``, ``v_reset``, ``r`` and ``v_init`` are numbers or per-neuron tensors broadcasting over
    the trailing dims of one input step.
    """

    v_th: ParamLike = 1.0
    v_reset: ParamLike = 0.0
    r: ParamLike = 1.0
    v_init: ParamLike = 0.0
    reset: str = "subtract"
    surrogate: SurrogateLike = field(default=None)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        for name in ("v_th", "v_reset", "r", "v_init"):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, as_param(name, value))
            except TypeError:
                raise ValueError(f"{name} must be a finite number or per-neuron tensor, got {value!r}") from None
        if any_ge(self.v_reset, self.v_th):
            raise ValueError(f"v_th ({self.v_th}) must be above v_reset ({self.v_reset}): raise v_th or lower v_reset")
        check_in_choices("reset", self.reset, RESETS)
        object.__setattr__(self, "surrogate", as_surrogate(self.surrogate))


class IFState(NamedTuple):
    """IF state: the membrane potential ``v``."""

    v: torch.Tensor


def if_init(x: torch.Tensor, params: IFParams) -> IFState:
    """Resting state (``v = v_init``) shaped like one step's input ``x``."""
    return IFState(param_full_like(params.v_init, x))


def if_step(x: torch.Tensor, state: IFState, params: IFParams, dt: float = 1e-3) -> tuple[torch.Tensor, IFState]:
    """One integrate-and-fire step; returns ``(spikes, new_state)``; ``dt`` is accepted for the
    common step signature and does not enter the update."""
    v_int = state.v + param_like(params.r, x) * x
    v_th = param_like(params.v_th, x)
    s = params.surrogate(v_int - v_th)
    v = apply_reset(v_int, s, v_th, param_like(params.v_reset, x), params.reset, params.detach_reset)
    return s, IFState(v)


if_sequence_reference = register_reference("if_sequence", if_step, if_init)


class IFCell(NeuronCell):
    """Single-step IF: ``forward(x[B, ...], state=None) -> (spikes, IFState)``."""

    params_cls = IFParams
    step_fn = staticmethod(if_step)
    init_fn = staticmethod(if_init)
    op = "if_sequence"


class IF(LIF):
    """Whole-sequence IF: ``forward(x[T, B, ...], state=None) -> (spikes[T, B, ...], IFState)``.

    Keyword arguments: :class:`IFParams` fields, ``dt`` and ``backend``.

    Example:
        >>> import torch
        >>> from neuroplastic.neurons import IF
        >>> s, _ = IF(v_th=1.0)(torch.full((8, 1, 1), 0.5))
        >>> int(s.sum())
        4
    """

    params_cls = IFParams
    step_fn = staticmethod(if_step)
    init_fn = staticmethod(if_init)
    op = "if_sequence"
    nonfinite_reaches_state = True
