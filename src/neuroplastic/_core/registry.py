"""Backend registry: fast kernels register beside the pure-torch reference.

A model asks for ``get_backend("lif_sequence", x.device)`` and gets the highest-priority
implementation registered for that device type whose availability check passes, falling back to
the ``"reference"`` implementation, which is always registered (``device_type="any"``). Models never
contain ``if backend == ...`` chains. ``NEUROPLASTIC_BACKEND=reference`` forces the reference
everywhere (useful for debugging), and ``get_backend(..., name=...)`` selects one explicitly.

Fast kernels live in :mod:`neuroplastic.kernels`, a higher layer than the neurons and synapses
that use them. The registry imports the provider modules itself on its first lookup
(:data:`BUILTIN_PROVIDERS`, then every module named in the ``neuroplastic.backends`` entry-point
group, which is how a third-party package adds a kernel), so no import order of the user's can
leave a kernel unregistered, and no lower layer imports a higher one.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass
class _Entry:
    name: str
    fn: Callable
    device_types: tuple[str, ...]
    priority: int
    available: Callable[[], bool] = field(default=lambda: True)


_REGISTRY: dict[str, list[_Entry]] = {}

#: Modules that register backends, imported by the registry on its first lookup.
BUILTIN_PROVIDERS: tuple[str, ...] = ("neuroplastic.kernels",)
ENTRY_POINT_GROUP = "neuroplastic.backends"
_providers_loaded = False


def load_providers() -> None:
    """Import every backend provider once (idempotent; called by the lookups)."""
    global _providers_loaded
    if _providers_loaded:
        return
    _providers_loaded = True  # set first: a provider may look a reference up while importing
    for module in BUILTIN_PROVIDERS:
        importlib.import_module(module)
    try:
        plugins = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken environment metadata
        plugins = ()
    for ep in plugins:
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the library
            warnings.warn(f"backend plugin {ep.name!r} ({ep.value}) failed to load and is ignored: {exc}",
                          RuntimeWarning, stacklevel=2)


def register_backend(
    op: str,
    name: str,
    *,
    device_types: tuple[str, ...] = ("any",),
    priority: int = 0,
    available: Callable[[], bool] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering ``fn`` as implementation ``name`` of operation ``op``.

    Args:
        op: operation name, e.g. ``"lif_sequence"``.
        name: implementation name, e.g. ``"reference"``, ``"cpu_fused"``, ``"triton"``.
        device_types: device types it runs on (``"cpu"``, ``"cuda"``) or ``("any",)``.
        priority: higher wins when several apply.
        available: optional zero-argument check (e.g. "is Triton importable").
    """

    def deco(fn: Callable) -> Callable:
        entries = _REGISTRY.setdefault(op, [])
        entries[:] = [e for e in entries if e.name != name]
        entries.append(_Entry(name, fn, tuple(device_types), priority, available or (lambda: True)))
        entries.sort(key=lambda e: -e.priority)
        return fn

    return deco


def available_backends(op: str, device: torch.device | str | None = None) -> list[str]:
    """Names of implementations of ``op`` usable on ``device`` (all devices if None), best first."""
    load_providers()
    if op not in _REGISTRY:
        raise KeyError(f"unknown operation {op!r}: registered are {sorted(_REGISTRY)}")
    dtype = None if device is None else torch.device(device).type
    return [
        e.name
        for e in _REGISTRY[op]
        if (dtype is None or "any" in e.device_types or dtype in e.device_types) and e.available()
    ]


def get_backend(op: str, device: torch.device | str, name: str | None = None) -> Callable:
    """Return the best implementation of ``op`` for ``device`` (or the one called ``name``)."""
    forced = name or os.environ.get("NEUROPLASTIC_BACKEND") or None
    names = available_backends(op, device)
    if forced is not None:
        if forced not in names:
            if name is None and "reference" in names:  # env override that does not apply to this op
                forced = "reference"
            else:
                raise ValueError(f"backend {forced!r} is not available for {op!r} on {device}: choose one of {names}")
        return next(e.fn for e in _REGISTRY[op] if e.name == forced)
    if not names:
        raise RuntimeError(f"no implementation of {op!r} for device {device}")
    return next(e.fn for e in _REGISTRY[op] if e.name == names[0])


def run_eagerly(fn: Callable) -> Callable:
    """``torch.compiler.disable(fn)``, built on the first call: a backend that writes through raw
    pointers (ctypes) or picks its path from the data must run eagerly under :func:`torch.compile`.

    Decorating with ``torch.compiler.disable`` directly imports ``torch._dynamo`` (about 2 s) at
    definition, which every ``import neuroplastic`` then paid.
    """
    disabled: list[Callable] = []

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not disabled:
            disabled.append(torch.compiler.disable(fn))
        return disabled[0](*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- named components
#
# Some things a lower layer finds by name are defined in a higher one: ``Model.fit(strategy="ddp")``
# (training) resolves to a strategy of ``neuroplastic.distributed``. The lower layer looks the
# name up here; the providing package registers its entries where they are defined, and the
# lookup imports the providers of that kind on its first use, exactly as for backends above.

_COMPONENTS: dict[str, dict[str, Callable]] = {}
#: kind -> modules that register entries of that kind, imported on the kind's first lookup.
COMPONENT_PROVIDERS: dict[str, tuple[str, ...]] = {"strategies": ("neuroplastic.distributed",)}
_components_loaded: set[str] = set()


def register_component(kind: str, name: str) -> Callable[[Callable], Callable]:
    """Decorator registering the factory ``fn`` as ``name`` of ``kind`` (e.g. ``"strategies"``).

    Re-registering a name replaces it (a module reloaded, or a plugin overriding a builtin).
    """

    def deco(fn: Callable) -> Callable:
        _COMPONENTS.setdefault(kind, {})[name] = fn
        return fn

    return deco


def _load_components(kind: str) -> None:
    if kind in _components_loaded:
        return
    _components_loaded.add(kind)  # set first: a provider may look entries up while importing
    for module in COMPONENT_PROVIDERS.get(kind, ()):
        importlib.import_module(module)


def component_names(kind: str) -> list[str]:
    """Names registered under ``kind`` (providers imported first), sorted."""
    _load_components(kind)
    return sorted(_COMPONENTS.get(kind, {}))


def get_component(kind: str, name: str) -> Callable:
    """The factory registered as ``name`` of ``kind``.

    Raises:
        KeyError: nothing of that name; the message lists the registered names.
    """
    _load_components(kind)
    entries = _COMPONENTS.get(kind, {})
    if name not in entries:
        raise KeyError(f"no {kind} entry named {name!r}: registered are {', '.join(map(repr, sorted(entries)))}")
    return entries[name]
