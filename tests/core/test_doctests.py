"""Run the doctests of the core modules (same as
``python -m pytest --doctest-modules src/neuroplastic/neurons src/neuroplastic/network src/neuroplastic/encoding``)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["neuroplastic._core", "neuroplastic.neurons", "neuroplastic.synapses", "neuroplastic.network", "neuroplastic.encoding"]


def _modules() -> list[str]:
    names = []
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        names += [m.name for m in pkgutil.iter_modules(pkg.__path__, pkg_name + ".")]
    return names


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


def test_core_modules_have_examples() -> None:
    finder = doctest.DocTestFinder()
    with_examples = {n for n in _modules() if any(t.examples for t in finder.find(importlib.import_module(n)))}
    assert {"neuroplastic.neurons.lif", "neuroplastic.neurons.surrogate", "neuroplastic.network.state"} <= with_examples
