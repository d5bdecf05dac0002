r"""Izhikevich (2003) neuron with the classic firing-pattern presets.

In the model's native units (mV, ms):

.. math::
    \frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + I, \qquad \frac{du}{dt} = a (b v - u),

and when :math:`v \ge v_{peak}` (30 mV): :math:`v \leftarrow c`, :math:`u \leftarrow u + d`.
``dt`` is given in seconds like every neuroplastic model and converted to ms. Each step is
integrated with forward Euler in sub-steps of at most ``max_substep_ms`` (0.5 ms, as in
Izhikevich's reference code); a membrane that reaches the peak inside a step is held there until
the step's spike and reset.

Presets (``IzhikevichParams.preset(name)``): ``"regular_spiking"`` (a=0.02, b=0.2, c=-65, d=8),
``"fast_spiking"`` (0.1, 0.2, -65, 2), ``"intrinsically_bursting"`` / ``"bursting"``
(0.02, 0.2, -55, 4), ``"chattering"`` (0.02, 0.2, -50, 2), ``"low_threshold_spiking"``
(0.02, 0.25, -65, 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic.neurons._base import NeuronCell, NeuronSequence, register_reference
from neuroplastic.neurons.surrogate import SurrogateLike, as_surrogate

PRESETS: dict[str, tuple[float, float, float, float]] = {
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
}


@dataclass(frozen=True)
class IzhikevichParams:
    """Izhikevich parameters ``a, b, c, d`` (native units), peak ``v_peak`` in mV."""

    a: float = 0.02
    b: float = 0.2
    c: float = -65.0
    d: float = 8.0
    v_peak: float = 30.0
    max_substep_ms: float = 0.5
    surrogate: SurrogateLike = field(default=None)

    def __post_init__(self) -> None:
        check_positive("a", self.a)
        check_positive("max_substep_ms", self.max_substep_ms)
        if self.c >= self.v_peak:
            raise ValueError(f"reset c ({self.c}) must be below v_peak ({self.v_peak})")
        if self.surrogate is None:
            object.__setattr__(self, "surrogate", {"name": "fast_sigmoid", "alpha": 0.5})
        object.__setattr__(self, "surrogate", as_surrogate(self.surrogate))

    @classmethod
    def preset(cls, name: str, **overrides) -> "IzhikevichParams":
        """Parameters of a named firing pattern (see module docstring)."""
        check_in_choices("Izhikevich preset", name, PRESETS)
        a, b, c, d = PRESETS[name]
        return replace(cls(a=a, b=b, c=c, d=d), **overrides)


class IzhikevichState(NamedTuple):
    """Membrane potential ``v`` (mV) and recovery variable ``u``."""

    v: torch.Tensor
    u: torch.Tensor


def izhikevich_init(x: torch.Tensor, params: IzhikevichParams) -> IzhikevichState:
    """Start at ``v = -65`` mV, ``u = b v`` (the convention of Izhikevich's 2003 code).

    Not ``v = c``: for ``c`` above the unstable fixed point (chattering, ``c = -50``, sits exactly on
    it) the neuron would never relax to rest without input.
    """
    v = torch.full_like(x, -65.0)
    return IzhikevichState(v, params.b * v)


def izhikevich_step(
    x: torch.Tensor, state: IzhikevichState, params: IzhikevichParams, dt: float = 0.5e-3
) -> tuple[torch.Tensor, IzhikevichState]:
    """One Izhikevich step of ``dt`` seconds with input current ``x``. Returns ``(spikes, state)``."""
    dt_ms = dt * 1e3
    n = max(1, math.ceil(dt_ms / params.max_substep_ms - 1e-9))
    h = dt_ms / n
    v, u = state.v, state.u
    for _ in range(n):
        below = (v < params.v_peak).to(v.dtype).detach()
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + x
        du = params.a * (params.b * v - u)
        v = v + below * h * dv
        u = u + below * h * du
        v = torch.minimum(v, torch.full_like(v, params.v_peak)) * below + v * (1 - below)
    s = params.surrogate(v - params.v_peak)
    v = v * (1.0 - s) + s * params.c
    u = u + s * params.d
    return s, IzhikevichState(v, u)


register_reference("izhikevich_sequence", izhikevich_step, izhikevich_init)


class _IzhMixin:
    params_cls = IzhikevichParams
    step_fn = staticmethod(izhikevich_step)
    init_fn = staticmethod(izhikevich_init)
    op = "izhikevich_sequence"

    def __init__(self, preset: str | None = None, *, dt: float = 0.5e-3, backend: str | None = None, **kwargs) -> None:
        if preset is not None:
            check_in_choices("Izhikevich preset", preset, PRESETS)
            a, b, c, d = PRESETS[preset]
            kwargs = {"a": a, "b": b, "c": c, "d": d, **kwargs}
        super().__init__(dt=dt, backend=backend, **kwargs)  # type: ignore[call-arg]


class IzhikevichCell(_IzhMixin, NeuronCell):
    """Single-step Izhikevich neuron; ``IzhikevichCell("chattering")`` uses a preset."""


class Izhikevich(_IzhMixin, NeuronSequence):
    """Whole-sequence Izhikevich neuron over ``[T, B, ...]``."""
