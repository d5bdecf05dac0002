"""The one checkpoint envelope: a folder with ``config.json`` and ``weights.safetensors``.

Every neuroplastic checkpoint (models, estimators, stream state) is this folder::

    path/
      config.json          {"format": "neuroplastic-checkpoint", "format_version": 2,
                            "kind": <what it holds>, "version": <that kind's config version>,
                            "library_version", "config", "extra", "training" (optional),
                            "tensors": {name: {dtype, shape, sha256}}}
      weights.safetensors  the tensors (safetensors: no code, no pickle)

:func:`write_checkpoint` writes it atomically: into a temporary sibling folder
``.<name>.tmp-<pid>-<host>-<id>``, fsynced, then renamed into place, so ``path`` always holds the
previous complete checkpoint or the new one. A temporary folder left by a killed writer
(SIGKILL, power loss) is removed by the next save into the same parent folder. Both files get
the mode ``open()`` gives a new file under the process umask (safetensors alone writes 0600).

:func:`read_checkpoint` validates the config, reads the safetensors *header* (without loading
any data) and checks that the tensors the config lists are exactly the ones in the file, with
the same dtypes and shapes, before anything is built; then loads the tensors and checks their
SHA-256. A kind's config is brought to the current version by its registered migrations
(:func:`register_migration`, :func:`migrate`).

Format 1 (neuroplastic 0.1.0) had ``class`` instead of ``kind`` and no ``version``; it is read as
version 1 of that kind.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import safetensors
import safetensors.torch as _st
import torch

from neuroplastic._version import __version__ as _LIBRARY_VERSION
from neuroplastic.io._errors import CheckpointError, CheckpointWarning
from neuroplastic.io._fs import CHECKPOINT_FILES, CONFIG_NAME, WEIGHTS_NAME, as_dir, missing_hint, write_folder

__all__ = [
    "CONFIG_NAME", "FORMAT", "FORMAT_VERSION", "WEIGHTS_NAME", "Checkpoint", "CheckpointError",
    "CheckpointWarning", "migrate", "read_checkpoint", "read_header", "register_migration", "register_version",
    "write_checkpoint",
]

FORMAT = "neuroplastic-checkpoint"
FORMAT_VERSION = 2
#: tensor-name prefix of the training state (optimizer, RNG) inside weights.safetensors
TRAINING_PREFIX = "training/"
#: config.json files larger than this are refused before parsing
MAX_CONFIG_BYTES = 256 * 2**20
#: safetensors headers larger than this are refused before parsing
MAX_HEADER_BYTES = 100 * 2**20


class Checkpoint(NamedTuple):
    """What :func:`read_checkpoint` returns.

    Attributes:
        path: the checkpoint folder.
        kind: what it holds (a registered class name, or the kind passed to :func:`write_checkpoint`).
        version: the config version after migration.
        config: the kind's config (migrated to ``version``).
        tensors: ``{name: tensor}`` (the training state's tensors are in ``training_tensors``).
        extra: the user data saved with it.
        training: the training state's JSON part (None if none was saved).
        training_tensors: the training state's tensors, without the ``training/`` prefix.
        library_version: the neuroplastic version that wrote it.
        saved_version: the config version as written (before migration).
    """

    path: Path
    kind: str
    version: int
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    extra: dict[str, Any]
    training: dict[str, Any] | None
    training_tensors: dict[str, torch.Tensor]
    library_version: str
    saved_version: int


# --------------------------------------------------------------------------- versions and migrations

_VERSIONS: dict[str, int] = {}
_MIGRATIONS: dict[str, dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


def register_version(kind: str, version: int) -> None:
    """Declare the current config version of ``kind`` (what :func:`write_checkpoint` writes by default)."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"a checkpoint version is an int >= 1, got {version!r}")
    _VERSIONS[kind] = version


def current_version(kind: str) -> int:
    """The registered config version of ``kind`` (1 if none was registered)."""
    return _VERSIONS.get(kind, 1)


def register_migration(kind: str, from_version: int) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]],
                                                                  Callable[[dict[str, Any]], dict[str, Any]]]:
    """Decorator registering ``fn(config) -> config`` that turns version ``from_version`` of ``kind`` into the next.

    Example:
        >>> @register_migration("doctest.kind", 1)
        ... def _v1_to_v2(config):
        ...     return {**config, "width": config.pop("size")}
        >>> migrate("doctest.kind", {"size": 3}, 1, 2)
        {'width': 3}
    """
    def deco(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _MIGRATIONS.setdefault(kind, {})[int(from_version)] = fn
        if current_version(kind) < from_version + 1:
            _VERSIONS[kind] = from_version + 1
        return fn

    return deco


def migrate(kind: str, config: dict[str, Any], from_version: int, to_version: int | None = None) -> dict[str, Any]:
    """Apply the registered migrations of ``kind`` from ``from_version`` up to ``to_version`` (default: current).

    Raises:
        CheckpointError: the version is newer than this library knows (upgrade neuroplastic), or a
            step of the chain is not registered.
    """
    target = current_version(kind) if to_version is None else int(to_version)
    v = int(from_version)
    if v > target:
        raise CheckpointError(f"this {kind} checkpoint has config version {v}, newer than the {target} this "
                              f"neuroplastic {_LIBRARY_VERSION} reads: upgrade neuroplastic")
    steps = _MIGRATIONS.get(kind, {})
    while v < target:
        if v not in steps:
            raise CheckpointError(f"no migration of {kind} configs from version {v} to {v + 1} is registered: "
                                  "register one with @neuroplastic.io.register_migration(kind, from_version)")
        config = steps[v](dict(config))
        if not isinstance(config, dict):
            raise CheckpointError(f"the migration of {kind} from version {v} returned {type(config).__name__}, "
                                  "not a dict")
        v += 1
    return config


# --------------------------------------------------------------------------- tensors


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def sha256(t: torch.Tensor) -> str:
    """SHA-256 of a CPU tensor's raw bytes in row-major order (native byte order)."""
    flat = t.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return hashlib.sha256(b"").hexdigest()
    return hashlib.sha256(flat.view(torch.uint8).numpy().tobytes()).hexdigest()


def prepare_tensors(state: Mapping[str, Any], owner: str) -> dict[str, torch.Tensor]:
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


_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "U16": "uint16", "U32": "uint32",
              "U64": "uint64", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "U16": 2,
             "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def read_header(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The tensors a safetensors file holds, ``{name: {"dtype", "shape"}}``, read from its header only.

    Nothing but the (size-bounded) header is read, and every entry is checked against the file:
    its byte range must lie inside the file and match ``prod(shape) * itemsize``, so the shapes
    returned are ones the file really holds.

    Raises:
        CheckpointError: the file is missing, truncated, or its header is malformed.
    """
    f = Path(path)
    fix = "the file is truncated or corrupt; restore it from a backup or re-save the checkpoint"
    try:
        with open(f, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            raw = fh.read(8)
            if len(raw) < 8:
                raise CheckpointError(f"{f} is {size} bytes, too short for a safetensors file: {fix}")
            n = int.from_bytes(raw, "little")
            if n > size - 8 or n > MAX_HEADER_BYTES:
                raise CheckpointError(f"{f} declares a {n}-byte header in a {size}-byte file: {fix}")
            head = fh.read(n)
    except OSError as e:
        raise CheckpointError(f"cannot read {f} ({type(e).__name__}: {e}): {fix}") from e
    try:
        header = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{f} has a malformed safetensors header ({e}): {fix}") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{f} has a malformed safetensors header: {fix}")
    data_bytes = size - 8 - n
    out: dict[str, dict[str, Any]] = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        ok = (isinstance(e, dict) and e.get("dtype") in _ST_DTYPES and isinstance(e.get("shape"), list)
              and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in e["shape"])
              and isinstance(e.get("data_offsets"), list) and len(e["data_offsets"]) == 2
              and all(isinstance(o, int) for o in e["data_offsets"]))
        if not ok:
            raise CheckpointError(f"{f}: header entry {name!r} is malformed: {fix}")
        begin, end = e["data_offsets"]
        if not 0 <= begin <= end <= data_bytes or end - begin != math.prod(e["shape"]) * _ITEMSIZE[e["dtype"]]:
            raise CheckpointError(f"{f}: tensor {name!r} of shape {e['shape']} does not fit the file's "
                                  f"{data_bytes} data bytes (offsets {e['data_offsets']}): {fix}")
        out[name] = {"dtype": _ST_DTYPES[e["dtype"]], "shape": list(e["shape"])}
    return out


# --------------------------------------------------------------------------- write


def write_checkpoint(path: str | os.PathLike[str], *, kind: str, config: dict[str, Any],
                     tensors: Mapping[str, torch.Tensor] | None = None, version: int | None = None,
                     extra: dict[str, Any] | None = None, training: dict[str, Any] | None = None,
                     training_tensors: Mapping[str, torch.Tensor] | None = None,
                     _class: str | None = None) -> Path:
    """Write a checkpoint folder ``path`` atomically (replacing an existing checkpoint there).

    Args:
        path: the folder to create or replace (parents are created). An existing ``path`` is
            only replaced if it is an empty folder or a checkpoint.
        kind: what it holds, e.g. ``"neuroplastic.stream.SpikingAnomalyDetector"``; checked by
            :func:`read_checkpoint`.
        config: JSON-able config (floats round-trip exactly; ``inf``/``nan`` are written as
            ``Infinity``/``NaN``).
        tensors: ``{name: tensor}`` for ``weights.safetensors`` (names must not start with ``training/``).
        version: the config's version (default: the one registered for ``kind``, else 1).
        extra: JSON-able user data (epoch, metrics, notes).
        training: JSON-able training state (fit settings, RNG states, optimizer groups).
        training_tensors: its tensors (stored as ``training/<name>``).

    Returns:
        The checkpoint folder.

    Raises:
        CheckpointError: the config is not JSON-able, a tensor is not a tensor, ``path`` is not
            replaceable, or writing failed (the previous checkpoint is then intact and no temporary
            folder remains).
    """
    d = Path(path)
    if d.suffix in (".safetensors", ".json"):
        raise CheckpointError(f"a checkpoint is a folder, but {d} looks like a file name: pass the folder, "
                              f"e.g. {d.with_suffix('')}")
    if not isinstance(kind, str) or not kind:
        raise CheckpointError(f"kind must be a non-empty str, got {kind!r}")
    if not isinstance(config, dict):
        raise CheckpointError(f"{kind} config is a {type(config).__name__}: it must be a dict")
    prepared = prepare_tensors(tensors or {}, kind)
    bad = sorted(k for k in prepared if k.startswith(TRAINING_PREFIX))
    if bad:
        raise CheckpointError(f"tensor names {bad[:3]} start with {TRAINING_PREFIX!r}, which is reserved for the "
                              "training state: rename them")
    train_t = prepare_tensors(training_tensors or {}, f"{kind} training state")
    prepared.update({TRAINING_PREFIX + k: t for k, t in train_t.items()})
    v = current_version(kind) if version is None else int(version)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "version": v,
        "class": kind if _class is None else _class,  # the format-1 field, kept for older readers of the JSON
        "library_version": _LIBRARY_VERSION,
        "config": config,
        "extra": {} if extra is None else extra,
    }
    if training is not None:
        doc["training"] = training
    doc["tensors"] = {k: {"dtype": dtype_name(t.dtype), "shape": list(t.shape), "sha256": sha256(t)}
                      for k, t in prepared.items()}
    try:
        text = json.dumps(doc, indent=2)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"cannot write {kind} checkpoint: its config, extra or training state is not JSON-serializable ({e}); "
            "use plain dicts/lists/str/numbers/bools/None (e.g. tensor.tolist(), str(dtype))"
        ) from e
    return write_folder(d, prepared, text)


# --------------------------------------------------------------------------- read


def _major(version: str) -> int | None:
    head = str(version).split(".", 1)[0]
    digits = "".join(c for c in head if c.isdigit())
    return int(digits) if digits else None


def read_document(path: str | os.PathLike[str], *, warn_stacklevel: int = 3) -> dict[str, Any]:
    """Read and validate ``config.json`` (format 1 documents get ``kind`` and ``version`` = 1)."""
    d = as_dir(path)
    if d.exists() and not d.is_dir():
        raise CheckpointError(f"{d} is a file, not a checkpoint folder{missing_hint(d)}")
    if not d.is_dir():
        raise CheckpointError(f"checkpoint folder {d} does not exist{missing_hint(d)}")
    f = d / CONFIG_NAME
    if not f.is_file():
        raise CheckpointError(
            f"{f} is missing: {d} is not a complete neuroplastic checkpoint; re-save it with neuroplastic.save"
        )
    size = f.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{f} is {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit of a checkpoint config: "
                              "the file is not a neuroplastic config or was tampered with; re-save the checkpoint")
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
    fv = doc.get("format_version")
    if not isinstance(fv, int) or isinstance(fv, bool) or fv < 1:
        raise CheckpointError(f"{f} has an invalid format_version {fv!r}: the file is corrupt; re-save it")
    if fv > FORMAT_VERSION:
        raise CheckpointError(
            f"{f} has format_version {fv}, written by neuroplastic {doc.get('library_version', '?')}; this "
            f"neuroplastic {_LIBRARY_VERSION} reads up to {FORMAT_VERSION}: upgrade neuroplastic"
        )
    if fv == 1:  # neuroplastic 0.1.0: "class" was the kind; configs were version 1
        doc.setdefault("kind", doc.get("class"))
        doc.setdefault("version", 1)
    doc.setdefault("class", doc.get("kind"))
    if doc["class"] != doc.get("kind"):
        raise CheckpointError(f"{f} names kind {doc.get('kind')!r} but class {doc['class']!r}: the file was edited; "
                              "restore or re-save the checkpoint")
    for key, typ in (("kind", str), ("version", int), ("config", dict), ("extra", dict), ("tensors", dict)):
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool):
            raise CheckpointError(
                f"{f} field {key!r} is missing or not a {typ.__name__}: the file is corrupt or was "
                "edited; re-save the checkpoint"
            )
    if doc.get("training") is not None and not isinstance(doc["training"], dict):
        raise CheckpointError(f"{f} field 'training' is not an object: the file was edited; re-save the checkpoint")
    for k, spec in doc["tensors"].items():
        if not (isinstance(spec, dict) and isinstance(spec.get("dtype"), str) and isinstance(spec.get("shape"), list)
                and isinstance(spec.get("sha256"), str)):
            raise CheckpointError(f"{f} entry tensors[{k!r}] is malformed: the file was edited; re-save the checkpoint")
    lib = doc.get("library_version")
    if isinstance(lib, str) and _major(lib) != _major(_LIBRARY_VERSION):
        warnings.warn(f"{d} was written by neuroplastic {lib}, this is {_LIBRARY_VERSION} (different major "
                      "version): it loads, but check the results", CheckpointWarning, stacklevel=warn_stacklevel)
    return doc


def check_header(d: Path, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Check, from the safetensors header alone, that the file holds exactly the tensors the config lists."""
    f = d / WEIGHTS_NAME
    if not f.is_file():
        raise CheckpointError(f"{f} is missing: the checkpoint {d} is incomplete; re-save it with neuroplastic.save")
    header = read_header(f)
    cfg = d / CONFIG_NAME
    fix = "the weights or config were modified or corrupted; re-save or restore the checkpoint"
    specs = doc["tensors"]
    missing, unexpected = sorted(set(specs) - set(header)), sorted(set(header) - set(specs))
    if missing or unexpected:
        raise CheckpointError(f"{f} does not match {cfg}: tensors missing from the weights {missing[:5]}, "
                              f"not listed in the config {unexpected[:5]}; {fix}")
    for k, h in header.items():
        if h["dtype"] != specs[k]["dtype"] or h["shape"] != specs[k]["shape"]:
            raise CheckpointError(f"tensor {k!r} in {f} has shape {h['shape']} ({h['dtype']}), {cfg} says "
                                  f"{specs[k]['shape']} ({specs[k]['dtype']}); {fix}")
    return header


def load_verified(d: Path, doc: dict[str, Any], map_location: Any = "cpu", verify: bool = True) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint (header checked first, then SHA-256 per tensor if ``verify``)."""
    check_header(d, doc)
    f = d / WEIGHTS_NAME
    try:
        tensors = _st.load_file(str(f), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"cannot read {f} ({type(e).__name__}: {e}): the file is truncated or corrupt; "
                              "restore it from a backup or re-save the checkpoint") from e
    if verify:
        fix = "the weights or config were modified or corrupted; re-save or restore the checkpoint"
        for k, t in tensors.items():
            if sha256(t) != doc["tensors"][k]["sha256"]:
                raise CheckpointError(f"tensor {k!r} in {f} fails its sha256 check against {d / CONFIG_NAME}; {fix}")
    if map_location is not None and torch.device(map_location) != torch.device("cpu"):
        tensors = {k: t.to(map_location) for k, t in tensors.items()}
    return tensors


def split_training(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(object tensors, training tensors without their prefix)``."""
    obj = {k: t for k, t in tensors.items() if not k.startswith(TRAINING_PREFIX)}
    train = {k[len(TRAINING_PREFIX):]: t for k, t in tensors.items() if k.startswith(TRAINING_PREFIX)}
    return obj, train


def read_checkpoint(path: str | os.PathLike[str], *, kind: str | None = None, version: int | None = None,
                    map_location: str | torch.device | None = "cpu", verify: bool = True) -> Checkpoint:
    """Read a checkpoint folder written by :func:`write_checkpoint` (or by ``neuroplastic.save``).

    Args:
        path: the checkpoint folder (or a file inside it).
        kind: the kind expected; another kind is an error naming what the folder holds.
        version: migrate the config to this version (default: the version registered for the kind).
        map_location: device of the returned tensors.
        verify: check each tensor's SHA-256 against the config (the header is always checked).

    Returns:
        A :class:`Checkpoint`.

    Raises:
        CheckpointError: a missing, truncated, corrupt or tampered checkpoint, another kind, or a
            config version this library cannot migrate.
    """
    d = as_dir(path)
    doc = read_document(d)
    if kind is not None and doc["kind"] != kind:
        raise CheckpointError(f"{d} holds a {doc['kind']!r} checkpoint, not {kind!r}: pass the folder written for "
                              f"{kind}, or load it with neuroplastic.load")
    config = migrate(doc["kind"], doc["config"], doc["version"], version)
    tensors, train_t = split_training(load_verified(d, doc, map_location, verify))
    target = current_version(doc["kind"]) if version is None else int(version)
    return Checkpoint(d, doc["kind"], target, config, tensors, doc["extra"], doc.get("training"),
                      train_t, str(doc.get("library_version", "?")), doc["version"])
