r"""Current-based leaky integrate-and-fire neuron (CUBA) with exponential synaptic currents.

Currents are in voltage units (the membrane resistance absorbed, as in Brian2's CUBA example):

.. math::
    \tau_m \dot v = -(v - v_{rest}) + I_{exc} + I_{inh} + I_{bias},\qquad
    \tau_{exc} \dot I_{exc} = -I_{exc},\qquad \tau_{inh} \dot I_{inh} = -I_{inh}.

One step of length ``dt`` (:func:`cuba_lif_step`) integrates this linear system exactly (see
:func:`synaptic_propagator`), with :math:`v_\infty = v_{rest} + I_{bias}`:

.. math::
    v \leftarrow v_\infty + (v - v_\infty)\,a + I_{exc}\,b_{exc} + I_{inh}\,b_{inh}
    \ \text{(unless refractory)},\qquad I \leftarrow c\,I,

then emits a spike where ``v > v_th`` (strictly, and not refractory), sets ``v = v_reset`` and
holds it there for ``t_ref`` (a whole number ``n_ref`` of steps: integration resumes ``n_ref``
steps after the spike step, Brian2's rule), and finally adds this step's input ``x`` (and
``x_inh``) to the currents, so input given in step ``t`` moves ``v`` from step ``t + 1`` on (a
synaptic event is a jump of ``I``). The threshold is hard (no surrogate gradient): this neuron is
for simulation and local plasticity, :class:`~neuroplastic.neurons.lif.LIF` is for gradient
training.

Example:
    >>> import torch
    >>> from neuroplastic.neurons.cuba_lif import CubaLIFParams, cuba_lif_init, cuba_lif_step
    >>> p = CubaLIFParams(v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=0.0, i_bias=0.5)
    >>> x = torch.zeros(1, 1, dtype=torch.float64)
    >>> s, state = cuba_lif_step(x, cuba_lif_init(x, p), p, dt=1e-3)
    >>> round(state.v.item(), 6)  # 0.5 * (1 - exp(-1 ms / 20 ms))
    0.024385
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Union

import torch

from neuroplastic._core.checks import check_positive
from neuroplastic.neurons._base import (
    NeuronCell,
    NeuronSequence,
    any_ge,
    as_param,
    has_tensor_params,
    param_full_like,
    param_like,
    register_reference,
)

Number = Union[float, torch.Tensor]


def synaptic_propagator(tau_mem: float, tau_syn: float, dt: float) -> tuple[float, float, float]:
    r"""Exact one-step propagator ``(a, b, c)`` of :math:`\tau_m\dot u = -u + I`, :math:`\tau_s\dot I = -I`.

    With :math:`u = v - v_\infty` the solution over ``dt`` is the 2x2 upper-triangular map
    :math:`u' = a\,u + b\,I`, :math:`I' = c\,I` with :math:`a = e^{-dt/\tau_m}`,
    :math:`c = e^{-dt/\tau_s}` and

    .. math::
        b = \frac{\tau_s}{\tau_s - \tau_m}\,(c - a)
          = a\,\frac{dt}{\tau_m}\,\frac{\mathrm{expm1}(x)}{x},\quad
          x = dt\,\Bigl(\frac{1}{\tau_m} - \frac{1}{\tau_s}\Bigr),

    whose second form is accurate for any ``tau_mem``, ``tau_syn``; at ``tau_mem == tau_syn``
    (``x = 0``) it is the limit :math:`b = (dt/\tau_m)\,e^{-dt/\tau_m}`.

    Example:
        >>> a, b, c = synaptic_propagator(20e-3, 20e-3, 1e-3)
        >>> round(b, 12) == round(0.05 * math.exp(-0.05), 12)
        True
    """
    check_positive("tau_mem", tau_mem)
    check_positive("tau_syn", tau_syn)
    check_positive("dt", dt)
    a, c = math.exp(-dt / tau_mem), math.exp(-dt / tau_syn)
    x = dt * (1.0 / tau_mem - 1.0 / tau_syn)
    phi = math.expm1(x) / x if x != 0.0 else 1.0
    return a, a * (dt / tau_mem) * phi, c


def synaptic_propagator_tensor(tau_mem: Number, tau_syn: Number, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`synaptic_propagator` for per-neuron time constants (float64 tensors that broadcast)."""
    tm = torch.as_tensor(tau_mem, dtype=torch.float64)
    ts = torch.as_tensor(tau_syn, dtype=torch.float64)
    a, c = torch.exp(-dt / tm), torch.exp(-dt / ts)
    x = dt * (1.0 / tm - 1.0 / ts)
    safe = torch.where(x == 0, torch.ones_like(x), x)
    phi = torch.where(x == 0, torch.ones_like(x), torch.expm1(safe) / safe)
    return a, a * (dt / tm) * phi, c


def to_steps(name: str, seconds: float, dt: float) -> int:
    """Convert a duration in seconds to a whole number of steps (error unless it is one)."""
    check_positive(name, seconds, allow_zero=True)
    steps = seconds / dt
    n = round(steps)
    if abs(steps - n) > 1e-6 * max(1.0, steps):
        raise ValueError(
            f"{name} = {seconds!r} s is {steps:.6g} steps of dt = {dt!r} s, not a whole number: "
            f"pick a multiple of dt (e.g. {n * dt!r} s)"
        )
    return int(n)


class CubaLIFConstants(NamedTuple):
    """Per-step constants of :func:`cuba_lif_integrate` (floats, or per-neuron tensors that broadcast).

    ``a``, ``b_exc``, ``b_inh``, ``c_exc``, ``c_inh`` are the propagators of
    :func:`synaptic_propagator`; ``v_inf = v_rest + i_bias``; ``n_ref`` the refractory steps.
    """

    a: Number
    b_exc: Number
    b_inh: Number
    c_exc: Number
    c_inh: Number
    v_inf: Number
    v_th: Number
    v_reset: Number
    n_ref: Union[int, torch.Tensor]


@dataclass(frozen=True)
class CubaLIFParams:
    """Parameters of the current-based LIF neuron (SI units: seconds and volts).

    Defaults are those of the CUBA benchmark (Vogels & Abbott 2005, Brian2's ``examples/CUBA.py``).

    Attributes:
        tau_mem: membrane time constant (s, > 0).
        tau_syn_exc: decay time constant of the excitatory current (s, > 0).
        tau_syn_inh: decay time constant of the inhibitory current (s, > 0).
        v_th: threshold; a spike is emitted when ``v > v_th``.
        v_reset: potential after a spike (below ``v_th``).
        v_rest: resting (leak) potential.
        t_ref: absolute refractory period (s, >= 0, a whole number ``n_ref`` of steps): after a
            spike in step ``k``, ``v`` stays at ``v_reset`` until integration resumes in step
            ``k + n_ref`` (Brian2's ``timestep(t - lastspike) >= timestep(t_ref)``).
        i_bias: constant input current in voltage units (shifts the steady state to
            ``v_rest + i_bias``).

    Every field but ``t_ref`` may be a tensor of per-neuron values broadcasting over the trailing
    dims of one input step (as in :class:`~neuroplastic.neurons.lif.LIFParams`).
    """

    tau_mem: Number = 20e-3
    tau_syn_exc: Number = 5e-3
    tau_syn_inh: Number = 10e-3
    v_th: Number = -50e-3
    v_reset: Number = -60e-3
    v_rest: Number = -49e-3
    t_ref: float = 5e-3
    i_bias: Number = 0.0

    def __post_init__(self) -> None:
        for name in ("tau_mem", "tau_syn_exc", "tau_syn_inh"):
            object.__setattr__(self, name, as_param(name, getattr(self, name), positive=True))
        check_positive("t_ref", self.t_ref, allow_zero=True)
        for name in ("v_th", "v_reset", "v_rest", "i_bias"):
            object.__setattr__(self, name, as_param(name, getattr(self, name)))
        if any_ge(self.v_reset, self.v_th):
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_th ({self.v_th}): lower v_reset")

    def constants(self, dt: float) -> CubaLIFConstants:
        """Per-step constants for step length ``dt`` (``t_ref`` must be a whole number of steps);
        float64 tensors where a parameter holds per-neuron values."""
        n_ref = to_steps("t_ref", self.t_ref, dt)
        if has_tensor_params(self):
            check_positive("dt", dt)
            a, b_exc, c_exc = synaptic_propagator_tensor(self.tau_mem, self.tau_syn_exc, dt)
            _, b_inh, c_inh = synaptic_propagator_tensor(self.tau_mem, self.tau_syn_inh, dt)
            as64 = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
            return CubaLIFConstants(a, b_exc, b_inh, c_exc, c_inh, as64(self.v_rest) + as64(self.i_bias),
                                    as64(self.v_th), as64(self.v_reset), n_ref)
        a, b_exc, c_exc = synaptic_propagator(self.tau_mem, self.tau_syn_exc, dt)
        _, b_inh, c_inh = synaptic_propagator(self.tau_mem, self.tau_syn_inh, dt)
        return CubaLIFConstants(a, b_exc, b_inh, c_exc, c_inh, self.v_rest + self.i_bias, float(self.v_th),
                                float(self.v_reset), n_ref)


class CubaLIFState(NamedTuple):
    """CUBA LIF state: ``v``, currents ``i_exc``, ``i_inh`` (voltage units), ``ref`` (remaining
    refractory steps, int32)."""

    v: torch.Tensor
    i_exc: torch.Tensor
    i_inh: torch.Tensor
    ref: torch.Tensor


def cuba_lif_init(x: torch.Tensor, params: CubaLIFParams) -> CubaLIFState:
    """Resting state shaped like one step's input ``x``: ``v = v_rest``, no current, not refractory."""
    return CubaLIFState(param_full_like(params.v_rest, x), torch.zeros_like(x), torch.zeros_like(x),
                        torch.zeros(x.shape, dtype=torch.int32, device=x.device))


def cuba_lif_integrate(state: CubaLIFState, k: CubaLIFConstants) -> tuple[torch.Tensor, CubaLIFState]:
    """Integrate over one step and threshold, before this step's input arrives (no mutation).

    Returns ``(spiked, new_state)`` with ``spiked`` a boolean mask. The constants ``k`` may be
    floats or per-neuron tensors (a network of several populations), see :class:`CubaLIFConstants`.
    """
    v, ie, ii = state.v, state.i_exc, state.i_inh
    ref = (state.ref - 1).clamp_min(0)
    active = ref == 0
    vn = k.v_inf + (v - k.v_inf) * k.a + ie * k.b_exc + ii * k.b_inh
    vn = torch.where(active, vn, v)
    ie, ii = ie * k.c_exc, ii * k.c_inh
    s = active & (vn > k.v_th)
    return s, CubaLIFState(torch.where(s, k.v_reset, vn), ie, ii, torch.where(s, k.n_ref, ref))


def cuba_lif_step(x: torch.Tensor, state: CubaLIFState, params: CubaLIFParams, dt: float = 1e-4, *,
                  x_inh: torch.Tensor | None = None) -> tuple[torch.Tensor, CubaLIFState]:
    """One exact CUBA LIF step; ``x`` (``x_inh``) is added to ``i_exc`` (``i_inh``) after the update.

    Returns ``(spikes, new_state)``, spikes as 0/1 in ``x``'s dtype; inputs are not mutated.
    """
    if state.v.shape != x.shape:
        raise ValueError(f"state shape {tuple(state.v.shape)} != input shape {tuple(x.shape)}: pass "
                         "cuba_lif_init(x, params) to start fresh")
    k = params.constants(dt)
    if isinstance(k.a, torch.Tensor):  # per-neuron constants: on x's device and dtype
        k = CubaLIFConstants(*(param_like(v, x) for v in k[:-1]), k.n_ref)
    s, new = cuba_lif_integrate(state, k)
    ii = new.i_inh if x_inh is None else new.i_inh + x_inh
    return s.to(x.dtype), new._replace(i_exc=new.i_exc + x, i_inh=ii)


register_reference("cuba_lif_sequence", cuba_lif_step, cuba_lif_init)


class CubaLIFCell(NeuronCell):
    """Single-step CUBA LIF (input on the excitatory current). Keywords: :class:`CubaLIFParams`, ``dt``."""

    params_cls = CubaLIFParams
    step_fn = staticmethod(cuba_lif_step)
    init_fn = staticmethod(cuba_lif_init)
    op = "cuba_lif_sequence"


class CubaLIF(NeuronSequence):
    """Whole-sequence CUBA LIF: ``forward(x[T, B, ...], state=None) -> (spikes[T, B, ...], CubaLIFState)``."""

    params_cls = CubaLIFParams
    step_fn = staticmethod(cuba_lif_step)
    init_fn = staticmethod(cuba_lif_init)
    op = "cuba_lif_sequence"
