"""Safe checkpoints: safetensors weights plus a JSON config, never pickle.

A checkpoint is a **directory** (there is deliberately no single-file variant)::

    path/
      config.json          format marker, versions, registered class name, the object's
                           ``get_config()``, user ``extra``, and dtype/shape/sha256 per tensor
      weights.safetensors  the object's ``state_dict()`` (tensors only)

Any object can be saved if its class is decorated with :func:`register_serializable` and it
implements ``get_config() -> dict`` (JSON-able constructor kwargs and any non-tensor extras),
``classmethod from_config(config)``, ``state_dict()`` and ``load_state_dict(...)``. That covers
``nn.Module`` subclasses and the Keras-like ``Model`` wrapper, which is not an ``nn.Module``.

:func:`save` writes into a temporary sibling directory, fsyncs, then renames it into place, so
``path`` always holds either the previous complete checkpoint or the new one. If the process dies
between moving the old checkpoint away and moving the new one in (two renames), the old one is
left beside ``path`` as ``.<name>.old-<id>``; :func:`load` names it in its error. Concurrent
writers to the same ``path`` are not supported.

:func:`load` verifies the file against the config (tensor names, dtypes, shapes, SHA-256 of the
bytes) before building anything, so truncated, corrupt or tampered files fail with an error that
names the file and the fix. Nothing is ever unpickled.

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

import hashlib
import inspect
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import safetensors
import safetensors.torch as _st
import torch
from torch import nn

from neuroplastic._version import __version__ as _LIBRARY_VERSION

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
    "save",
]

FORMAT = "neuroplastic-checkpoint"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"
_CHECKPOINT_FILES = frozenset({CONFIG_NAME, WEIGHTS_NAME})
_REQUIRED_METHODS = ("get_config", "from_config", "state_dict", "load_state_dict")

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}
_NAMES: dict[type, str] = {}
#: library modules that register classes but are imported lazily; ``load`` imports them on demand
_REGISTERING_MODULES = ("neuroplastic.training.model", "neuroplastic.training.sklearn",
                        "neuroplastic.plasticity.networks", "neuroplastic.streaming", "neuroplastic.compress")


def registered_class(name: str) -> type | None:
    """The class registered as ``name``, importing the library's lazily loaded modules if needed."""
    if name not in _REGISTRY:
        import importlib

        for mod in _REGISTERING_MODULES:
            importlib.import_module(mod)
            if name in _REGISTRY:
                break
    return _REGISTRY.get(name)


class CheckpointError(ValueError):
    """A checkpoint cannot be written or read; the message names the file and the fix."""


class CheckpointWarning(UserWarning):
    """A checkpoint loads, but something about it deserves attention (e.g. version skew)."""


# --------------------------------------------------------------------------- registry


def register_serializable(name: str | None = None) -> Callable[[T], T]:
    """Class decorator making a class saveable with :func:`save` and loadable with :func:`load`.

    Args:
        name: name stored in ``config.json`` to find the class again; defaults to
            ``cls.__qualname__``. Choose a stable, unique name (e.g. ``"LIF"``): renaming it
            breaks old checkpoints.

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


# --------------------------------------------------------------------------- tensors


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _sha256(t: torch.Tensor) -> str:
    """SHA-256 of a CPU tensor's raw bytes in row-major order (native byte order)."""
    flat = t.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return hashlib.sha256(b"").hexdigest()
    return hashlib.sha256(flat.view(torch.uint8).numpy().tobytes()).hexdigest()


def _prepare_tensors(state: Mapping[str, Any], owner: str) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors with no storage shared between entries."""
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{owner}.state_dict() returned {type(state).__name__}, not a dict")
    out: dict[str, torch.Tensor] = {}
    by_storage: dict[tuple[str, int], list[str]] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{owner}.state_dict() has a non-str key {key!r}: safetensors needs str keys")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{owner}.state_dict()[{key!r}] is a {type(value).__name__}, not a tensor: only "
                "tensors go into weights.safetensors; put non-tensor state in get_config()"
            )
        if value.layout != torch.strided:
            raise CheckpointError(
                f"{owner}.state_dict()[{key!r}] has layout {value.layout}: convert it with "
                ".to_dense() in state_dict() and back in load_state_dict()"
            )
        t = value.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        if t.numel() > 0:
            by_storage.setdefault((str(value.device), value.untyped_storage().data_ptr()), []).append(key)
        out[key] = t
    for keys in by_storage.values():  # tied / shared tensors: safetensors refuses shared memory
        if len(keys) > 1:
            for key in keys:
                out[key] = out[key].clone()
    return out


# --------------------------------------------------------------------------- paths / fs


def _as_dir(path: str | os.PathLike[str]) -> Path:
    """Checkpoint directory for ``path``, which may also name a file inside it."""
    p = Path(path)
    if p.name in _CHECKPOINT_FILES and not p.is_dir():
        return p.parent
    return p


def _missing_hint(d: Path) -> str:
    leftovers = sorted(d.parent.glob(f".{d.name}.old-*")) if d.parent.is_dir() else []
    if leftovers:
        return (
            f"; a save was interrupted and left the previous checkpoint at {leftovers[-1]}: "
            f"rename it to {d} to recover it"
        )
    return ": check the path (a checkpoint is a directory written by neuroplastic.save)"


def _fsync_file(path: Path) -> None:
    with open(path, "r+b") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems do not support fsync on directories
        pass
    finally:
        os.close(fd)


def _check_replaceable(d: Path) -> None:
    if not d.exists() and not d.is_symlink():
        return
    if not d.is_dir() or d.is_symlink():
        raise CheckpointError(f"{d} exists and is not a checkpoint directory: choose another path or remove it")
    extra = sorted(p.name for p in d.iterdir() if p.name not in _CHECKPOINT_FILES)
    if extra:
        raise CheckpointError(
            f"{d} contains files that are not part of a checkpoint ({extra[:5]}): refusing to "
            "replace it; choose another path or remove them"
        )


# --------------------------------------------------------------------------- save


def save(obj: Any, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Path:
    """Save ``obj`` as a checkpoint directory ``path`` (atomically replacing an existing one).

    Args:
        obj: instance of a class decorated with :func:`register_serializable`.
        path: the checkpoint directory to create or replace. Parent directories are created.
            An existing ``path`` is only replaced if it is an empty directory or a checkpoint.
        extra: JSON-able user data stored in ``config.json`` under ``"extra"`` (epoch, metrics,
            notes); read it back with :func:`load_config`.

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
    tensors = _prepare_tensors(obj.state_dict(), name)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": _LIBRARY_VERSION,
        "class": name,
        "config": config,
        "extra": {} if extra is None else extra,
        "tensors": {
            k: {"dtype": _dtype_name(t.dtype), "shape": list(t.shape), "sha256": _sha256(t)}
            for k, t in tensors.items()
        },
    }
    try:
        text = json.dumps(doc, indent=2)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"cannot write {name} checkpoint: get_config() or extra is not JSON-serializable ({e}); "
            "return plain dicts/lists/str/numbers/bools/None (e.g. tensor.tolist(), str(dtype))"
        ) from e

    _check_replaceable(d)
    d.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = d.parent / f".{d.name}.tmp-{token}"
    old = d.parent / f".{d.name}.old-{token}"
    try:
        tmp.mkdir()
        weights = tmp / WEIGHTS_NAME
        _st.save_file(tensors, str(weights), metadata={"format": "pt"})
        _fsync_file(weights)
        cfg = tmp / CONFIG_NAME
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if d.exists():
            os.rename(d, old)
            try:
                os.rename(tmp, d)
            except BaseException:
                os.rename(old, d)
                raise
            _fsync_dir(d.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, d)
            _fsync_dir(d.parent)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, CheckpointError) or not isinstance(e, Exception):
            raise
        raise CheckpointError(f"failed to write checkpoint {d} ({type(e).__name__}: {e}); nothing was changed") from e
    return d


# --------------------------------------------------------------------------- load


def _major(version: str) -> int | None:
    head = str(version).split(".", 1)[0]
    digits = "".join(c for c in head if c.isdigit())
    return int(digits) if digits else None


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a checkpoint's ``config.json``.

    Args:
        path: checkpoint directory (or a file inside it).

    Returns:
        The whole document: ``format``, ``format_version``, ``library_version``, ``class``,
        ``config``, ``extra`` and ``tensors``.

    Raises:
        CheckpointError: missing or invalid ``config.json``, wrong format, or a format version
            newer than this library reads.
    """
    d = _as_dir(path)
    if not d.is_dir():
        raise CheckpointError(f"checkpoint directory {d} does not exist{_missing_hint(d)}")
    f = d / CONFIG_NAME
    if not f.is_file():
        raise CheckpointError(
            f"{f} is missing: {d} is not a complete neuroplastic checkpoint; re-save it with neuroplastic.save"
        )
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{f} is not valid JSON ({e}): the file is corrupt; re-save the checkpoint") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(
            f"{f} is not a neuroplastic checkpoint config (format {got!r}, expected {FORMAT!r}): "
            "load it with the tool that wrote it, or use neuroplastic.save"
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{f} has an invalid format_version {version!r}: the file is corrupt; re-save it")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{f} has format_version {version}, written by neuroplastic "
            f"{doc.get('library_version', '?')}; this neuroplastic {_LIBRARY_VERSION} reads up to "
            f"{FORMAT_VERSION}: upgrade neuroplastic"
        )
    for key, typ in (("class", str), ("config", dict), ("extra", dict), ("tensors", dict)):
        if not isinstance(doc.get(key), typ):
            raise CheckpointError(
                f"{f} field {key!r} is missing or not a {typ.__name__}: the file is corrupt or was "
                "edited; re-save the checkpoint"
            )
    for k, spec in doc["tensors"].items():
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("dtype"), str)
            and isinstance(spec.get("shape"), list)
            and isinstance(spec.get("sha256"), str)
        ):
            raise CheckpointError(f"{f} entry tensors[{k!r}] is malformed: the file was edited; re-save the checkpoint")
    lib = doc.get("library_version")
    if isinstance(lib, str) and _major(lib) != _major(_LIBRARY_VERSION):
        warnings.warn(
            f"{d} was written by neuroplastic {lib}, this is {_LIBRARY_VERSION} (different major "
            "version): it loads, but check the results",
            CheckpointWarning,
            stacklevel=3,
        )
    return doc


def _verify(tensors: dict[str, torch.Tensor], specs: dict[str, Any], weights: Path, cfg: Path) -> None:
    fix = "the weights or config were modified or corrupted; re-save or restore the checkpoint"
    missing = sorted(set(specs) - set(tensors))
    unexpected = sorted(set(tensors) - set(specs))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights} does not match {cfg}: tensors missing from the weights {missing}, "
            f"not listed in the config {unexpected}; {fix}"
        )
    for k, t in tensors.items():
        spec = specs[k]
        if _dtype_name(t.dtype) != spec["dtype"]:
            raise CheckpointError(f"tensor {k!r} in {weights} has dtype {_dtype_name(t.dtype)}, {cfg} says {spec['dtype']}; {fix}")
        if list(t.shape) != spec["shape"]:
            raise CheckpointError(f"tensor {k!r} in {weights} has shape {list(t.shape)}, {cfg} says {spec['shape']}; {fix}")
        if _sha256(t) != spec["sha256"]:
            raise CheckpointError(f"tensor {k!r} in {weights} fails its sha256 check against {cfg}; {fix}")


def _load_verified(d: Path, doc: dict[str, Any], map_location: Any, verify: bool) -> dict[str, torch.Tensor]:
    f = d / WEIGHTS_NAME
    if not f.is_file():
        raise CheckpointError(f"{f} is missing: the checkpoint {d} is incomplete; re-save it with neuroplastic.save")
    try:
        tensors = _st.load_file(str(f), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"cannot read {f} ({type(e).__name__}: {e}): the file is truncated or corrupt; "
            "restore it from a backup or re-save the checkpoint"
        ) from e
    if verify:
        _verify(tensors, doc["tensors"], f, d / CONFIG_NAME)
    if map_location is not None and torch.device(map_location) != torch.device("cpu"):
        tensors = {k: t.to(map_location) for k, t in tensors.items()}
    return tensors


def load_tensors(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu", verify: bool = True
) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors, verified against ``config.json``, without building the object.

    Args:
        path: checkpoint directory (or a file inside it).
        map_location: device to put the tensors on.
        verify: check names, dtypes, shapes and SHA-256 against the config (recommended).

    Returns:
        The state dict as a ``{name: tensor}`` dict.

    Raises:
        CheckpointError: missing, truncated, corrupt or tampered files.
    """
    d = _as_dir(path)
    return _load_verified(d, load_config(d), map_location, verify)


def _accepts_strict(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "strict" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def load(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu", strict: bool = True
) -> Any:
    """Load an object saved with :func:`save`.

    The files are verified first, then ``cls.from_config(config)`` builds the object and
    ``load_state_dict`` fills it. An ``nn.Module`` is moved to ``map_location``; other objects
    receive tensors already on ``map_location``.

    Args:
        path: checkpoint directory (or a file inside it).
        map_location: device for the loaded tensors (``"cpu"``, ``"cuda"``, ...).
        strict: if True, missing or unexpected state-dict keys are an error; if False they are
            skipped. A shape mismatch is always an error.

    Returns:
        The reconstructed object.

    Raises:
        CheckpointError: invalid or tampered files, an unregistered class name, or a state dict
            that does not fit the rebuilt object.
    """
    d = _as_dir(path)
    doc = load_config(d)
    name = doc["class"]
    cls = registered_class(name)
    if cls is None:
        raise CheckpointError(
            f"{d / CONFIG_NAME} names class {name!r}, which is not registered (registered: "
            f"{sorted(_REGISTRY)}): import the module that defines it before loading"
        )
    tensors = _load_verified(d, doc, map_location, verify=True)
    try:
        obj = cls.from_config(doc["config"])
    except Exception as e:
        raise CheckpointError(
            f"{name}.from_config failed on the config in {d / CONFIG_NAME} ({type(e).__name__}: {e}): "
            "the config does not fit this version of the class"
        ) from e

    expected = obj.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shapes = [
        f"{k}: checkpoint {list(tensors[k].shape)} vs model {list(v.shape)}"
        for k, v in expected.items()
        if k in tensors and isinstance(v, torch.Tensor) and tensors[k].shape != v.shape
    ]
    if shapes:
        raise CheckpointError(
            f"checkpoint {d} does not fit {name} built from its config: shape mismatch ({'; '.join(shapes)}); "
            "the class changed since saving or the config was edited"
        )
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"checkpoint {d} does not fit {name} built from its config: missing keys {missing}, "
            f"unexpected keys {unexpected}; pass strict=False to skip them"
        )
    try:
        if _accepts_strict(obj.load_state_dict):
            obj.load_state_dict(tensors, strict=strict)
        else:
            obj.load_state_dict({k: t for k, t in tensors.items() if k not in unexpected})
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{name}.load_state_dict failed for checkpoint {d}: {e}") from e
    if isinstance(obj, nn.Module) and map_location is not None:
        obj.to(map_location)
    return obj
