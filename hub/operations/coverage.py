"""How complete a cycle's scoring inputs are: the share of each scheme's weight that had a value.

A result whose scheme weighs people-rated indicators but that had no rating at all is scored on its measured
part alone, re-weighted to 100: a number that looks like any other but leaves out what people said. Scoring
reports the coverage per post and refuses such results unless HR allows them with a reason
(``hub.operations.scoring``). Pure: it reads the engine's output and the compiled schemes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Completeness:
    """One result's inputs: the share of its scheme's weight that had a value, and which part went without."""

    percent: float
    """Weight of the inputs that were there, in percent of the scheme's weight (0-100); a people-rated indicator
    counts in proportion to the rater weight of the roles that rated it."""
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
    """The mean share of the scheme's weight that had a value, in percent (0 for a post without results)."""
    blocked: int = 0
    """Participants of the post who could not be scored at all (every input missing, or a value rejected)."""


@dataclass(frozen=True, slots=True)
class IncompleteResult:
    """A result that lacks a whole part of its scheme: every rating, or every measured value."""

    employee_id: int
    without_ratings: bool
    without_measures: bool


@dataclass(frozen=True, slots=True)
class ItemInput:
    """One scheme item of a result, as completeness counts it."""

    weight: float
    people_rated: bool
    share: float
    """How much of the item's input was there, 0-1: a measured value is there or not; a people-rated item counts
    the rater weight of the roles that rated (a self-rating alone is a tenth where self weighs 10 of 100)."""


def rated_share(roles_rated: Iterable[str], role_weights: Mapping[str, float]) -> float:
    """The share of the rater weight held by the roles that rated (role names as stored: ``RaterRole`` values)."""
    total = sum(role_weights.values())
    if total <= 0:
        return 1.0 if any(True for _ in roles_rated) else 0.0
    return sum(role_weights.get(role, 0.0) for role in set(roles_rated)) / total


def completeness(items: Iterable[ItemInput]) -> Completeness:
    """The completeness of one scored result from its items."""
    had = rated = measured = 0.0
    rated_weight = measured_weight = 0.0
    for item in items:
        present = item.weight * item.share
        had += present
        if item.people_rated:
            rated_weight += item.weight
            rated += present
        else:
            measured_weight += item.weight
            measured += present
    total = rated_weight + measured_weight
    return Completeness(
        percent=100.0 * had / total if total else 0.0,
        without_ratings=rated_weight > 0 and rated == 0,
        without_measures=measured_weight > 0 and measured == 0,
    )


def by_post(results: Iterable[tuple[int, Completeness]], blocked: Iterable[int] = ()) -> list[PostCoverage]:
    """Per post (``(post id, completeness)`` per result, and the post of each participant who could not be scored
    at all), in post id order: a post whose people were all blocked is listed too, with no result."""
    grouped: defaultdict[int, list[Completeness]] = defaultdict(list)
    for post_id, result in results:
        grouped[post_id].append(result)
    unscored: defaultdict[int, int] = defaultdict(int)
    for post_id in blocked:
        unscored[post_id] += 1
    return [
        PostCoverage(
            post_id=post_id,
            results=len(found),
            without_ratings=sum(result.without_ratings for result in found),
            without_measures=sum(result.without_measures for result in found),
            completeness=sum(result.percent for result in found) / len(found) if found else 0.0,
            blocked=unscored[post_id],
        )
        for post_id, found in sorted({**{post: [] for post in unscored}, **grouped}.items())
    ]


def refusal_message(
    coverage: Sequence[PostCoverage],
    post_names: Mapping[int, str],
    unrated: Sequence[str],
    blocked: Sequence[tuple[str, str]],
    blocked_count: int,
) -> str:
    """Why scoring was refused: who would have no rating at all (counts per post, the first few by number), who
    could not be scored at all (the first few, with why), and every post's coverage figures."""
    parts = []
    lacking = [post for post in coverage if post.without_ratings]
    if lacking:
        per_post = ", ".join(
            f"{post.without_ratings} of {post.results} in {post_names.get(post.post_id, post.post_id)}"
            for post in lacking
        )
        count = sum(post.without_ratings for post in lacking)
        parts.append(
            f"{count} result(s) would have no rating at all ({per_post}; {_first(unrated, count)}): their "
            "people-rated part would be left out and the rest re-weighted to 100"
        )
    if blocked:
        reasons = "; ".join(f"{number}: {why}" for number, why in blocked)
        more = f" and {blocked_count - len(blocked)} more" if blocked_count > len(blocked) else ""
        parts.append(f"{blocked_count} participant(s) could not be scored at all ({reasons}{more})")
    figures = "; ".join(
        f"{post_names.get(post.post_id, post.post_id)}: {post.results} result(s), {post.completeness:.2f}% complete, "
        f"{post.without_ratings} without ratings, {post.without_measures} without measured values, "
        f"{post.blocked} blocked"
        for post in coverage
    )
    return (
        "; ".join(parts)
        + f". Coverage: {figures}. Collect the missing inputs, or score with allowIncomplete and a reason"
    )


def _first(numbers: Sequence[str], count: int) -> str:
    more = f" and {count - len(numbers)} more" if count > len(numbers) else ""
    return ", ".join(numbers) + more
