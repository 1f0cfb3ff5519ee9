"""The import graph of the two packages: no cycles, `proxy -> rollout` only, and the control
plane's rooms in layers (docs/architecture.md draws them). Read from the source with ast, so a
new import that breaks a rule fails here before anyone has to untangle it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each room of `rollout` may import rooms of its own layer or below, never above.
LAYERS: dict[str, int] = {
    "rollout.errors": 0,
    "rollout.tasks": 0,
    "rollout.stats": 1,
    "rollout.quality": 2,
    "rollout.config": 3,
    "rollout.targeting": 4,
    "rollout.store": 4,
    "rollout.control": 5,
    "rollout.eval": 6,
    "rollout.scorers": 6,
    "rollout.simulate": 6,
    "rollout.notify": 6,
    "rollout.cli": 7,
}
DATA_PLANE_ENTRY = "rollout.cli.data_plane"  # the one module of rollout that starts the proxy


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(p): p for pkg in ("rollout", "proxy") for p in sorted((ROOT / pkg).rglob("*.py"))
}


def _resolve(base: str, name: str) -> str:
    """`from base import name`: the module it names (a submodule when one exists)."""
    return f"{base}.{name}" if f"{base}.{name}" in MODULES else base


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, *, top_level_only: bool) -> set[str]:
    found: set[str] = set()
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(_resolve(node.module, a.name) for a in node.names)
        if top_level_only and (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            or (isinstance(node, ast.If) and _is_type_checking(node))
        ):
            continue  # runs later, or never: not part of what importing the module does
        stack.extend(ast.iter_child_nodes(node))
    return {m for m in found if m.split(".")[0] in ("rollout", "proxy")}


def _tree(module: str) -> ast.AST:
    return ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))


def _room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_import_cycles() -> None:
    graph = {m: _imports(_tree(m), top_level_only=True) & MODULES.keys() for m in MODULES}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_rollout_never_imports_proxy_but_from_the_data_plane_entry() -> None:
    offenders = {
        module: sorted(
            m for m in _imports(_tree(module), top_level_only=False) if m.startswith("proxy")
        )
        for module in MODULES
        if module.startswith("rollout") and module != DATA_PLANE_ENTRY
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_rollout_rooms_import_only_their_layer_or_below() -> None:
    upward = []
    for module in MODULES:
        if not module.startswith("rollout.") or module == DATA_PLANE_ENTRY:
            continue
        room = _room(module)
        assert room in LAYERS, f"{module}: room {room} has no layer in this test"
        for imported in _imports(_tree(module), top_level_only=False):
            target = _room(imported)
            if target.startswith("rollout") and LAYERS.get(target, 0) > LAYERS[room]:
                upward.append(f"{module} -> {imported}")
    assert upward == []


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The rules above must be able to fail: fed a made-up cycle, the same sorter refuses it."""
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()
    tree = ast.parse("from rollout.control.decide import decide\ndef f():\n    import proxy.app\n")
    assert _imports(tree, top_level_only=True) == {"rollout.control.decide"}
    assert _imports(tree, top_level_only=False) == {"rollout.control.decide", "proxy.app"}
