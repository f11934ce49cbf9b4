"""The committed schema.graphql matches the code, and keeps the contract of the last release.

Consumers (the portals, the training and payroll modules, analysts' saved queries) are built against a
released schema. ``releases/schema/`` keeps the SDL of every release, named ``MAJOR.MINOR.PATCH.graphql``;
``LAST_RELEASE`` names the newest. Any difference between it and ``schema.graphql`` that graphql-core's
``find_breaking_changes`` calls breaking must be listed in ``ACKNOWLEDGED_BREAKS`` with its reason;
nothing else may break, and nothing may stay listed once it no longer breaks.

Cutting a release (0.2.0, say):

1. make sure ``schema.graphql`` is current (``perfhub export-schema schema.graphql``) and these tests pass;
2. copy it: ``cp schema.graphql releases/schema/0.2.0.graphql``, set ``LAST_RELEASE = "0.2.0"`` (and the
   version in pyproject.toml);
3. move every entry of ``ACKNOWLEDGED_BREAKS`` into the release's changelog entry, under what consumers
   must change, then empty the dict: against the new release nothing breaks yet.

Released files are never edited afterwards: they are what consumers already hold.
"""

from __future__ import annotations

import re
from pathlib import Path

from graphql import build_schema, find_breaking_changes

from schema import print_schema

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ROOT / "releases" / "schema"
LAST_RELEASE = "0.1.0"
"""The newest file in ``releases/schema/``: the contract consumers hold today."""

RELEASE_FILE = re.compile(r"(\d+)\.(\d+)\.(\d+)\.graphql")

# Breaking changes since LAST_RELEASE that are made on purpose. Key: the change's description exactly as
# graphql-core (3.3, which strawberry requires) words it; the failure message of the contract test
# prints the descriptions ready to paste. Value: why, in the words the changelog entry will use. E.g.
#     "Field Employee.name changed type from String! to String.": "0.2.0: name is null when ...",
# Emptied when a release is cut (see the module docstring).
DENIED_MEANS_NULL = (
    "0.2.0: every field a rule may deny, or a business system feed, is nullable, so that a denial nulls "
    "that field only (README, Changelog)"
)
_NULLABLE_NOW = (
    "Field Employee.employeeNo changed type from String! to String.",
    "Field Employee.name changed type from String! to String.",
    "Field Employee.ratingsReceived changed type from [ReceivedRating!]! to [ReceivedRating!].",
    "Field Mutation.cycleCloseCalibration changed type from CyclePayload! to CyclePayload.",
    "Field Mutation.cycleCollectMetrics changed type from CycleCollectPayload! to CycleCollectPayload.",
    "Field Mutation.cycleCreate changed type from CyclePayload! to CyclePayload.",
    "Field Mutation.cycleOpen changed type from CyclePayload! to CyclePayload.",
    "Field Mutation.cyclePublish changed type from CyclePayload! to CyclePayload.",
    "Field Mutation.cycleReopen changed type from CyclePayload! to CyclePayload.",
    "Field Mutation.cycleScore changed type from CycleScorePayload! to CycleScorePayload.",
    "Field Mutation.indicatorCreate changed type from IndicatorVersionPayload! to IndicatorVersionPayload.",
    "Field Mutation.indicatorVersionCreate changed type from IndicatorVersionPayload! to IndicatorVersionPayload.",
    "Field Mutation.metricValuesImport changed type from MetricValuesImportPayload! to MetricValuesImportPayload.",
    "Field Mutation.raterAssign changed type from RaterAssignPayload! to RaterAssignPayload.",
    "Field Mutation.ratingSubmit changed type from RatingSubmitPayload! to RatingSubmitPayload.",
    "Field Mutation.resultCalibrate changed type from ResultCalibratePayload! to ResultCalibratePayload.",
    "Field Mutation.schemeVersionPublish changed type from SchemeVersionPayload! to SchemeVersionPayload.",
    "Field Query.auditLog changed type from AuditEntryConnection! to AuditEntryConnection.",
    "Field Query.schemeDiagnostics changed type from [IndicatorDiagnostics!]! to [IndicatorDiagnostics!].",
    "Field Query.scoreStatistics changed type from [ScoreGroup!]! to [ScoreGroup!].",
)
ACKNOWLEDGED_BREAKS: dict[str, str] = {change: DENIED_MEANS_NULL for change in _NULLABLE_NOW}
ACKNOWLEDGED_BREAKS["Field ReceivedRating.submittedAt changed type from DateTime! to DateTime."] = (
    "0.2.0: an anonymous (peer, subordinate) rating carries no timestamp, which could tell who rated (issue 11)"
)
# Issue 11, pseudonymous analysts: a row's department and post single a person out when few share them.
SMALL_GROUPS_WITHHELD = (
    "0.2.0: an analyst without the names grant gets null (FORBIDDEN) for a department and post that fewer "
    "than the minimum group size share (README, Changelog)"
)
ACKNOWLEDGED_BREAKS.update(
    {
        "Field AppraisalResult.post changed type from Post! to Post.": SMALL_GROUPS_WITHHELD,
        "Field Employee.department changed type from Department! to Department.": SMALL_GROUPS_WITHHELD,
        "Field Employee.post changed type from Post! to Post.": SMALL_GROUPS_WITHHELD,
        # A result's scheme version and indicators name its post as surely as `post` does (insider review).
        "Field AppraisalResult.schemeVersion changed type from SchemeVersion! to SchemeVersion.": (
            SMALL_GROUPS_WITHHELD
        ),
        "Field AppraisalResult.indicatorScores changed type from [IndicatorScore!]! to [IndicatorScore!].": (
            SMALL_GROUPS_WITHHELD
        ),
    }
)


def release_version(name: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a file name such as ``0.1.0.graphql``."""
    match = RELEASE_FILE.fullmatch(name)
    assert match is not None, f"releases/schema/{name}: release files are named MAJOR.MINOR.PATCH.graphql"
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def test_committed_schema_matches_the_code() -> None:
    """schema.graphql is regenerated with `perfhub export-schema schema.graphql` whenever types change."""
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == print_schema(), "schema.graphql is stale: run `perfhub export-schema schema.graphql`"


def test_last_release_is_the_newest_released_schema() -> None:
    """LAST_RELEASE names the highest version in releases/schema/, so the contract test checks the last release."""
    names = sorted(path.name for path in RELEASES.iterdir())
    newest = max(names, key=release_version)
    assert newest == f"{LAST_RELEASE}.graphql", (
        f"releases/schema/ holds {newest}: set LAST_RELEASE to its version (and cut the release as the docstring says)"
    )


def test_schema_keeps_the_last_release_except_acknowledged_breaks() -> None:
    """Each break of the last release is acknowledged with a reason; each acknowledged one still breaks."""
    assert all(reason.strip() for reason in ACKNOWLEDGED_BREAKS.values()), "each acknowledged break needs its reason"
    released = build_schema((RELEASES / f"{LAST_RELEASE}.graphql").read_text(encoding="utf-8"))
    current = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    breaking = {change.description for change in find_breaking_changes(released, current)}
    unlisted = sorted(breaking - ACKNOWLEDGED_BREAKS.keys())
    assert unlisted == [], (
        f"schema.graphql breaks release {LAST_RELEASE}; undo these changes or add each to ACKNOWLEDGED_BREAKS "
        "with its reason:\n" + "\n".join(f"    {description!r}: ...," for description in unlisted)
    )
    no_longer = sorted(ACKNOWLEDGED_BREAKS.keys() - breaking)
    assert no_longer == [], f"these no longer break release {LAST_RELEASE}: remove them from ACKNOWLEDGED_BREAKS"
