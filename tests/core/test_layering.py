"""The dependency contract: packages form layers, and no module imports a higher layer or
closes an import circle.

Every ``import`` in ``src/neuroplastic`` counts, including imports inside functions (a lazy
import hides an upward dependency but does not remove it). Only imports under
``if TYPE_CHECKING:`` are exempt: they never run. The package root ``neuroplastic/__init__.py``
(the public face) and the entry points ``cli``/``__main__`` sit on top and may import anything.

How to read a failure: ``a.b -> c.d`` means module ``a.b`` imports ``c.d`` although ``c`` is in a
higher layer than ``a``. Move the shared piece down (usually into the lower package or
``_core``), or invert the dependency with a registry the higher layer fills where it is defined.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "src" / "neuroplastic"

#: Bottom to top. Packages on one line are peers: they may not import one another.
LAYERS: list[set[str]] = [
    {"_version", "_core"},
    {"neurons", "encoding", "datasets"},
    {"kernels"},
    {"synapses"},
    {"plasticity"},
    {"network"},
    {"io"},
    {"training", "functional"},
    {"distributed"},
    {"compress", "streaming", "robustness", "interop", "conversion", "temporal"},
    {"models", "rl", "river"},
    {"apps"},
    {"cli", "(root)"},
    {"__main__"},
]
#: Peers that may import each other in one direction only (lower -> higher is still refused).
ALLOWED_PEER_EDGES: set[tuple[str, str]] = set()


def _rank(pkg: str) -> int:
    for i, layer in enumerate(LAYERS):
        if pkg in layer:
            return i
    raise AssertionError(f"package neuroplastic.{pkg} has no layer: add it to LAYERS in {__file__}")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for sub in node.body:
                    skip.update(id(n) for n in ast.walk(sub))
    return skip


def _imports(mod: str, path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """Modules of neuroplastic that ``mod`` imports (resolved to submodules where named)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "neuroplastic")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "neuroplastic":
                continue
            named = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
            out.update(named or [target])
    return {m for m in out if m != mod}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _pkg(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def test_every_package_has_a_layer():
    for mod in _modules():
        _rank(_pkg(mod))


def test_no_upward_or_sideways_import():
    bad = []
    for mod, targets in sorted(_graph().items()):
        a = _pkg(mod)
        for t in sorted(targets):
            b = _pkg(t)
            if a == b or (a, b) in ALLOWED_PEER_EDGES:
                continue
            if _rank(b) >= _rank(a):
                bad.append(f"{mod} -> {t}")
    assert not bad, "imports that go up (or sideways) a layer:\n  " + "\n  ".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    graph = _graph()
    # A package's __init__ re-exporting its own submodules is the package's public face, not a
    # circle; a submodule importing back through its package's __init__ is one.
    pruned = {m: {t for t in ts if not (m == t.rsplit(".", 1)[0] and (ROOT.parent / m.replace(".", "/") / "__init__.py").exists())}
              for m, ts in graph.items()}
    cycles = _cycles(pruned)
    assert not cycles, "import circles:\n  " + "\n  ".join(" <-> ".join(c) for c in cycles)


def test_contract_sees_a_planted_upward_import(tmp_path):
    """The checker itself: a lazy import of a higher layer inside a function is found."""
    src = "def f():\n    from neuroplastic.training import Model\n    return Model\n"
    p = tmp_path / "x.py"
    p.write_text(src)
    found = _imports("neuroplastic.neurons.x", p, {"neuroplastic.training": p})
    assert found == {"neuroplastic.training"}
    assert _rank("training") > _rank("neurons")
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
