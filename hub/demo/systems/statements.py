"""What the demo training system (an xAPI LRS) stores: every learner's statements, derived on demand.

Statements are a pure function of (seed, employee number, today): 0-6 completed courses over the two
years before ``today``, sometimes an attempted one, and for the first employee one completed statement
that a voiding statement withdraws, as the spec says an LRS must keep them apart. An :class:`Entry` is
what the LRS orders and filters by; :func:`render` makes the statement itself when it is served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import NamedTuple, NotRequired, TypedDict

from hub.demo.values import latent_performance

HOME_PAGE = "https://hr.perfhub.example"
"""The account homePage of every learner: agents are ``{"account": {"homePage": HOME_PAGE, "name": number}}``."""
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ACTIVITIES = "https://training.perfhub.example/courses/"
VERSION = "1.0.3"
CHINA = dt.timezone(dt.timedelta(hours=8))
AUTHORITY: dict[str, object] = {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": "lrs-admin"}}


class Verb(TypedDict):
    id: str
    display: dict[str, str]


class Target(TypedDict):
    """What a statement is about: a course (an Activity) or, for a voiding statement, a StatementRef."""

    objectType: str
    id: str
    definition: NotRequired[dict[str, object]]


class Statement(TypedDict):
    """An xAPI statement as this LRS stores and serves it (the parts the connector and tests read are typed)."""

    id: str
    actor: dict[str, object]
    verb: Verb
    object: Target
    result: NotRequired[dict[str, object]]
    timestamp: str
    stored: str
    authority: dict[str, object]
    version: str


@dataclass(frozen=True, slots=True)
class Course:
    code: str
    name: str
    name_zh: str
    hours: float  # the nominal length; a learner's recorded time scatters around it


COURSES = (
    Course("integrity", "Integrity and Discipline for Public Servants", "廉洁自律与纪律规矩", 4.0),
    Course("documents", "Official Document Handling", "公文处理规范", 6.0),
    Course("reimbursement", "Financial Reimbursement Rules", "财务报销制度", 3.0),
    Course("fire-safety", "Fire Safety and Emergency Drills", "消防安全与应急演练", 2.5),
    Course("data-security", "Data Security and Confidentiality", "数据安全与保密", 3.0),
    Course("service", "Front-Desk Service Etiquette", "窗口服务礼仪", 2.0),
    Course("procurement", "Government Procurement Procedures", "政府采购流程", 5.0),
    Course("leadership", "Team Leadership Fundamentals", "团队管理基础", 8.0),
    Course("writing", "Report and Briefing Writing", "公文写作", 6.0),
    Course("office-software", "Office Software Skills", "办公软件应用", 4.5),
)


def _unit(*parts: object) -> float:
    # A uniform draw in (0, 1) from a hash of its arguments: a statement never depends on which
    # employees were generated before it.
    drawn = int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")
    return (drawn + 0.5) / 2.0**64


def stable_uuid(*parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def agent(number: str) -> dict[str, object]:
    return {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": number}}


def _course(seed: int, number: str, index: int) -> int:
    return int(_unit(seed, number, index, "course") * len(COURSES))


def _moments(seed: int, number: str, index: int, today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """When a statement's learning happened (China time) and when the LRS stored it (UTC)."""
    day = today - dt.timedelta(days=1 + int(_unit(seed, number, index, "day") * 729))
    minute = int(_unit(seed, number, index, "minute") * 8 * 60)
    timestamp = dt.datetime.combine(day, dt.time(9), CHINA) + dt.timedelta(minutes=minute)
    stored = timestamp + dt.timedelta(minutes=1 + int(_unit(seed, number, index, "lag") * 120))
    return timestamp, stored.astimezone(dt.UTC)


def _statement(seed: int, number: str, index: int, verb: str, today: dt.date) -> Statement:
    course = COURSES[_course(seed, number, index)]
    timestamp, stored = _moments(seed, number, index, today)
    minutes = max(15, round(course.hours * 60 * (0.8 + 0.4 * _unit(seed, number, index, "time")) / 5) * 5)
    # Stronger performers tend to score higher: the same latent trait the appraisal data reflects.
    scaled = 0.55 + 0.3 * latent_performance(seed, number) + 0.15 * _unit(seed, number, index, "score")
    completed = verb == COMPLETED
    return {
        "id": stable_uuid(seed, number, index, verb),
        "actor": agent(number),
        "verb": {"id": verb, "display": {"en-US": "completed" if completed else "attempted"}},
        "object": {
            "objectType": "Activity",
            "id": ACTIVITIES + course.code,
            "definition": {
                "name": {"zh-CN": course.name_zh, "en-US": course.name},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "result": {
            "completion": completed,
            "duration": f"PT{minutes // 60}H{minutes % 60}M",
            **({"score": {"scaled": round(min(scaled, 1.0), 2)}, "success": scaled >= 0.6} if completed else {}),
        },
        "timestamp": iso(timestamp),
        "stored": iso(stored),
        "authority": AUTHORITY,
        "version": VERSION,
    }


VOIDED_LEARNER = "E000001"
"""The one learner with a completion entered by mistake and withdrawn: the LRS hides the mistaken
statement (ordinal ``MISTAKEN``) but answers the voiding statement, as the spec says it must."""
MISTAKEN = 99
VOIDING = -1  # the ordinal that stands for the voiding statement


def _voiding(seed: int, today: dt.date) -> Statement:
    mistaken_id = stable_uuid(seed, VOIDED_LEARNER, MISTAKEN, COMPLETED)
    stored = iso(_moments(seed, VOIDED_LEARNER, MISTAKEN, today)[1] + dt.timedelta(days=1))
    return {
        "id": stable_uuid(seed, VOIDED_LEARNER, "voiding"),
        "actor": AUTHORITY,
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": mistaken_id},
        "timestamp": stored,
        "stored": stored,
        "authority": AUTHORITY,
        "version": VERSION,
    }


class Entry(NamedTuple):
    """One statement the LRS answers, as it orders and filters them; rendered only when served.

    Tens of bytes instead of a statement's kilobytes: an organisation of 100,000 learners stores
    about 330,000 statements, far too many to keep as JSON objects.
    """

    stored: dt.datetime
    number: str
    ordinal: int  # which of the learner's statements; VOIDING for the voiding statement
    verb: str
    course: int  # index into COURSES; the mistaken statement's course for the voiding one


def entries_for(seed: int, number: str, today: dt.date) -> list[Entry]:
    """The statements about one employee that the LRS answers: the voided one left out."""
    completed = int(_unit(seed, number, "completed") * 7)
    verbs = [COMPLETED] * completed + ([ATTEMPTED] if _unit(seed, number, "attempted") < 0.3 else [])
    entries = [
        Entry(_moments(seed, number, index, today)[1], number, index, verb, _course(seed, number, index))
        for index, verb in enumerate(verbs)
    ]
    if number == VOIDED_LEARNER:
        stored = _moments(seed, number, MISTAKEN, today)[1] + dt.timedelta(days=1)
        entries.append(Entry(stored, number, VOIDING, VOIDED, _course(seed, number, MISTAKEN)))
    return entries


def render(seed: int, entry: Entry, today: dt.date) -> Statement:
    """The statement an entry stands for."""
    if entry.ordinal == VOIDING:
        return _voiding(seed, today)
    return _statement(seed, entry.number, entry.ordinal, entry.verb, today)


def statements_for(seed: int, number: str, today: dt.date) -> list[Statement]:
    """Every statement the LRS stores about one employee, voided and voiding ones included."""
    statements = [render(seed, entry, today) for entry in entries_for(seed, number, today) if entry.ordinal != VOIDING]
    if number == VOIDED_LEARNER:
        statements += [_statement(seed, number, MISTAKEN, COMPLETED, today), _voiding(seed, today)]
    return statements
