"""Run the doctests of neuroplastic.distributed (``pytest --doctest-modules src/neuroplastic/distributed``)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import neuroplastic.distributed as pkg

MODULES = ["neuroplastic.distributed"] + [m.name for m in pkgutil.iter_modules(pkg.__path__, "neuroplastic.distributed.")]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str, monkeypatch) -> None:
    for key in ("RANK", "WORLD_SIZE"):  # the examples describe a plain process
        monkeypatch.delenv(key, raising=False)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
