"""The layering rule, read from the source: the core imports no domain, and domains import only the
core and the domains below them, so no two packages import each other.

    assembly   expo.app, expo.cli, expo.demo, expo.asgi: wire everything together; expo.migrations,
               the history of the whole store's schema, every domain's tables included
    domains    booths < streaming < expo.meetings, expo.registration, expo.agenda, expo.signing
               < expo.promotion (a project is signed in a signing ceremony)
               < expo.dashboards
    core       the rest of expo/ (platform, db, bus, realtime, expos and permissions, mail, ...), web/

Every import counts, whether at the top of a module, inside a function or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("expo", "booths", "streaming", "web")
ASSEMBLY = ("expo.app", "expo.asgi", "expo.cli", "expo.demo", "expo.__main__", "expo.migrations")
# Lowest first: a domain may import the domains before it (their models and services), never after.
DOMAINS = (
    "booths",
    "streaming",
    "expo.meetings",
    "expo.registration",
    "expo.agenda",
    "expo.signing",
    "expo.promotion",
    "expo.dashboards",
)
LEVEL = {domain: level for level, domain in enumerate(DOMAINS)}
# Domains on one level know nothing of each other.
LEVEL.update(
    {"expo.registration": 2, "expo.agenda": 2, "expo.signing": 2, "expo.promotion": 3, "expo.dashboards": 4}
)


def unit_of(module: str) -> str | None:
    """The layer unit ``module`` belongs to: "assembly", a domain, "core", or None outside."""
    if any(module == a or module.startswith(a + ".") for a in ASSEMBLY):
        return "assembly"
    for domain in DOMAINS:
        if module == domain or module.startswith(domain + "."):
            return domain
    if module.split(".")[0] in ("expo", "web"):
        return "core"
    return None


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> the module imports that make that edge."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            source = unit_of(module)
            assert source is not None
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                elif isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                else:
                    continue
                # "from expo import events" names a module: the most specific target decides.
                found = [u for u in map(unit_of, targets) if u is not None]
                target = next((u for u in reversed(found) if u != "core"), found[0] if found else None)
                if target is not None and target != source:
                    edges[(source, target)].append(f"{module}: {', '.join(targets[1:] or targets)}")
    return edges


def test_the_core_imports_no_domain_and_nothing_imports_the_assembly() -> None:
    edges = imports()
    wrong = {
        edge: found
        for edge, found in edges.items()
        if (edge[0] == "core" and edge[1] != "core") or (edge[1] == "assembly" and edge[0] != "assembly")
    }
    assert wrong == {}


def test_domains_import_only_the_core_and_lower_domains() -> None:
    edges = imports()
    wrong = {
        edge: found
        for edge, found in edges.items()
        if edge[0] in LEVEL and edge[1] in LEVEL and LEVEL[edge[1]] >= LEVEL[edge[0]]
    }
    assert wrong == {}


def test_no_import_cycle_between_packages_or_domains() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in imports():
        graph[source].add(target)
    seen: set[str] = set()
    path: list[str] = []

    def visit(unit: str) -> None:
        if unit in path:
            cycle = [*path[path.index(unit) :], unit]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if unit in seen:
            return
        path.append(unit)
        for target in sorted(graph[unit]):
            visit(target)
        path.pop()
        seen.add(unit)

    for unit in sorted(graph):
        visit(unit)


def test_the_rule_sees_a_violation() -> None:
    """The checks are not vacuous: the real tree has edges of every allowed kind."""
    edges = imports()
    assert ("booths", "core") in edges and ("streaming", "booths") in edges
    assert ("assembly", "streaming") in edges and ("expo.dashboards", "streaming") in edges
