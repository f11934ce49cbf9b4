"""How complete a cycle's scoring inputs are: the share of each scheme's weight that had a value.

A result whose scheme weighs people-rated indicators but that had no rating at all is scored on its measured
part alone, re-weighted to 100: a number that looks like any other but leaves out what people said. Scoring
reports the coverage per post and refuses such results unless HR allows them with a reason
(``hub.operations.scoring``). Pure: it reads the engine's output and the compiled schemes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hub.appraisal import EmployeeScore


@dataclass(frozen=True, slots=True)
class Completeness:
    """One result's inputs: the share of its scheme's weight that had a value, and which part went without."""

    percent: float
    """Weight of the indicators that had a value, in percent of the scheme's weight (0-100)."""
    without_ratings: bool
    """The scheme weighs people-rated indicators and none of them had a rating."""
    without_measures: bool
    """The scheme weighs measured indicators and none of them had a value."""


@dataclass(frozen=True, slots=True)
class PostCoverage:
    """The completeness of one post's results in a scoring run."""

    post_id: int
    results: int
    without_ratings: int
    """Results that had no rating although their scheme weighs people-rated indicators."""
    without_measures: int
    """Results that had no measured value although their scheme weighs measured indicators."""
    completeness: float
    """The mean share of the scheme's weight that had a value, in percent."""


def completeness(score: EmployeeScore, weights: Sequence[float], people_rated: Collection[int]) -> Completeness:
    """The completeness of one scored result (``weights`` line up with the score's indicator versions)."""
    had = rated = measured = 0.0
    rated_weight = measured_weight = 0.0
    for version_id, raw, weight in zip(score.indicator_version_ids, score.raws, weights, strict=True):
        present = raw is not None
        had += weight if present else 0.0
        if version_id in people_rated:
            rated_weight += weight
            rated += weight if present else 0.0
        else:
            measured_weight += weight
            measured += weight if present else 0.0
    total = rated_weight + measured_weight
    return Completeness(
        percent=100.0 * had / total if total else 0.0,
        without_ratings=rated_weight > 0 and rated == 0,
        without_measures=measured_weight > 0 and measured == 0,
    )


def by_post(results: Iterable[tuple[int, Completeness]]) -> list[PostCoverage]:
    """Per post (``(post id, completeness)`` per result), in post id order."""
    grouped: defaultdict[int, list[Completeness]] = defaultdict(list)
    for post_id, result in results:
        grouped[post_id].append(result)
    return [
        PostCoverage(
            post_id=post_id,
            results=len(found),
            without_ratings=sum(result.without_ratings for result in found),
            without_measures=sum(result.without_measures for result in found),
            completeness=sum(result.percent for result in found) / len(found),
        )
        for post_id, found in sorted(grouped.items())
    ]


def refusal_message(coverage: Sequence[PostCoverage], post_names: Mapping[int, str]) -> str:
    """Why scoring was refused: how many results of which posts would have no rating."""
    lacking = [post for post in coverage if post.without_ratings]
    parts = ", ".join(
        f"{post.without_ratings} of {post.results} in {post_names.get(post.post_id, post.post_id)}" for post in lacking
    )
    count = sum(post.without_ratings for post in lacking)
    return (
        f"{count} result(s) would have no rating at all ({parts}): their people-rated part would be left out and "
        "the rest re-weighted to 100; collect the missing ratings, or score with allowIncomplete and a reason"
    )
