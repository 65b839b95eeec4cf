"""The floors of docs/architecture.md hold: dependencies point one way and no module imports itself back.

Imports are read with :mod:`ast` from the source (module level and inside functions), so
the test sees every dependency, not only those a test run happens to exercise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mapopt", "solvers", "problems")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """Module -> imported module, for every module of the three packages (first-party imports only)."""
    graph = nx.DiGraph()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = module_name(path)
            graph.add_node(name)
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module]
                for target in targets:
                    if target.split(".")[0] in PACKAGES:
                        graph.add_edge(name, target)
    return graph


def test_the_framework_never_imports_solvers_or_problems() -> None:
    graph = import_graph()
    bad = [(a, b) for a, b in graph.edges if a.startswith("mapopt") and b.split(".")[0] in ("solvers", "problems")]
    assert not bad, bad


def test_problems_never_import_solvers_and_formulations_never_import_instances() -> None:
    graph = import_graph()
    bad = [
        (a, b)
        for a, b in graph.edges
        if (a.startswith("problems") and b.startswith("solvers"))
        or (a.startswith("problems.formulations") and b.startswith("problems.instances"))
    ]
    assert not bad, bad


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles[:5]
