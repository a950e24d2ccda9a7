"""The code's shape, read as text (ast): no import cycles, built-in plugins use only the public
`kick` face and never each other, core modules stay small, every hook and contract is documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from support import REPO_ROOT

import kick
from kick import hookspecs, interfaces

ROOT = REPO_ROOT
BUILTIN_PLUGINS = ("kick_models", "kick_prune", "kick_quant", "kick_tasks", "kick_judges")
LIBRARIES = ("kick_layerwise",)  # shared code of built-in plugins: registers nothing


def _packages() -> dict[str, Path]:
    roots = {"kick": ROOT / "kick", "dataset_builder": ROOT / "dataset_builder"}
    roots.update({p.name: p for p in sorted((ROOT / "plugins").glob("kick_*")) if p.is_dir()})
    return roots


def _modules() -> dict[str, Path]:
    mods = {}
    for top, folder in _packages().items():
        for f in folder.rglob("*.py"):
            parts = [top, *(x for x in f.relative_to(folder).with_suffix("").parts if x != "__init__")]
            mods[".".join(parts)] = f
    return mods


def _imports(mod: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `mod` imports (anywhere in the file, function-local ones included)."""
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != mod:
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, f, mods) for m, f in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, ignoring a package's own
    `__init__` re-exporting its submodules (the face importing what it shows)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return [c for c in found if not any("." not in x and any(y.startswith(x + ".") for y in c) for x in c)]


def test_no_import_cycles_in_the_core_the_builder_or_the_plugins() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("plugin", BUILTIN_PLUGINS)
def test_a_builtin_plugin_imports_only_the_public_kick_face_and_no_other_builtin(plugin: str) -> None:
    graph = _graph()
    bad = {
        m: sorted(
            t for t in targets if t.startswith("kick.") or t.split(".")[0] in set(BUILTIN_PLUGINS) - {plugin}
        )
        for m, targets in graph.items()
        if m.split(".")[0] == plugin
    }
    assert {m: t for m, t in bad.items() if t} == {}


def test_every_name_in_the_public_face_exists_and_is_documented() -> None:
    for name in kick.__all__:
        obj = getattr(kick, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"kick.{name} has no docstring"


def test_no_core_module_is_over_400_lines() -> None:
    sizes = {f.name: len(f.read_text().splitlines()) for f in (ROOT / "kick").rglob("*.py")}
    assert {n: s for n, s in sizes.items() if s > 400} == {}


def test_every_hook_is_documented_with_an_example() -> None:
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]
    assert set(hooks) == {"register_models", "register_compressors", "register_tasks", "register_judges",
                          "register_commands"}  # fmt: skip
    for name in hooks:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example::" in doc and "@hookimpl" in doc, name


@pytest.mark.parametrize(
    "protocol", [interfaces.ModelBackend, interfaces.CompressibleModel, interfaces.Compressor, interfaces.Task,
                 interfaces.Judge, interfaces.Progress],
)  # fmt: skip
def test_every_contract_member_has_a_docstring_and_optional_ones_are_declared(protocol: type) -> None:
    members = {n: v for n, v in protocol.__dict__.items() if not n.startswith("_")}
    declared = set(members) | set(protocol.__dict__.get("__annotations__", {}))
    assert set(protocol.__dict__.get("__optional__", ())) <= declared
    undocumented = [
        n for n, v in members.items() if (callable(v) or isinstance(v, property)) and not inspect.getdoc(v)
    ]
    assert undocumented == []
