"""Shared machinery of neuron modules: thin wrappers around pure step functions.

A neuron model ``foo`` provides (in ``neurons/foo.py``):

* ``FooParams``: a frozen dataclass of physical parameters (validated on construction);
* ``FooState``: a ``NamedTuple`` of tensors;
* ``foo_step(x, state, params, dt) -> (out, new_state)``: the pure step function;
* ``foo_init(x, params) -> FooState``: the resting state shaped like one step's input.

:class:`NeuronCell` steps once on ``[B, ...]``; :class:`NeuronSequence` runs a whole
time-first ``[T, B, ...]`` input through the backend registered for ``op`` (the reference is a
loop over the step function; fused kernels register themselves beside it).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from neuroplastic._core.checks import (
    check_batch,
    check_finite,
    check_positive,
    check_time_first,
    finite_check_applies,
)
from neuroplastic._core.registry import get_backend, register_backend


def loop_sequence(step: Callable, init: Callable) -> Callable:
    """Build the reference whole-sequence function from a step function."""

    def run(x: torch.Tensor, state: Any, params: Any, dt: float) -> tuple[torch.Tensor, Any]:
        if state is None:
            state = init(x[0], params)
        outs = []
        for t in range(x.shape[0]):
            out, state = step(x[t], state, params, dt)
            outs.append(out)
        return torch.stack(outs), state

    return run


def register_reference(op: str, step: Callable, init: Callable) -> Callable:
    """Register the loop-over-steps reference implementation of ``op``."""
    return register_backend(op, "reference", device_types=("any",), priority=0)(loop_sequence(step, init))


class _NeuronBase(nn.Module):
    """Holds a params dataclass and ``dt``; no runtime state."""

    params_cls: ClassVar[type]
    step_fn: ClassVar[Callable]
    init_fn: ClassVar[Callable]
    op: ClassVar[str]
    stateful: ClassVar[bool] = True

    def __init__(self, *, dt: float = 1e-3, backend: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.params = self.params_cls(**kwargs)
        self.dt = check_positive("dt", dt)
        self.backend = backend

    def extra_repr(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.params, f.name)!r}" for f in dataclasses.fields(self.params))
        return f"{fields}, dt={self.dt}"

    def get_config(self) -> dict:
        cfg = {f.name: getattr(self.params, f.name) for f in dataclasses.fields(self.params)}
        if "surrogate" in cfg and hasattr(cfg["surrogate"], "to_config"):
            cfg["surrogate"] = cfg["surrogate"].to_config()
        cfg["dt"] = self.dt
        return cfg

    def init_state(self, x: torch.Tensor) -> Any:
        """Resting state shaped like one time step ``x`` of shape ``[B, ...]``."""
        return type(self).init_fn(x, self.params)

    @staticmethod
    def _check_state(state: Any, x: torch.Tensor) -> None:
        if state is not None:
            first = state[0]
            if first.shape[0] != x.shape[0]:
                check_batch("state", first.shape[0], x.shape[0])
            if first.shape != x.shape:
                raise ValueError(
                    f"state shape {tuple(first.shape)} != input step shape {tuple(x.shape)}: pass state=None to start fresh"
                )


class NeuronCell(_NeuronBase):
    """Single-step neuron: ``forward(x[B, ...], state=None) -> (out, state)``."""

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        if x.ndim < 1:
            raise ValueError("input must have a batch dimension [B, ...]")
        check_finite("input", x)
        self._check_state(state, x)
        if state is None:
            state = self.init_state(x)
        return type(self).step_fn(x, state, self.params, self.dt)


class NeuronSequence(_NeuronBase):
    """Whole-sequence neuron: ``forward(x[T, B, ...], state=None) -> (out[T, B, ...], state)``.

    A model whose dynamics carry any NaN/inf input into the final value of its first state
    variable (``nonfinite_reaches_state``; e.g. LIF without a refractory period, whose resets
    multiply or subtract, so an infinite membrane becomes NaN rather than a clean reset value) has
    its input checked through that small final state instead of a pass over all of ``x``; only
    when the state is not finite is ``x`` scanned, to raise the usual error.
    """

    nonfinite_reaches_state: ClassVar[bool] = False

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        check_time_first("input", x)
        deferred = (finite_check_applies(x) and type(self).nonfinite_reaches_state
                    and getattr(self.params, "t_ref", 0.0) == 0.0)
        if not deferred:
            check_finite("input", x)
        self._check_state(state, x[0])
        fn = get_backend(type(self).op, x.device, self.backend)
        out, new_state = fn(x, state, self.params, self.dt)
        if deferred and x.is_floating_point() and not bool(torch.isfinite(new_state[0].detach()).all()):
            check_finite("input", x, force=True)
        return out, new_state
