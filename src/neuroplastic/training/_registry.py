"""The registry of architecture builders: name -> builder and its tuned training settings.

Kept apart from :mod:`neuroplastic.training.architectures` (which defines the builders and
:func:`~neuroplastic.training.architectures.build_model`) so that :class:`~neuroplastic.training.Model`
can rebuild a saved module by name without importing the module that imports it back. Builders
register where they are defined (``architectures``: ``"snn"``; ``baselines``: ``"mlp_founding"``,
``"mlp_wide"``); ``neuroplastic.training``'s ``__init__`` imports both.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "Architecture", "build", "full_config", "register_architecture"]


@dataclass(frozen=True)
class Architecture:
    """A registered builder and the training settings it was tuned with.

    Attributes:
        name: registry key.
        builder: ``fn(n_in, n_out, **config) -> nn.Module``; config values must be JSON-able.
        compile: ``fn(config) -> dict`` of :meth:`Model.compile` keyword arguments.
        fit: default ``fit`` settings (``epochs``, ``batch_size``, and ``schedule``: None or
            ``"cosine"``, a cosine learning-rate decay over the epochs, see :func:`fit_callbacks`).
    """

    name: str
    builder: Callable[..., nn.Module]
    compile: Callable[[dict[str, Any]], dict[str, Any]]
    fit: dict[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        """The builder's keyword defaults (everything but ``n_in``/``n_out``)."""
        sig = inspect.signature(self.builder)
        return {k: p.default for k, p in sig.parameters.items()
                if k not in ("n_in", "n_out") and p.default is not inspect.Parameter.empty}


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(name: str, *, compile: Callable[[dict[str, Any]], dict[str, Any]] | dict[str, Any] | None = None,
                          fit: dict[str, Any] | None = None) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder(n_in, n_out, **config) -> nn.Module`` under ``name``.

    Args:
        name: registry key (stored in checkpoints: keep it stable).
        compile: default ``Model.compile`` kwargs, or a function of the full config returning them.
        fit: default ``fit`` kwargs (``epochs``, ``batch_size``).
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        params = inspect.signature(fn).parameters
        if "n_in" not in params or "n_out" not in params:
            raise TypeError(f"architecture builder {fn.__name__} must take n_in and n_out")
        comp = compile if callable(compile) else (lambda cfg, c=dict(compile or {}): dict(c))
        ARCHITECTURES[name] = Architecture(name, fn, comp, dict(fit or {}))
        return fn

    return deco


#: library modules that register architectures above ``training`` (the ``"pruned"`` wrapper of
#: ``compress``): imported by name on the first lookup of a name not registered yet, as the backend
#: registry imports its providers, so that loading a pruned checkpoint needs no import of its own
ARCHITECTURE_PROVIDERS = ("neuroplastic.compress",)


def _get(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        import importlib

        for mod in ARCHITECTURE_PROVIDERS:
            importlib.import_module(mod)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}: choose one of {', '.join(sorted(ARCHITECTURES))} "
                         "or register one with @register_architecture")
    return ARCHITECTURES[name]


def full_config(name: str, **config: Any) -> dict[str, Any]:
    """The builder's defaults updated with ``config`` (what a checkpoint stores)."""
    arch = _get(name)
    defaults = arch.defaults()
    unknown = sorted(set(config) - set(defaults) - {"n_in", "n_out"})
    if unknown:
        raise TypeError(f"architecture {name!r} has no option(s) {unknown}: valid options are "
                        f"n_in, n_out, {', '.join(sorted(defaults))}")
    cfg = {**defaults, **config}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}


def build(name: str, *, seed: int | None = None, **config: Any) -> nn.Module:
    """Build the network registered as ``name``.

    Args:
        name: ``"snn"``, ``"mlp_founding"``, ``"mlp_wide"`` or a user-registered name.
        seed: if given, initial weights are drawn from this seed without touching the global
            RNG state.
        config: ``n_in``, ``n_out`` and the builder's options.
    """
    arch = _get(name)
    if "n_in" not in config or "n_out" not in config:
        raise TypeError(f"build({name!r}, ...) needs n_in= (features) and n_out= (classes)")
    cfg = full_config(name, **config)
    if seed is None:
        return arch.builder(**cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return arch.builder(**cfg)
