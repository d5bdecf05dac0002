"""Safe checkpoints: safetensors weights plus a JSON config, never pickle.

A checkpoint is a **directory** (there is deliberately no single-file variant): the one envelope
of :mod:`neuroplastic.io._envelope` (``config.json`` with ``format``, ``kind``, ``version``, the
object's ``get_config()``, user ``extra`` and dtype/shape/sha256 per tensor; ``weights.safetensors``
with the object's ``state_dict()``). The kind is the registered class name.

Any object can be saved if its class is decorated with :func:`register_serializable` and it
implements ``get_config() -> dict`` (JSON-able constructor kwargs and any non-tensor extras),
``classmethod from_config(config)``, ``state_dict()`` and ``load_state_dict(...)``. That covers
``nn.Module`` subclasses and the Keras-like ``Model`` wrapper, which is not an ``nn.Module``.

:func:`save` writes into a temporary sibling directory, fsyncs, then renames it into place, so
``path`` always holds either the previous complete checkpoint or the new one. If the process dies
between moving the old checkpoint away and moving the new one in (two renames), the old one is
left beside ``path`` as ``.<name>.old-<id>``; :func:`load` names it in its error. A temporary
folder left by a killed writer is removed by the next save in the same parent folder.
Concurrent writers to the same ``path`` are not supported.

A class's config is versioned: ``register_serializable(name, version=N)`` and
:func:`~neuroplastic.io.register_migration` steps bring an older config up to date on load.

:func:`load` checks the safetensors header against the config (tensor names, dtypes, shapes)
before building anything, bounds what the config may allocate while the object is built by the
checkpoint's own tensor sizes (:mod:`neuroplastic.io._bounds`: a tampered ``hidden=[100000,
100000]`` is refused before allocating), compares the built object's tensor shapes with the file,
then loads the bytes and checks their SHA-256. Nothing is ever unpickled.

JSON notes: tuples come back as lists and dict keys as strings; ``float('inf')``/``nan`` are
written as ``Infinity``/``NaN`` (Python's json reads them back).

Example:
    >>> import tempfile, torch
    >>> from torch import nn
    >>> @register_serializable("doctest.Affine")
    ... class Affine(nn.Linear):
    ...     def get_config(self):
    ...         return {"in_features": self.in_features, "out_features": self.out_features}
    ...     @classmethod
    ...     def from_config(cls, config):
    ...         return cls(**config)
    >>> net = Affine(3, 2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save(net, f"{d}/ckpt", extra={"epoch": 3})
    ...     net2 = load(f"{d}/ckpt")
    ...     epoch = load_config(f"{d}/ckpt")["extra"]["epoch"]
    >>> bool(torch.equal(net.weight, net2.weight)), epoch
    (True, 3)
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import torch
from torch import nn

from neuroplastic.io._bounds import MAX_STEPS, build_guard, check_steps
from neuroplastic.io._envelope import (
    FORMAT,
    FORMAT_VERSION,
    check_header,
    current_version,
    load_verified,
    migrate,
    read_document,
    register_version,
    split_training,
    write_checkpoint,
)
from neuroplastic.io._errors import CheckpointError, CheckpointWarning
from neuroplastic.io._fs import CONFIG_NAME, WEIGHTS_NAME, as_dir

__all__ = [
    "CONFIG_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "CheckpointError",
    "CheckpointWarning",
    "load",
    "load_config",
    "load_tensors",
    "register_serializable",
    "register_training_state",
    "save",
]

_REQUIRED_METHODS = ("get_config", "from_config", "state_dict", "load_state_dict")

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}
_NAMES: dict[type, str] = {}
#: the library's checkpoint providers: modules that register classes but are imported lazily;
#: ``load`` imports them by name on demand, in this order, as the backend registry imports its
#: providers (``_core.registry``): io names them as strings and depends on none of them
_REGISTERING_MODULES = ("neuroplastic.training.model", "neuroplastic.models", "neuroplastic.streaming",
                        "neuroplastic.compress", "neuroplastic.rl")


def registered_class(name: str) -> type | None:
    """The class registered as ``name``, importing the library's lazily loaded modules if needed."""
    if name not in _REGISTRY:
        import importlib

        for mod in _REGISTERING_MODULES:
            importlib.import_module(mod)
            if name in _REGISTRY:
                break
    return _REGISTRY.get(name)


# --------------------------------------------------------------------------- registry


def register_serializable(name: str | None = None, *, version: int | None = None) -> Callable[[T], T]:
    """Class decorator making a class saveable with :func:`save` and loadable with :func:`load`.

    Args:
        name: name stored in ``config.json`` (its ``kind``) to find the class again; defaults to
            ``cls.__qualname__``. Choose a stable, unique name (e.g. ``"LIF"``): renaming it
            breaks old checkpoints.
        version: the current version of the class's ``get_config()`` layout (default: 1, or
            what its registered migrations imply). Older configs are brought up to date with the
            steps registered by :func:`~neuroplastic.io.register_migration` before ``from_config``.

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        TypeError: the class lacks ``get_config``/``from_config``/``state_dict``/
            ``load_state_dict``.
        ValueError: ``name`` is already registered to a different class.
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"register_serializable name must be a non-empty str, got {name!r}")

    def deco(cls: T) -> T:
        if not isinstance(cls, type):
            raise TypeError(f"register_serializable decorates classes, got {cls!r}")
        missing = [m for m in _REQUIRED_METHODS if not callable(getattr(cls, m, None))]
        if missing:
            raise TypeError(
                f"{cls.__qualname__} cannot be registered as serializable: it lacks {missing}; "
                "implement get_config() -> dict, classmethod from_config(config), state_dict() "
                "and load_state_dict()"
            )
        key = cls.__qualname__ if name is None else name
        old = _REGISTRY.get(key)
        if old is not None and old is not cls:
            same = (old.__module__, old.__qualname__) == (cls.__module__, cls.__qualname__)
            if not same:  # a re-import (e.g. importlib.reload) of the same class is fine
                raise ValueError(
                    f"serializable name {key!r} is already registered to "
                    f"{old.__module__}.{old.__qualname__}: pass another name, e.g. "
                    f"@register_serializable({cls.__module__ + '.' + cls.__qualname__!r})"
                )
            _NAMES.pop(old, None)
        _REGISTRY[key] = cls
        _NAMES[cls] = key
        if version is not None:
            register_version(key, version)
        return cls

    return deco


def _registered_name(obj: Any) -> str:
    cls = type(obj)
    try:
        return _NAMES[cls]
    except KeyError:
        raise CheckpointError(
            f"{cls.__module__}.{cls.__qualname__} is not registered as serializable: decorate "
            "the class with @neuroplastic.io.register_serializable() (subclasses of a registered "
            "class need their own registration)"
        ) from None


# --------------------------------------------------------------------------- training-state hooks

#: ``kind -> (get, set)``: ``get(obj, **options) -> (json, tensors) | None`` collects an object's
#: training state (optimizer, fit settings, RNG) for :func:`save`; ``set(obj, json, tensors)``
#: puts it back after :func:`load`. Filled where the classes live (``neuroplastic.training._resume``).
_TRAINING_HOOKS: dict[str | type, tuple[Callable[..., Any], Callable[..., Any]]] = {}


def register_training_state(kind: str | type, get: Callable[..., Any], set: Callable[..., Any]) -> None:  # noqa: A002
    """Register how objects of ``kind`` (a registered class name, or a class) and its subclasses save training state."""
    _TRAINING_HOOKS[kind] = (get, set)


def training_hooks(obj: Any) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The training-state hooks of ``obj``'s class or nearest registered base class."""
    for klass in type(obj).__mro__:
        if klass in _TRAINING_HOOKS:
            return _TRAINING_HOOKS[klass]
        name = _NAMES.get(klass)
        if name is not None and name in _TRAINING_HOOKS:
            return _TRAINING_HOOKS[name]
    return None


# --------------------------------------------------------------------------- save


def save(obj: Any, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None,
         **training_options: Any) -> Path:
    """Save ``obj`` as a checkpoint directory ``path`` (atomically replacing an existing one).

    Args:
        obj: instance of a class decorated with :func:`register_serializable`.
        path: the checkpoint directory to create or replace. Parent directories are created.
            An existing ``path`` is only replaced if it is an empty directory or a checkpoint.
        extra: JSON-able user data stored in ``config.json`` under ``"extra"`` (epoch, metrics,
            notes); read it back with :func:`load_config`.
        training_options: passed to the class's training-state hook, e.g.
            ``include_optimizer=True`` for a :class:`~neuroplastic.training.Model` (optimizer and
            RNG states, for an exact resume).

    Returns:
        The checkpoint directory.

    Raises:
        CheckpointError: the class is not registered, the config is not JSON-able, the state dict
            holds non-tensors, ``path`` is not replaceable, or writing failed (the previous
            checkpoint, if any, is then left intact and no temporary directory remains).
    """
    d = Path(path)
    if d.suffix in (".safetensors", ".json"):
        raise CheckpointError(
            f"save() writes a directory, but {d} looks like a file name: pass the directory, "
            f"e.g. {d.with_suffix('')}"
        )
    name = _registered_name(obj)
    config = obj.get_config()
    if not isinstance(config, dict):
        raise CheckpointError(f"{name}.get_config() returned {type(config).__name__}: it must return a dict")
    hooks = training_hooks(obj)
    training, training_tensors = None, None
    if hooks is not None:
        got = hooks[0](obj, **training_options)
        if got is not None:
            training, training_tensors = got
    elif training_options:
        raise CheckpointError(f"{name} saves no training state: drop {sorted(training_options)}")
    return write_checkpoint(d, kind=name, config=config, tensors=obj.state_dict(), version=current_version(name),
                            extra=extra, training=training, training_tensors=training_tensors)


# --------------------------------------------------------------------------- load


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a checkpoint's ``config.json``.

    Args:
        path: checkpoint directory (or a file inside it).

    Returns:
        The whole document: ``format``, ``format_version``, ``kind`` (also as ``class``),
        ``version``, ``library_version``, ``config`` (as written, not migrated), ``extra``,
        ``tensors`` and, if saved, ``training``.

    Raises:
        CheckpointError: missing or invalid ``config.json``, wrong format, or a format version
            newer than this library reads.
    """
    return read_document(path, warn_stacklevel=4)


def load_tensors(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu", verify: bool = True
) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors, verified against ``config.json``, without building the object.

    Args:
        path: checkpoint directory (or a file inside it).
        map_location: device to put the tensors on.
        verify: check SHA-256 against the config (names, dtypes and shapes are always checked).

    Returns:
        The state dict as a ``{name: tensor}`` dict (training-state tensors, if any, keep their
        ``training/`` prefix).

    Raises:
        CheckpointError: missing, truncated, corrupt or tampered files.
    """
    d = as_dir(path)
    return load_verified(d, read_document(d, warn_stacklevel=4), map_location, verify)


def _accepts_strict(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "strict" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _shape_errors(expected: Mapping[str, Any], header: Mapping[str, dict[str, Any]]) -> list[str]:
    return [f"{k}: checkpoint {header[k]['shape']} vs built {list(v.shape)}" for k, v in expected.items()
            if k in header and isinstance(v, torch.Tensor) and list(v.shape) != header[k]["shape"]]


def load(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu", strict: bool = True,
    max_steps: int = MAX_STEPS,
) -> Any:
    """Load an object saved with :func:`save`.

    The config is migrated to the class's current version and checked against the safetensors
    header; ``cls.from_config(config)`` builds the object with allocations bounded by the
    checkpoint's own tensor sizes; its tensor shapes are compared with the file's; then the
    bytes are read, SHA-256-checked, and ``load_state_dict`` fills it. An ``nn.Module`` is moved
    to ``map_location``; other objects receive tensors already on ``map_location``.

    Args:
        path: checkpoint directory (or a file inside it).
        map_location: device for the loaded tensors (``"cpu"``, ``"cuda"``, ...).
        strict: if True, missing or unexpected state-dict keys are an error; if False they are
            skipped. A shape mismatch is always an error.
        max_steps: refuse configs whose simulation length (``num_steps``, ...) exceeds this.

    Returns:
        The reconstructed object.

    Raises:
        CheckpointError: invalid or tampered files, an unregistered class name, a config that
            would allocate far more than the checkpoint holds, or a state dict that does not fit
            the rebuilt object.
    """
    d = as_dir(path)
    doc = read_document(d, warn_stacklevel=4)
    name = doc["kind"]
    cls = registered_class(name)
    if cls is None:
        raise CheckpointError(
            f"{d / CONFIG_NAME} names class {name!r}, which is not registered (registered: "
            f"{sorted(_REGISTRY)}): import the module that defines it before loading"
        )
    config = migrate(name, doc["config"], doc["version"])
    check_steps(config, d / CONFIG_NAME, max_steps)
    header = {k: h for k, h in check_header(d, doc).items() if not k.startswith("training/")}
    try:
        with build_guard(header, d / CONFIG_NAME):
            obj = cls.from_config(config)
            expected = obj.state_dict()  # inside the guard: a skeleton may allocate its tensors here
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(
            f"{name}.from_config failed on the config in {d / CONFIG_NAME} ({type(e).__name__}: {e}): "
            "the config does not fit this version of the class"
        ) from e

    shapes = _shape_errors(expected, header)
    if shapes:
        raise CheckpointError(
            f"checkpoint {d} does not fit {name} built from its config: shape mismatch ({'; '.join(shapes[:5])}); "
            "the class changed since saving or the config was edited"
        )
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"checkpoint {d} does not fit {name} built from its config: missing keys {missing}, "
            f"unexpected keys {unexpected}; pass strict=False to skip them"
        )
    tensors, training_tensors = split_training(load_verified(d, doc, map_location, verify=True))
    try:
        if _accepts_strict(obj.load_state_dict):
            obj.load_state_dict(tensors, strict=strict)
        else:
            obj.load_state_dict({k: t for k, t in tensors.items() if k not in unexpected})
    except CheckpointError:
        raise
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{name}.load_state_dict failed for checkpoint {d}: {e}") from e
    hooks = training_hooks(obj)
    if hooks is not None:
        hooks[1](obj, doc.get("training") or {}, training_tensors)
    if isinstance(obj, nn.Module) and map_location is not None:
        obj.to(map_location)
    return obj
