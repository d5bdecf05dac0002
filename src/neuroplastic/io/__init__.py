"""Checkpoints: safetensors weights + JSON config in a directory; nothing is ever unpickled.

See :mod:`neuroplastic.io.checkpoint` for the format and guarantees.
"""
from neuroplastic.io.checkpoint import (
    CheckpointError,
    CheckpointWarning,
    load,
    load_config,
    load_tensors,
    register_serializable,
    save,
)

__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "load",
    "load_config",
    "load_tensors",
    "register_serializable",
    "save",
]
