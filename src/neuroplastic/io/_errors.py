"""Checkpoint errors and warnings."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint cannot be written or read; the message names the file and the fix."""


class CheckpointWarning(UserWarning):
    """A checkpoint loads, but something about it deserves attention (e.g. version skew)."""
