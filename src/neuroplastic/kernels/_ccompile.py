"""Build a small C source into a shared library once, cache it on disk, load it with ctypes.

Plain C (no Python or torch headers) compiles in well under a second with gcc/clang, which is
why the CPU kernels use it instead of ``torch.utils.cpp_extension`` (tens of seconds per build)
or ``torch.compile`` (a compile per shape). Anything that goes wrong (no compiler, a failed
build, an unwritable cache) returns ``None`` and warns once; callers then fall back to their
pure-torch engine, so a missing compiler never breaks ``import neuroplastic`` or a test.

Environment:
    NEUROPLASTIC_CACHE_DIR: where built libraries are kept (default ``$XDG_CACHE_HOME`` or
        ``~/.cache``, then ``neuroplastic/kernels``).
    CC: the C compiler to use (default: the first of ``cc``, ``gcc``, ``clang`` on ``PATH``).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

# IEEE semantics matter: the fused kernels must round exactly like the op-by-op torch reference,
# so no fused multiply-add contraction and no fast-math. -fno-trapping-math only lets the compiler
# evaluate both sides of a select (needed to vectorise the reset); it changes no rounding.
CFLAGS = (
    "-O3", "-std=c99", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno",
    "-fno-trapping-math",
)

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}
_warned: set[str] = set()


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _cache_dir() -> Path:
    root = os.environ.get("NEUROPLASTIC_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "neuroplastic" / "kernels"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise PermissionError(f"cache dir {path} is not owned by the current user")
    return path


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def build_and_load(name: str, source: str, timeout: float = 120.0,
                   optional_flags: tuple[str, ...] = ()) -> ctypes.CDLL | None:
    """Compile ``source`` (C99) to ``<cache>/<name>-<hash>.so`` if needed and load it.

    ``optional_flags`` (e.g. ``("-fopenmp",)``) are tried first; if that build fails the source is
    built again without them (the source must compile both ways, e.g. guarded by ``_OPENMP``).
    Returns the loaded library, or ``None`` (after one warning) when no compiler is found or the
    build fails. Thread-safe; concurrent processes race benignly (atomic rename).
    """
    with _lock:
        if name in _loaded:
            return _loaded[name]
        lib = None
        try:
            try:
                lib = _build(name, source, timeout, optional_flags)
            except Exception:  # noqa: BLE001 - retry without the optional flags
                if not optional_flags:
                    raise
                lib = _build(name, source, timeout, ())
        except Exception as exc:  # noqa: BLE001 - any failure means "use the fallback"
            _warn_once(
                name,
                f"neuroplastic: could not build the C kernel {name!r} ({exc}); using the slower pure-torch "
                "engine. Install a C compiler (gcc or clang, or set CC) for the fast CPU path, or set "
                "NEUROPLASTIC_CPU_KERNEL=torch to silence this warning.",
            )
        _loaded[name] = lib
        return lib


def _build(name: str, source: str, timeout: float, extra: tuple[str, ...] = ()) -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise FileNotFoundError("no C compiler (cc, gcc, clang) on PATH")
    key = hashlib.sha256("\0".join((source, cc, *CFLAGS, *extra, sys.platform)).encode()).hexdigest()[:16]
    cache = _cache_dir()
    target = cache / f"{name}-{key}.so"
    if not target.exists():
        fd, tmp_src = tempfile.mkstemp(suffix=".c", dir=cache)
        with os.fdopen(fd, "w") as f:
            f.write(source)
        tmp_lib = tmp_src[:-2] + ".so"
        try:
            proc = subprocess.run(
                [cc, *CFLAGS, *extra, "-o", tmp_lib, tmp_src, "-lm"], capture_output=True, text=True, timeout=timeout
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{os.path.basename(cc)} failed: {proc.stderr.strip()[:500]}")
            os.replace(tmp_lib, target)
        finally:
            for p in (tmp_src, tmp_lib):
                if os.path.exists(p):
                    os.unlink(p)
    return ctypes.CDLL(str(target))


def clear_loaded() -> None:
    """Forget loaded libraries and warnings (tests use this to exercise the build path again)."""
    with _lock:
        _loaded.clear()
        _warned.clear()
