"""What a declaration derives, seen in the SDL of a schema made of one probe mutation of each style."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import strawberry

from hub.operations.commands import Caller, IdOf, described
from resolvers.context import Context
from schema.errors import payload
from schema.mutations.declare import Declared, mutation
from schema.permissions import HR_ONLY


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeLine:
    cycle_id: Annotated[int, IdOf("cycle")]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeInput:
    cycle_id: Annotated[int, IdOf("cycle")]
    label: str = described("What the probe is called.", default="probe")
    lines: tuple[ProbeLine, ...] = ()


@strawberry.type
class ProbeDone:
    label: str


ProbePayload = payload("ProbePayload", ProbeDone)


@mutation(HR_ONLY, ProbePayload)
async def probe_input(context: Context, command: ProbeInput, caller: Caller) -> ProbeDone:
    """Takes one input object."""
    return ProbeDone(label=command.label)


@mutation(HR_ONLY, ProbePayload, arguments=True)
async def probe_arguments(context: Context, command: ProbeInput, caller: Caller) -> ProbeDone:
    """Takes the command's fields as arguments."""
    return ProbeDone(label=command.label)


def _printed(*declared: Declared) -> str:
    @strawberry.type
    class Query:
        ok: bool = True

    fields = {each.python_name: each.field for each in declared}
    return str(strawberry.Schema(query=Query, mutation=strawberry.type(type("Mutation", (), fields))))


def test_an_input_object_is_derived_from_the_command() -> None:
    printed = _printed(probe_input)
    assert "probeInput(input: ProbeInput!): ProbePayload" in printed
    assert '"""What the probe is called."""\n  label: String! = "probe"' in printed
    assert "lines: [ProbeLine!]! = []" in printed
    assert "input ProbeLine {\n  cycleId: ID!\n}" in printed
    assert "Takes one input object. Access: hr_admin only; audited." in printed


def test_arguments_keep_their_descriptions_and_defaults() -> None:
    printed = _printed(probe_arguments)
    assert '"""What the probe is called."""\n    label: String! = "probe"' in printed
    assert "lines: [ProbeLineInput!]! = []" not in printed
    assert "lines: [ProbeLine!]! = []" in printed
    assert "cycleId: ID!" in printed
