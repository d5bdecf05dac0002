"""The library's own error types: what the user can fix, kept apart from bugs.

Every error the user can fix (bad input data, a bad option, a file that cannot be read or
written, a tampered checkpoint or stream state) is a :class:`NeuroplasticError`; its message
names the file, line or setting and the fix. The command line turns these (and ``OSError``:
permission denied, disk full) into one line and exit code 2, while anything else is a bug and
keeps its traceback.

The classes also derive from the built-in type that code written before them caught
(``ValueError``, ``OSError``, ``ImportError``), so ``except ValueError`` keeps working.
"""
from __future__ import annotations

__all__ = [
    "NeuroplasticError",
    "InputError",
    "InputTypeError",
    "DataError",
    "OutputError",
    "StateError",
    "ConfigError",
    "MissingDependencyError",
]


class NeuroplasticError(Exception):
    """Base of every error the user can fix; the message says how."""


class InputError(NeuroplasticError, ValueError):
    """A bad argument or option (a value out of range, an unknown name, a missing column)."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type (also a ``TypeError``, as code written before caught)."""


class DataError(InputError):
    """Input data that cannot be used as given (a bad cell, unsorted timestamps, one class only)."""


class ConfigError(InputError):
    """A settings value that cannot be used (e.g. a time constant <= 0)."""


class StateError(NeuroplasticError, ValueError):
    """A saved model or stream state that is damaged or was edited by hand."""


class OutputError(NeuroplasticError, OSError):
    """An output that cannot be written (a read-only folder, the input file itself)."""


class MissingDependencyError(NeuroplasticError, ImportError):
    """An optional package is needed; the message names the ``pip install`` line."""
