r"""Leaky integrate-and-fire neuron with exact exponential integration.

Membrane equation (current held constant over a step of length ``dt``):

.. math::
    \tau_m \frac{dv}{dt} = -(v - v_{leak}) + R\,I
    \quad\Rightarrow\quad
    v_{t+1} = v_{leak} + (v_t - v_{leak})\,e^{-dt/\tau_m} + (1 - e^{-dt/\tau_m})\,R\,I_t .

A spike is emitted when :math:`v_{t+1} \ge v_{th}`; then the membrane is reset
(``reset="subtract"``: :math:`v \leftarrow v - (v_{th} - v_{reset})`; ``"zero"``:
:math:`v \leftarrow v_{reset}`; ``"none"``) and held at :math:`v_{reset}` for the refractory
period ``t_ref`` (seconds) during which input is ignored. Under constant input with
``v_reset = v_leak = 0`` and ``R I > v_th`` the firing rate is
:math:`1 / (t_{ref} + \tau_m \ln(R I / (R I - v_{th})))` (up to time discretisation).

Example:
    >>> import torch
    >>> from neuroplastic.neurons.lif import LIFParams, lif_init, lif_step
    >>> p = LIFParams(tau_mem=10e-3, v_th=1.0)
    >>> x = torch.full((1, 1), 2.0)
    >>> state = lif_init(x, p)
    >>> s, state = lif_step(x, state, p, dt=1e-3)
    >>> round(state.v.item(), 4)  # 2 * (1 - exp(-0.1))
    0.1903
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic.neurons._base import (
    NeuronCell,
    NeuronSequence,
    ParamLike,
    any_ge,
    as_param,
    exp_decay,
    param_full_like,
    param_like,
    register_reference,
)
from neuroplastic.neurons.surrogate import Surrogate, SurrogateLike, as_surrogate

RESETS = ("subtract", "zero", "none")


def validate_lif_fields(p) -> None:
    """Validate the fields LIF-family params share (``tau_mem``, ``t_ref``, ``reset``, ``v_th`` vs
    ``v_reset``) and coerce ``surrogate``; used by LIF and adaptive LIF params.

    ``tau_mem``, ``v_th``, ``v_reset``, ``v_leak`` and ``r`` may be per-neuron tensors (or arrays,
    lists), stored as float64 tensors that broadcast over the trailing dims of one input step.
    """
    object.__setattr__(p, "tau_mem", as_param("tau_mem", p.tau_mem, positive=True))
    for name in ("v_th", "v_reset", "v_leak", "r"):
        try:
            object.__setattr__(p, name, as_param(name, getattr(p, name)))
        except ValueError:
            if name != "v_th":
                raise
            raise ValueError(f"v_th ({p.v_th}) must be finite and above v_reset ({p.v_reset}): pass a finite v_th") from None
    check_positive("t_ref", p.t_ref, allow_zero=True)
    check_in_choices("reset", p.reset, RESETS)
    if any_ge(p.v_reset, p.v_th):
        raise ValueError(f"v_th ({p.v_th}) must be finite and above v_reset ({p.v_reset}): raise v_th or lower v_reset")
    object.__setattr__(p, "surrogate", as_surrogate(p.surrogate))


@dataclass(frozen=True)
class LIFParams:
    """Parameters of the LIF neuron (SI units: seconds, arbitrary voltage units).

    ``tau_mem``, ``v_th``, ``v_reset``, ``v_leak`` and ``r`` are numbers or per-neuron tensors
    (shape ``[N]`` for ``N`` neurons in the last dim; any shape that broadcasts against one input
    step), e.g. the time constants of an imported NIR graph.

    Attributes:
        tau_mem: membrane time constant in seconds (> 0).
        v_th: firing threshold.
        v_reset: reset potential.
        v_leak: resting (leak) potential.
        r: membrane resistance multiplying the input current.

    The default threshold is 0.1 (it was 1.0 in 0.1.x): the input enters scaled by
    :math:`1 - e^{-dt/\\tau_m}` (0.095 at the default 1 ms / 10 ms), so a constant input ``x``
    drives ``v`` towards ``r x`` over about ``tau_mem / dt`` steps, and behind a default ``Dense``
    on standardised inputs (currents of standard deviation about 0.6) a threshold of 1 was almost
    never reached in a few tens of steps: ``Sequential(Dense(n, m), LIF())`` stayed silent. At 0.1
    about 40 % of such neurons fire within 8 steps (the same as ``v_th = 1`` with the input not
    scaled down, ``r = 1 / (1 - e^{-dt/\\tau_m})``, snnTorch's ``Leaky`` convention). Checkpoints store
    ``v_th``, so saved models reload unchanged.
        t_ref: absolute refractory period in seconds (>= 0).
        reset: ``"subtract"``, ``"zero"`` (to ``v_reset``) or ``"none"``.
        surrogate: surrogate gradient of the threshold (name, dict or :class:`Surrogate`).
        detach_reset: if True, no gradient flows through the reset term.
    """

    tau_mem: ParamLike = 10e-3
    v_th: ParamLike = 0.1
    v_reset: ParamLike = 0.0
    v_leak: ParamLike = 0.0
    r: ParamLike = 1.0
    t_ref: float = 0.0
    reset: str = "subtract"
    surrogate: SurrogateLike = field(default=None)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        validate_lif_fields(self)

    def decay(self, dt: float) -> ParamLike:
        """Membrane decay factor per step, :math:`e^{-dt/\\tau_m}` (derived, never stored; a tensor
        for per-neuron ``tau_mem``)."""
        return exp_decay(dt, self.tau_mem)


class LIFState(NamedTuple):
    """LIF state: membrane potential ``v`` and remaining refractory time ``ref`` (seconds)."""

    v: torch.Tensor
    ref: torch.Tensor


def lif_init(x: torch.Tensor, params: LIFParams) -> LIFState:
    """Resting state shaped like one step's input ``x``."""
    return LIFState(param_full_like(params.v_leak, x), torch.zeros_like(x))


def apply_reset(v: torch.Tensor, s: torch.Tensor, v_th, v_reset: float, mode: str, detach: bool) -> torch.Tensor:
    """Reset the membrane after spikes ``s`` (shared by LIF and adaptive LIF)."""
    s_r = s.detach() if detach else s
    if mode == "subtract":
        return v - s_r * (v_th - v_reset)
    if mode == "zero":
        return v * (1.0 - s_r) + s_r * v_reset
    return v


def lif_step(x: torch.Tensor, state: LIFState, params: LIFParams, dt: float = 1e-3) -> tuple[torch.Tensor, LIFState]:
    """One exact-integration LIF step. Returns ``(spikes, new_state)``; inputs are not mutated."""
    beta = param_like(params.decay(dt), x)
    v_leak, v_th, v_reset = (param_like(getattr(params, k), x) for k in ("v_leak", "v_th", "v_reset"))
    v_int = v_leak + (state.v - v_leak) * beta + (1.0 - beta) * param_like(params.r, x) * x
    if params.t_ref > 0:
        active = state.ref <= 0.5 * dt
        v_int = torch.where(active, v_int, param_full_like(v_reset, v_int))
    s = params.surrogate(v_int - v_th)
    if params.t_ref > 0:
        s = s * active
    v = apply_reset(v_int, s, v_th, v_reset, params.reset, params.detach_reset)
    if params.t_ref > 0:
        ref = torch.where(s.detach() > 0, torch.full_like(state.ref, params.t_ref), (state.ref - dt).clamp_min(0.0))
    else:
        ref = state.ref
    return s, LIFState(v, ref)


lif_sequence_reference = register_reference("lif_sequence", lif_step, lif_init)


class LIFCell(NeuronCell):
    """Single-step LIF: ``forward(x[B, ...], state=None) -> (spikes, LIFState)``.

    Keyword arguments are those of :class:`LIFParams` plus ``dt`` (seconds).
    """

    params_cls = LIFParams
    step_fn = staticmethod(lif_step)
    init_fn = staticmethod(lif_init)
    op = "lif_sequence"


class LIF(NeuronSequence):
    """Whole-sequence LIF: ``forward(x[T, B, ...], state=None) -> (spikes[T, B, ...], LIFState)``.

    Runs the fastest backend registered for ``"lif_sequence"`` on the input's device (the
    reference loops :func:`lif_step`). Keyword arguments: :class:`LIFParams` fields, ``dt``, and
    ``backend`` to force an implementation by name. Per-neuron parameter tensors run on the
    reference loop. The default threshold (0.1) makes ``Sequential(Dense(n, m), LIF())`` fire on
    standardised inputs (see :class:`LIFParams`).
    """

    params_cls = LIFParams
    step_fn = staticmethod(lif_step)
    init_fn = staticmethod(lif_init)
    op = "lif_sequence"
    nonfinite_reaches_state = True  # NaN/inf input ends in the final v (resets give inf * 0 = NaN)
