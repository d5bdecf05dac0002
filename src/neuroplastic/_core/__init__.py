"""Core machinery: explicit state helpers, shape/value checks, the backend registry.

Design note: ``docs/architecture.md`` in the repository (layers, the training loop, state rules,
how to add a neuron, a rule, a kernel or a model). In short: every dynamical model is first a pure step
function ``step(x, state, params, dt) -> (out, new_state)``. States are ``NamedTuple``s, which
``torch.utils._pytree`` already treats as pytrees, so ``tree_map``, ``.to()`` and ``detach``
work on them without registration. Modules hold parameters only; runtime state is passed in and
returned. Fast kernels register beside the pure-torch reference in :mod:`._core.registry`.
"""
from neuroplastic._core.checks import (
    check_batch,
    check_finite,
    finite_check_mode,
    set_finite_checks,
    check_in_choices,
    check_positive,
    check_time_first,
)
from neuroplastic._core.registry import available_backends, get_backend, register_backend
from neuroplastic._core.state import detach_state, map_state, state_to

__all__ = [
    "available_backends",
    "check_batch",
    "check_finite",
    "finite_check_mode",
    "set_finite_checks",
    "check_in_choices",
    "check_positive",
    "check_time_first",
    "detach_state",
    "get_backend",
    "map_state",
    "register_backend",
    "state_to",
]
