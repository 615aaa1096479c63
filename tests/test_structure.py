"""The package's shape: no import cycles between its modules, no module over 400 lines.

The import graph is read statically with ``ast``: every ``import`` and ``from ... import``
anywhere in a module (inside functions too, since an import deferred into a function still
ties the two modules together), except under ``if TYPE_CHECKING:``, which never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gradcheck

PACKAGE_DIR = Path(gradcheck.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name
MAX_LINES = 400


# --------------------------------------------------------------------------- reading the graph

def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package's name maps to its __init__."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = (PACKAGE,) + path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Collects (module, names) of every import statement, skipping ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.stmt, str | None, list[str], int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((node, alias.name, [], 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node, node.module, [a.name for a in node.names], node.level))


def _resolve(module: str, is_package: bool, target: str | None, level: int) -> str:
    """The absolute name a (possibly relative) ``from`` import refers to."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return ".".join(base + ([target] if target else []))


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The package module ``name`` is, or the innermost package module containing it."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first such import}, within the package.

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
    ``pkg`` (its __init__). A package's __init__ re-exporting its submodules is fine, so
    the loop "pkg/__init__ -> pkg.sub -> ... -> pkg/__init__" never counts: of its two
    ends, the edge *into* the __init__ from inside the package is left out (``from
    gradcheck import __version__`` in gradcheck.cli, say). The __init__'s own edges to its
    submodules stay, because a module outside the package that imports the package runs
    them: a -> pkg (__init__) -> pkg.sub -> a is a real cycle.
    """
    modules = module_files()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges: dict[str, int] = {}
        for node, target, names, level in visitor.found:
            base = _resolve(module, is_package, target, level)
            if not names:  # import a.b.c
                targets = [_owner(base, modules)]
            else:
                targets = [f"{base}.{n}" if f"{base}.{n}" in modules else _owner(base, modules)
                           for n in names]
            for t in targets:
                if t is None or t == module:
                    continue
                if module.startswith(t + "."):
                    continue  # into its own package's __init__: see above
                edges.setdefault(t, node.lineno)
        graph[module] = edges
    return graph


# --------------------------------------------------------------------------- cycles

def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, {}):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def cycle_through(start: str, component: list[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle from ``start`` back to itself inside ``component`` (breadth first)."""
    members = set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if w in members and w not in previous:
                    previous[w] = v
                    next_frontier.append(w)
        frontier = next_frontier
    raise AssertionError(f"{start} is on no cycle of {component}")


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:])]
    return "\n    ".join(steps)


def test_the_import_graph_has_the_package_modules():
    graph = import_graph()
    assert "gradcheck.report" in graph and "gradcheck.tape.tensor" in graph
    assert "gradcheck.errors" in graph["gradcheck.cli_inputs"]
    assert "gradcheck.tape.engine" in graph["gradcheck.tape.tensor"]  # from pkg import module
    assert graph["gradcheck.tape"] == {}  # its names load on first use (start-up time)
    assert "gradcheck" not in graph["gradcheck.cli"]  # `from gradcheck import __version__`
    assert "gradcheck.render" in graph["gradcheck.trace"]  # imports inside functions count


def test_the_cycle_finder():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}, "e": {"e": 5}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["e"]]
    assert cycle_through("b", ["a", "b", "c"], graph) == ["b", "c", "a", "b"]
    assert cycle_through("e", ["e"], graph) == ["e", "e"]


def test_no_import_cycles():
    graph = import_graph()
    problems = []
    for component in strongly_connected(graph):
        problems.append(describe(cycle_through(sorted(component)[0], component, graph), graph))
    assert not problems, "import cycles:\n    " + "\n\n    ".join(problems)


def test_no_module_over_400_lines():
    long = {}
    for path in module_files().values():
        relative = path.relative_to(PACKAGE_DIR.parent).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[relative] = lines
    assert not long, f"modules over {MAX_LINES} lines: {long}"
