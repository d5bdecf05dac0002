"""Folder-level file handling of checkpoints: atomic replacement, stale temporary folders, modes.

See :mod:`neuroplastic.io._envelope` for the format.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import time
import uuid
from pathlib import Path

import safetensors.torch as _st
import torch

from neuroplastic.io._errors import CheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"
CHECKPOINT_FILES = frozenset({CONFIG_NAME, WEIGHTS_NAME})
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".bin", ".ckpt")


# --------------------------------------------------------------------------- paths / fs


def as_dir(path: str | os.PathLike[str]) -> Path:
    """Checkpoint folder for ``path``, which may also name a file inside it."""
    p = Path(path)
    if p.name in CHECKPOINT_FILES and not p.is_dir():
        return p.parent
    return p


def missing_hint(d: Path) -> str:
    """Why ``d`` is not a checkpoint folder and what to do, as the end of an error message."""
    if d.is_file() or (d.exists() and not d.is_dir()):
        pickled = d.suffix.lower() in _PICKLE_SUFFIXES
        return ((" (it looks like a pickle)" if pickled else "") + ": a neuroplastic checkpoint is a folder "
                "holding config.json and weights.safetensors, written by neuroplastic.save(obj, folder) or "
                "obj.save(folder); pickles are never loaded (unpickling runs arbitrary code), so re-save the "
                "object with neuroplastic from the code that made it and pass that folder")
    leftovers = sorted(d.parent.glob(f".{d.name}.old-*")) if d.parent.is_dir() else []
    if leftovers:
        return (f"; a save was interrupted and left the previous checkpoint at {leftovers[-1]}: "
                f"rename it to {d} to recover it")
    parent = d.parent
    if parent.is_dir():
        # "model" given but "model.pkl" there, or "model.pkl" given and "model" (the folder) there
        near = sorted(q for q in parent.glob(f"{glob_escape(d.stem)}*") if q != d and (q.stem == d.stem or q.name == d.stem))
        if near:
            q = near[0]
            kind = "folder" if q.is_dir() else "file"
            return (f" (but the {kind} {q} exists: did you mean it? a checkpoint is a folder written by "
                    "neuroplastic.save; pickles are never loaded)")
        return ": check the path (a checkpoint is a folder written by neuroplastic.save)"
    missing = d
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    return (f": {missing.parent} holds no {missing.name!r} (the first missing part of the path; working directory "
            f"{os.getcwd()}): check the path")


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def umask_mode() -> int:
    """The mode ``open()`` gives a new file here: ``0o666`` less the process umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:  # Linux: read without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return 0o666 & ~mask


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


def check_replaceable(d: Path) -> None:
    """Refuse to replace ``d`` unless it is absent, empty or a checkpoint folder."""
    if not d.exists() and not d.is_symlink():
        return
    if not d.is_dir() or d.is_symlink():
        raise CheckpointError(f"{d} exists and is not a checkpoint folder: choose another path or remove it")
    extra = sorted(p.name for p in d.iterdir() if p.name not in CHECKPOINT_FILES)
    if extra:
        raise CheckpointError(
            f"{d} contains files that are not part of a checkpoint ({extra[:5]}): refusing to "
            "replace it; choose another path or remove them"
        )


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
#: a leftover temporary folder from another host (shared file system) counts as stale after this long
_FOREIGN_STALE_S = 3600.0


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # pragma: no cover - no cheap liveness check; age decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _is_stale(p: Path) -> bool:
    """Whether ``p`` (a ``.<name>.tmp-<token>`` or ``.old-`` folder) was left by a writer that is gone."""
    token = p.name.rsplit(".tmp-", 1)[-1] if ".tmp-" in p.name else p.name.rsplit(".old-", 1)[-1]
    parts = token.split("-")
    try:
        age = time.time() - p.lstat().st_mtime
    except OSError:
        return False
    if len(parts) == 3 and parts[0].isdigit():
        pid, host = int(parts[0]), parts[1]
        if host == _HOST:
            return not _pid_alive(pid)
        return age > _FOREIGN_STALE_S
    return age > 60.0  # written by neuroplastic 0.1.0 (no pid in the name)


def clean_stale(parent: Path, name: str | None = None, what: str = "tmp") -> list[Path]:
    """Remove temporary checkpoint folders in ``parent`` whose writer died (only checkpoint files inside).

    Args:
        parent: the folder to tidy.
        name: only leftovers of the checkpoint ``name`` (default: any checkpoint in ``parent``).
        what: ``"tmp"`` (half-written new checkpoints) or ``"old"`` (previous checkpoints moved
            aside by a save that then died: only remove them once ``name`` is complete again).

    Returns:
        The folders removed.
    """
    if not parent.is_dir():
        return []
    pattern = f".{'*' if name is None else name}.{what}-*"
    removed = []
    for p in parent.glob(pattern):
        try:
            if p.is_symlink() or not p.is_dir() or not _is_stale(p):
                continue
            if any(c.name not in CHECKPOINT_FILES for c in p.iterdir()):
                continue  # not ours: never remove what we did not write
        except OSError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def write_folder(d: Path, tensors: dict[str, torch.Tensor], text: str) -> Path:
    check_replaceable(d)
    d.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(d.parent)
    token = f"{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}"
    tmp = d.parent / f".{d.name}.tmp-{token}"
    old = d.parent / f".{d.name}.old-{token}"
    try:
        tmp.mkdir()
        cfg = tmp / CONFIG_NAME
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        weights = tmp / WEIGHTS_NAME
        _st.save_file(tensors, str(weights), metadata={"format": "pt"})
        os.chmod(weights, stat.S_IMODE(os.stat(cfg).st_mode))  # the umask's mode, like config.json (not 0600)
        _fsync_file(weights)
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
    clean_stale(d.parent, d.name, "old")  # d is complete again: a previous copy moved aside is garbage
    return d


