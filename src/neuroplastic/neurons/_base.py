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
import math
from typing import Any, Callable, ClassVar, Union

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

#: A neuron parameter: one number for the population, or a tensor of per-neuron values that
#: broadcasts against one input step ``[B, ..., N]`` (e.g. shape ``[N]``, or ``[C, H, W]`` after a
#: convolution).
ParamLike = Union[float, torch.Tensor]


def as_param(name: str, value: Any, *, positive: bool = False, allow_zero: bool = False) -> ParamLike:
    """Validate one neuron parameter and coerce per-neuron values to a float64 tensor.

    A number is returned as it is (after the finiteness and sign checks). A tensor, NumPy array
    or list becomes a detached float64 CPU tensor (a 0-d one becomes a float), moved to the
    input's device and dtype at each step (:func:`param_like`). ``positive`` requires ``> 0``
    (``>= 0`` with ``allow_zero``) everywhere.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a tensor of per-neuron values, got {value!r}")
    if isinstance(value, (int, float)):
        if positive:
            check_positive(name, value, allow_zero=allow_zero)
        elif not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return value
    try:
        t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a number or a tensor of per-neuron values, got {type(value).__name__}") from None
    t = t.cpu().clone()
    if t.ndim == 0:
        return as_param(name, float(t), positive=positive, allow_zero=allow_zero)
    if t.numel() == 0 or not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must hold finite per-neuron values, got {tuple(t.shape)} values with non-finite entries or none")
    if positive and (bool((t < 0).any()) or (not allow_zero and bool((t == 0).any()))):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"every {name} must be {bound}, got min {float(t.min())!r}: pass {'non-negative' if allow_zero else 'positive'} values"
                         + (" in seconds" if name.startswith(("tau", "t_")) else ""))
    return t


def param_like(value: ParamLike, like: torch.Tensor) -> ParamLike:
    """``value`` ready to combine with ``like``: a float unchanged, a tensor on ``like``'s device and
    dtype (so per-neuron parameters never promote float32 state to float64)."""
    if isinstance(value, torch.Tensor):
        return value.to(device=like.device, dtype=like.dtype)
    return value


def param_full_like(value: ParamLike, like: torch.Tensor) -> torch.Tensor:
    """A tensor shaped like ``like`` filled with ``value`` (per-neuron values broadcast over the
    trailing dims; the error names the parameter shapes that do not fit)."""
    if not isinstance(value, torch.Tensor):
        return torch.full_like(like, value)
    try:
        return torch.zeros_like(like) + param_like(value, like)
    except RuntimeError:
        raise ValueError(f"per-neuron parameter of shape {tuple(value.shape)} does not broadcast against one input "
                         f"step of shape {tuple(like.shape)}: give one value per neuron of the last dim(s)") from None


def exp_decay(dt: float, tau: ParamLike) -> ParamLike:
    """:math:`e^{-dt/\tau}` for a number or a tensor of per-neuron time constants."""
    if isinstance(tau, torch.Tensor):
        return torch.exp(-dt / tau)
    return math.exp(-dt / tau)


def has_tensor_params(params: Any) -> bool:
    """Whether any field of ``params`` holds per-neuron values (fused kernels take numbers only)."""
    return any(isinstance(getattr(params, f.name), torch.Tensor) for f in dataclasses.fields(params))


def check_param_shapes(params: Any, step_shape: torch.Size) -> None:
    """Raise ``ValueError`` naming the parameter whose per-neuron values do not broadcast against
    one input step (they must leave its shape unchanged)."""
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, torch.Tensor):
            try:
                fits = torch.broadcast_shapes(value.shape, step_shape) == step_shape
            except RuntimeError:
                fits = False
            if not fits:
                raise ValueError(f"per-neuron parameter {f.name} of shape {tuple(value.shape)} does not broadcast against "
                                 f"one input step of shape {tuple(step_shape)}: give one value per neuron of the last dim(s)")


def any_ge(a: ParamLike, b: ParamLike) -> bool:
    """``a >= b`` anywhere (numbers or per-neuron tensors)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.as_tensor(torch.as_tensor(a, dtype=torch.float64) >= torch.as_tensor(b, dtype=torch.float64)).any())
    return a >= b


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
        cfg = {k: v.tolist() if isinstance(v, torch.Tensor) else v for k, v in cfg.items()}  # per-neuron values
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
        if has_tensor_params(self.params):
            check_param_shapes(self.params, x.shape)
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
        backend = self.backend
        if has_tensor_params(self.params):  # fused kernels take one number per parameter
            if backend not in (None, "reference"):
                raise ValueError(f"backend {backend!r} takes one number per parameter, but {type(self).__name__} has "
                                 "per-neuron parameter tensors: use backend='reference' (or None)")
            backend = "reference"
            check_param_shapes(self.params, x.shape[1:])
        fn = get_backend(type(self).op, x.device, backend)
        out, new_state = fn(x, state, self.params, self.dt)
        if deferred and x.is_floating_point() and not bool(torch.isfinite(new_state[0].detach()).all()):
            check_finite("input", x, force=True)
        return out, new_state
