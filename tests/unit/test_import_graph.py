"""The import graph of the top-level packages (ast only: nothing is imported, no I/O).

Allowed direction (an arrow is "may import"):

    domain       ──▶ nothing of the project (its ports, ``domain/ports``, are Protocols others implement)
    commands     ──▶ domain
    projections  ──▶ domain
    streams      ──▶ domain, commands, projections
    api          ──▶ domain, commands, projections          (never streams)
    infra        ──▶ everything (adapters implement the ports; bootstrap and the CLI compose)

``infra`` is imported from outside ``infra/`` by exactly one module: ``api/deps.py``, the API's
dependency module, which takes out of the composition root (``infra/bootstrap.py``) what the
routers use. That one sanctioned edge is the only way back from a package to ``infra``, so the
package graph is acyclic once it is set aside; :func:`test_no_package_cycles` checks that too,
independently of the table (so a wrong table cannot hide a cycle).

Every import counts: module level, inside functions, under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "commands", "projections", "streams", "api", "infra")
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "commands": frozenset({"domain"}),
    "projections": frozenset({"domain"}),
    "streams": frozenset({"domain", "commands", "projections"}),
    "api": frozenset({"domain", "commands", "projections"}),
    "infra": frozenset(PACKAGES) - {"infra"},
}
INFRA_GATEWAYS = frozenset({"api.deps"})
"""Modules outside ``infra/`` that may import ``infra`` (``infra.bootstrap`` and ``infra.cli`` are inside)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules ``module`` imports (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
                continue
            base = module.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


def _edges() -> dict[str, set[str]]:
    """module -> top-level project packages it imports (other than its own)."""
    edges: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            tops = {name.split(".")[0] for name in _imported(tree, module, path.name == "__init__.py")}
            edges[module] = {top for top in tops if top in PACKAGES and top != package}
    return edges


EDGES = _edges()


def _violations(rule) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in EDGES.items() for target in targets
                  if rule(module, target))  # fmt: skip


def test_the_graph_was_read() -> None:
    assert {"domain.events", "api.deps", "infra.bootstrap", "streams.scheduler"} <= set(EDGES)
    assert "infra" in EDGES["api.deps"]  # the one sanctioned edge is seen, so the parser sees imports


def test_the_domain_imports_no_other_package() -> None:
    assert _violations(lambda module, target: module.split(".")[0] == "domain") == []


def test_only_the_api_dependency_module_imports_infra_from_outside() -> None:
    outside = lambda module, target: (  # noqa: E731
        target == "infra" and module.split(".")[0] != "infra" and module not in INFRA_GATEWAYS
    )
    assert _violations(outside) == []


def test_the_api_never_imports_streams() -> None:
    assert _violations(lambda module, target: module.split(".")[0] == "api" and target == "streams") == []


def test_every_import_follows_the_allowed_direction() -> None:
    def forbidden(module: str, target: str) -> bool:
        package = module.split(".")[0]
        return target not in ALLOWED[package] and not (target == "infra" and module in INFRA_GATEWAYS)

    assert _violations(forbidden) == []


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in EDGES.items():
        for target in targets:
            if target == "infra" and module in INFRA_GATEWAYS:
                continue  # the composition root's way in, see the module docstring
            graph[module.split(".")[0]].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path, or ``None`` (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def test_no_package_cycles() -> None:
    assert _cycle(_package_graph()) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"api": {"commands"}, "commands": {"api"}}) == ["api", "commands", "api"]
    assert _cycle({"api": {"commands"}, "commands": {"domain"}}) is None


MAX_MODULE_LINES = 400


def test_no_module_over_400_lines() -> None:
    """The design guide's module size, for the six packages (tests and benches excluded)."""
    too_long = sorted(
        f"{path.relative_to(ROOT)}: {n} lines"
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert too_long == []
