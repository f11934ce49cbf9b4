"""The mutation errors a client can switch on are derived from the error classes, and stay complete.

A new error class without a code of its own, or of a kind no payload error type answers, would reach a
client as a masked internal error or with its parent's code; these tests fail first.
"""

from __future__ import annotations

import importlib
import pkgutil

import hub
from hub.appraisal.errors import AppraisalError
from hub.domain import ErrorKind
from hub.operations.errors import InvalidInput, NotAllowed, OperationError
from schema import build_schema
from schema.errors import ERROR_TYPES, ErrorCode, coded, error_classes
from tests.conftest import make_settings

CATEGORIES = {NotAllowed}
"""Classes that only group others: they are never raised, so they need no code of their own."""


def _import_every_hub_module() -> None:
    """An error class defined anywhere in the hub must be seen, not only those of the two error modules."""
    for module in pkgutil.walk_packages(hub.__path__, "hub."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)


def uncovered(classes: list[type[OperationError | AppraisalError]]) -> list[str]:
    """What keeps the error classes from reaching a client typed: a class without a code of its own, a
    code missing from ErrorCode, a kind without a payload error type."""
    codes = {member.value for member in ErrorCode}
    problems = []
    for error_class in classes:
        if error_class in CATEGORIES:
            continue
        if not coded(error_class):
            problems.append(f"{error_class.__name__} has no code of its own")
        elif error_class.code not in codes:
            problems.append(f"{error_class.__name__}'s code {error_class.code} is not in ErrorCode")
        if error_class.kind not in ERROR_TYPES:
            problems.append(f"{error_class.__name__}'s kind {error_class.kind} has no payload error type")
    return problems


def test_every_error_class_has_its_code_in_the_schema() -> None:
    _import_every_hub_module()
    # Only the hub's own (a class a test made to see the check fail may still be alive).
    classes = [error_class for error_class in error_classes() if error_class.__module__.startswith("hub.")]
    assert len(classes) >= 16
    assert uncovered(classes) == []


def test_a_class_without_a_code_of_its_own_is_caught() -> None:
    """The check can fail: a subclass that forgot its code (it would answer its parent's) is reported."""

    class Forgotten(InvalidInput):
        pass

    assert uncovered([Forgotten]) == ["Forgotten has no code of its own"]


def test_every_kind_has_its_error_type_in_the_printed_schema() -> None:
    printed = build_schema(make_settings()).as_str()
    for kind in ErrorKind:
        name = ERROR_TYPES[kind].__strawberry_definition__.name  # type: ignore[attr-defined]
        assert f"type {name} implements MutationError" in printed
    assert "enum ErrorCode {" in printed
