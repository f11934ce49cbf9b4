"""The import rules of docs/ARCHITECTURE.md: the hub core never reaches up; resolvers never import the schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"hub", "schema", "resolvers", "connectors"}
TOP_OF_HUB = {"hub/app.py", "hub/websocket.py", "hub/cli.py"}
"""The app (and its WebSocket half) and the command line: they wire the schema and resolvers together."""


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours that a module imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", modules("hub"), ids=relative)
def test_hub_core_imports_neither_schema_nor_resolvers(path: Path) -> None:
    """Only the top of the hub (app.py, websocket.py, cli.py) may reach up into schema/ and resolvers/."""
    if relative(path) in TOP_OF_HUB:
        return
    assert imported_packages(path) & {"schema", "resolvers"} == set()


@pytest.mark.parametrize("path", modules("resolvers"), ids=relative)
def test_resolvers_never_import_schema(path: Path) -> None:
    """Resolvers return records; the schema describes them, never the other way round."""
    assert "schema" not in imported_packages(path)


@pytest.mark.parametrize("path", modules("connectors"), ids=relative)
def test_connectors_import_nothing_of_ours_but_themselves(path: Path) -> None:
    """A connector knows neither GraphQL nor the hub's database."""
    assert imported_packages(path) <= {"connectors"}


def test_only_the_top_of_the_hub_imports_schema() -> None:
    """The rule has teeth: app.py and cli.py are the modules that do import the schema."""
    importers = {relative(path) for path in modules("hub") if "schema" in imported_packages(path)}
    assert importers <= TOP_OF_HUB
    assert "hub/app.py" in importers


def test_only_the_top_of_the_hub_wires_connectors() -> None:
    """The hub core (appraisal, operations, db, events, demo) never imports a connector; app.py, cli.py,
    systems.py and worker.py, which open them for a process, do."""
    importers = {relative(path) for path in modules("hub") if "connectors" in imported_packages(path)}
    assert importers == {"hub/app.py", "hub/cli.py", "hub/systems.py", "hub/worker.py"}


def test_the_access_policy_decides_from_vocabulary_alone() -> None:
    """hub/policy.py is asked by schema/ and resolvers/ and reads only principals, settings and domain enums:
    a rule that needed the database or the schema would be decided somewhere the policy's list does not show."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "hub/policy.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert {module for module in imported if module.split(".")[0] in OURS} == {"hub.auth", "hub.config", "hub.domain"}


ANY_BUDGET = 40
"""Issue 12's cap on ``Any`` in product code; each one left says why beside it (a library's own signature, an
untyped Core row, a JSON value checked by use)."""


def any_uses(source: str) -> int:
    """The ``Any`` (or ``typing.Any``) a module uses in annotations and expressions; its imports do not count."""
    nodes = ast.walk(ast.parse(source))
    return sum(
        1
        for node in nodes
        if (isinstance(node, ast.Name) and node.id == "Any") or (isinstance(node, ast.Attribute) and node.attr == "Any")
    )


def test_any_is_counted_in_annotations_and_expressions_but_not_imports() -> None:
    """The counter sees an alias, a parameter, a return, a subscript and ``typing.Any``, and no import."""
    source = (
        "import typing\nfrom typing import Any\n"
        "Loose = Any\ndef f(x: Any, *rest: list[Any]) -> typing.Any:\n    return x\n"
    )
    assert any_uses(source) == 4


def test_product_code_keeps_within_the_any_budget() -> None:
    """hub/ (but its migrations), schema/, resolvers/ and connectors/ use ``Any`` at most ANY_BUDGET times."""
    counted = {
        relative(path): any_uses(path.read_text(encoding="utf-8"))
        for package in sorted(OURS)
        for path in modules(package)
        if not relative(path).startswith("hub/db/migrations/versions/")
    }
    users = {path: uses for path, uses in counted.items() if uses}
    assert sum(users.values()) <= ANY_BUDGET, users
