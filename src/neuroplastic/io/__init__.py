"""Checkpoints: one envelope for models, estimators and streams; nothing is ever unpickled.

A checkpoint is a folder: ``config.json`` (``format``, ``kind``, ``version``, the config, dtype /
shape / sha256 per tensor) and ``weights.safetensors``, written atomically. :func:`save` /
:func:`load` handle registered objects (see :mod:`neuroplastic.io.checkpoint`);
:func:`write_checkpoint` / :func:`read_checkpoint` write and read any ``kind`` of config plus
tensors (stream state, custom objects) in the same envelope (see :mod:`neuroplastic.io._envelope`).
Configs are versioned; :func:`register_migration` adds a step of a kind's migration chain and
:func:`migrate` runs it.
"""
from neuroplastic.io._bounds import MAX_STEPS
from neuroplastic.io._envelope import (
    Checkpoint,
    migrate,
    read_checkpoint,
    read_header,
    register_migration,
    register_version,
    write_checkpoint,
)
from neuroplastic.io.checkpoint import (
    CheckpointError,
    CheckpointWarning,
    load,
    load_config,
    load_tensors,
    register_serializable,
    register_training_state,
    save,
)

__all__ = [
    "MAX_STEPS",
    "Checkpoint",
    "CheckpointError",
    "CheckpointWarning",
    "load",
    "load_config",
    "load_tensors",
    "migrate",
    "read_checkpoint",
    "read_header",
    "register_migration",
    "register_serializable",
    "register_training_state",
    "register_version",
    "save",
    "write_checkpoint",
]
