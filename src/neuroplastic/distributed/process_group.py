"""Process-group setup for data-parallel training: from ``torchrun``'s environment or an existing group.

``torchrun`` (or any launcher) describes each process with environment variables:

===============  =============================================================
``RANK``         global index of this process, ``0 .. WORLD_SIZE-1``
``WORLD_SIZE``   number of processes in the job
``LOCAL_RANK``   index on this machine (picks the GPU: ``cuda:LOCAL_RANK``)
``MASTER_ADDR``  host of the rendezvous store (rank 0's machine)
``MASTER_PORT``  its TCP port
===============  =============================================================

:func:`init_distributed` turns them into a process group (gloo for CPU models, NCCL for CUDA
ones) with a bounded ``timeout`` that applies to the rendezvous *and* to every collective, so a
missing or dead peer surfaces as a :class:`DistributedError` instead of a hang. An already
initialised default group (e.g. from ``torch.distributed.init_process_group`` in the user's
script) is used as is.

Example:
    >>> from neuroplastic.distributed import get_rank, get_world_size, is_main_process
    >>> get_rank(), get_world_size(), is_main_process()   # no process group: a job of one
    (0, 1, True)
"""
from __future__ import annotations

import atexit
import datetime
import os
import socket
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistributedError",
    "barrier",
    "default_backend",
    "find_free_port",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "peer_lost_message",
    "teardown",
]

#: Seconds a rendezvous or a collective may wait for a peer (env ``NEUROPLASTIC_DIST_TIMEOUT``).
DEFAULT_TIMEOUT = 300.0
_ENV_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_OWNED = False  # True when init_distributed created the default group (then teardown destroys it)


class DistributedError(RuntimeError):
    """A rendezvous that could not form, a peer that died, or a collective that timed out."""


def is_distributed() -> bool:
    """True inside an initialised process group (of any size)."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank of this process (0 without a process group)."""
    return dist.get_rank() if is_distributed() else int(os.environ.get("RANK", 0))


def get_world_size() -> int:
    """Number of processes in the job (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else int(os.environ.get("WORLD_SIZE", 1))


def get_local_rank() -> int:
    """Rank on this machine (``LOCAL_RANK``; falls back to the global rank modulo the GPU count)."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return get_rank() % n if n else 0


def is_main_process() -> bool:
    """True on rank 0 (and in a plain single process): the one that logs and writes files."""
    return get_rank() == 0


def launched_by_torchrun() -> bool:
    """True when the environment describes a multi-process job (``WORLD_SIZE > 1`` and a rendezvous)."""
    return all(k in os.environ for k in _ENV_KEYS) and int(os.environ["WORLD_SIZE"]) > 1


def default_backend(device: torch.device | str) -> str:
    """``"nccl"`` for CUDA devices, ``"gloo"`` otherwise (CPU)."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host`` (for single-machine tests and launches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _timeout_seconds(timeout: float | datetime.timedelta | None) -> float:
    if timeout is None:
        timeout = float(os.environ.get("NEUROPLASTIC_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    secs = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if not secs > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return secs


def peer_lost_message(what: str, err: BaseException, timeout: float | None = None) -> str:
    """The message of a failed collective: what failed, the likely causes and what to do."""
    rank, world = get_rank(), get_world_size()
    limit = f" (timeout {timeout:g} s)" if timeout else ""
    return (f"rank {rank}/{world}: {what} failed{limit}: another rank probably died, hung or lost the network. "
            f"Read the other ranks' logs for the first error; restart the job (torchrun --max-restarts=N) and resume "
            f"from the last checkpoint with fit(..., initial_epoch=...). Original error: {type(err).__name__}: {err}")


def init_distributed(backend: str | None = None, *, device: torch.device | str = "cpu",
                     timeout: float | datetime.timedelta | None = None) -> tuple[int, int]:
    """Join the job's process group (or use the one already initialised); returns ``(rank, world_size)``.

    Args:
        backend: ``"gloo"``, ``"nccl"`` or None for :func:`default_backend` of ``device``.
        device: the model's device; decides the backend and, for CUDA, the GPU this process
            uses (``cuda:LOCAL_RANK``).
        timeout: seconds (or a ``timedelta``) that the rendezvous and each collective may wait
            for the other processes; default :data:`DEFAULT_TIMEOUT` or env
            ``NEUROPLASTIC_DIST_TIMEOUT``.

    Raises:
        DistributedError: the environment does not describe a job (not launched by torchrun),
            or the rendezvous did not form within ``timeout``.
    """
    global _OWNED
    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed: install a standard PyTorch wheel")
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    missing = [k for k in _ENV_KEYS if k not in os.environ]
    if missing:
        raise DistributedError(
            f"strategy='ddp' needs a process group, but {', '.join(missing)} is not set: launch the script with "
            "`torchrun --nproc-per-node=N script.py` (see docs/distributed.md), or call "
            "torch.distributed.init_process_group(...) before fit"
        )
    secs = _timeout_seconds(timeout)
    backend = backend or default_backend(device)
    kwargs: dict[str, Any] = {}
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise DistributedError("backend 'nccl' needs CUDA GPUs: use backend='gloo' (CPU) or run on a GPU machine")
        torch.cuda.set_device(get_local_rank())
        kwargs["device_id"] = torch.device("cuda", get_local_rank())
    addr, port = os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]
    world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    try:
        dist.init_process_group(backend, init_method="env://", timeout=datetime.timedelta(seconds=secs), **kwargs)
    except (RuntimeError, TimeoutError, ValueError) as e:  # DistStoreError is a RuntimeError
        raise DistributedError(
            f"rank {rank}: the rendezvous of {world} processes at {addr}:{port} ({backend}) did not form within "
            f"{secs:g} s: check that all {world} processes were started (torchrun --nnodes/--nproc-per-node on every "
            f"machine), that MASTER_ADDR is rank 0's reachable address and the port is open, and on multi-homed "
            f"machines set GLOO_SOCKET_IFNAME/NCCL_SOCKET_IFNAME. Original error: {type(e).__name__}: {e}"
        ) from e
    _OWNED = True
    atexit.register(teardown)
    return dist.get_rank(), dist.get_world_size()


def barrier(timeout: float | None = None) -> None:
    """Wait for every rank (no-op without a process group); a lost peer raises :class:`DistributedError`."""
    if not is_distributed() or dist.get_world_size() == 1:
        return
    try:
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()
    except RuntimeError as e:
        raise DistributedError(peer_lost_message("barrier", e, timeout)) from e


def teardown() -> None:
    """Destroy the process group if :func:`init_distributed` created it (safe to call twice)."""
    global _OWNED
    if _OWNED and is_distributed():
        try:
            dist.destroy_process_group()
        finally:
            _OWNED = False
