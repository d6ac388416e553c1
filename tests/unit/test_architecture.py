"""The package's import graph: no circles, and dependencies running one way.

Every ``import`` / ``from ... import`` of ``redis_docstore.*`` counts, wherever it
stands: at the top, under ``if TYPE_CHECKING:`` or inside a function. The
implicit import of a module's parent package does not (importing
``redis_docstore._documents`` runs ``redis_docstore/__init__.py`` first, but
depends on nothing in it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import redis_docstore

PACKAGE = "redis_docstore"
ROOT = Path(redis_docstore.__file__).parent

# cli -> stores -> operations -> (commands, filters, schema, documents, embeddings) -> errors.
# A module may import its own layer (without a circle) and the layers below.
LAYERS: dict[str, int] = {
    "_errors": 0,
    **dict.fromkeys(
        [
            "_filters", "_embeddings", "_schema", "_documents", "_commands", "_rerank",
            "_effects", "_connection", "_batching", "_server",
        ],
        1,
    ),
    "_ops": 2,
    **dict.fromkeys(["_runners", "_stores"], 3),
    **dict.fromkeys(["__init__", "__main__", "testing", "_cli"], 4),
}  # fmt: skip


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join([PACKAGE, *parts])] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, explicitly, anywhere in its code."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # "from pkg import mod" imports the module pkg.mod; "from mod import x" imports mod.
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # "import a.b.c" of a name inside a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    return {name: imports_of(name, path, set(names)) for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as ``[a, b, ..., a]``, or ``None``."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and (cycle := visit(nxt)) is not None:
                return cycle
        on_path.discard(node)
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def layer_of(name: str) -> int:
    parts = name.split(".")[1:] or ["__init__"]
    if parts[0] not in LAYERS:
        raise AssertionError(f"{name} belongs to no layer: add it to LAYERS")
    return LAYERS[parts[0]]


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    # A plain import, a TYPE_CHECKING import, an import inside a function.
    assert "redis_docstore._ops.state" in graph["redis_docstore._ops.lifecycle"]
    assert "redis_docstore._schema" in graph["redis_docstore._embeddings"]
    assert "redis_docstore._server" in graph["redis_docstore._stores.base"]
    assert (
        "redis_docstore._ops.reads" in graph["redis_docstore._stores.reads"]
    )  # from pkg import mod


def test_the_package_has_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_a_circle_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_dependencies_run_one_way() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert not upward, "imports against the layers: " + ", ".join(upward)


@pytest.mark.parametrize("name", sorted(module_names()))
def test_every_module_stays_readable(name: str) -> None:
    lines = module_names()[name].read_text().count("\n")
    assert lines <= 620, f"{name} has {lines} lines; split it by concept"
