"""Checkpoints that move freely between distributed and single-process runs.

``DistributedDataParallel`` keeps the user's network as ``ddp.module``, so ``ddp.state_dict()``
names every tensor ``"module.<name>"``. ``Model.fit(strategy="ddp")`` never lets that prefix
reach a file (``ModelCheckpoint`` and ``Model.save`` write ``model.module``, the unwrapped
network, from rank 0 only). For checkpoints written by hand-made loops, :func:`unwrap_state_dict`
strips the prefix and :func:`load_state_dict` loads either form into a plain or a wrapped module.

Resuming: load the checkpoint (on every rank, or only on rank 0: DDP broadcasts rank 0's
weights when ``fit`` wraps the model) and pass ``initial_epoch=resume_epoch(path)`` to ``fit``;
the data order of the remaining epochs is then the one an uninterrupted run would have seen.

Example:
    >>> import torch
    >>> from torch import nn
    >>> sd = {"module.weight": torch.ones(2, 3), "module.bias": torch.zeros(2)}
    >>> sorted(unwrap_state_dict(sd))
    ['bias', 'weight']
    >>> net = load_state_dict(nn.Linear(3, 2), sd)
    >>> float(net.weight.detach().sum())
    6.0
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from neuroplastic.distributed.process_group import barrier, is_main_process

__all__ = ["load_state_dict", "resume_epoch", "save_on_main", "unwrap_module", "unwrap_state_dict"]

_PREFIX = "module."


def unwrap_module(module: nn.Module) -> nn.Module:
    """The user's network inside ``DistributedDataParallel``/``DataParallel`` (or ``module`` itself)."""
    while isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        module = module.module
    return module


def unwrap_state_dict(state_dict: Mapping[str, Any], prefix: str = _PREFIX) -> dict[str, Any]:
    """A copy of ``state_dict`` without DDP's ``"module."`` key prefix (unchanged if a key lacks it)."""
    keys = list(state_dict)
    if keys and all(k.startswith(prefix) for k in keys):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def load_state_dict(module: nn.Module, state_dict: Mapping[str, Any], strict: bool = True) -> nn.Module:
    """Load a state dict with or without the ``"module."`` prefix into a plain or DDP-wrapped module.

    Returns:
        ``module`` (for chaining).

    Raises:
        RuntimeError: missing/unexpected keys (with ``strict``) or shape mismatches, as
            :meth:`torch.nn.Module.load_state_dict` reports them.
    """
    unwrap_module(module).load_state_dict(unwrap_state_dict(state_dict), strict=strict)
    return module


def save_on_main(obj: Any, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None,
                 **training_options: Any) -> Path:
    """Save with :func:`neuroplastic.io.save` on rank 0, then wait until every rank gets here.

    ``obj`` may be a DDP-wrapped registered module (it is unwrapped). After the call the
    checkpoint is complete, so any rank may read it (on a shared file system).
    ``training_options`` go to the object's training-state hook, e.g. ``include_optimizer=True``
    for a :class:`~neuroplastic.training.Model` (what ``fit(..., resume=path)`` needs).
    """
    from neuroplastic.io import save

    path = Path(path)
    if is_main_process():
        save(unwrap_module(obj) if isinstance(obj, nn.Module) else obj, path, extra=extra, **training_options)
    barrier()
    return path


def resume_epoch(path: str | os.PathLike[str]) -> int:
    """The ``initial_epoch`` that continues after a ``ModelCheckpoint`` checkpoint (its epoch + 1).

    Raises:
        ValueError: the checkpoint's ``extra`` holds no ``epoch`` (it was not written by
            ``ModelCheckpoint``): pass ``initial_epoch`` yourself.
    """
    from neuroplastic.io import load_config

    extra = load_config(path).get("extra") or {}
    if not isinstance(extra.get("epoch"), int):
        raise ValueError(f"checkpoint {path} records no epoch in its extra data: it was not written by "
                         "ModelCheckpoint; pass fit(..., initial_epoch=N) yourself")
    return int(extra["epoch"]) + 1

