"""The house's layers: every import of every module runs down, never up, and no modules form a circle.

Layers, bottom to top: the core; the stages (crawlers, fingerprint, matcher, which do
not import each other); evidence; the console; the application. An import counts
wherever it stands (module level or inside a function), and so does
``importlib.import_module("...")`` with a literal name.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Bottom to top; packages on one floor may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tanba.core",),
    ("tanba.crawlers", "tanba.fingerprint", "tanba.matcher"),
    ("tanba.evidence",),
    ("tanba.console",),
    ("tanba.app",),
)
FLOOR = {part: floor for floor, parts in enumerate(LAYERS) for part in parts}


def modules(root: Path) -> dict[str, Path]:
    """Every module under ``root/tanba``, by dotted name."""
    found = {}
    for path in (root / "tanba").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path) -> dict[str, set[str]]:
    """For each module, the modules of the tree it imports, anywhere in its code."""
    known = modules(root)
    graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([base] if base else [])])
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            for n in names:
                while n and n not in known:
                    n = n.rpartition(".")[0]
                if n and n != name:
                    targets.add(n)
        graph[name] = targets
    return graph


def part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def wrong_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run up, or between two packages of one floor, as 'module -> target'."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module != "tanba"
        for target in targets
        if target != "tanba"
        and part(target) != part(module)
        and FLOOR[part(target)] >= FLOOR[part(module)]
    )


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Modules that import each other in a loop (a package's __init__ handing on its
    children's names does not count)."""
    sys.setrecursionlimit(10_000)
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            circle = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                circle.append(w)
                if w == v:
                    break
            if len(circle) > 1:
                found.append(sorted(circle))

    for v in edges:
        if v not in index:
            visit(v)
    return found


GRAPH = imports(ROOT)


def test_every_module_belongs_to_a_layer() -> None:
    # The graph is the package's (an empty one would pass every check here).
    assert {"tanba.core.worker", "tanba.matcher.match", "tanba.app.cli"} <= set(GRAPH)
    loose = sorted(m for m in GRAPH if m != "tanba" and part(m) not in FLOOR)
    assert loose == [], f"modules outside every layer (add them to one): {loose}"


def test_no_import_runs_up_or_across_a_floor() -> None:
    wrong = wrong_imports(GRAPH)
    assert wrong == [], "imports that run up, or across one floor:\n" + "\n".join(wrong)


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(GRAPH) == []


def test_the_checks_report_an_import_inside_a_function_and_a_circle(tmp_path: Path) -> None:
    files = {
        "tanba/__init__.py": "",
        "tanba/core/__init__.py": "",
        "tanba/core/a.py": "def f():\n    from tanba.matcher import m\n",
        "tanba/matcher/__init__.py": "",
        "tanba/matcher/m.py": "import importlib\nimportlib.import_module('tanba.crawlers.c')\n",
        "tanba/crawlers/__init__.py": "",
        "tanba/crawlers/c.py": "from tanba.crawlers import d\n",
        "tanba/crawlers/d.py": "from . import c\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = imports(tmp_path)
    assert wrong_imports(graph) == [
        "tanba.core.a -> tanba.matcher",
        "tanba.core.a -> tanba.matcher.m",
        "tanba.matcher.m -> tanba.crawlers.c",
    ]
    assert circles(graph) == [["tanba.crawlers.c", "tanba.crawlers.d"]]
