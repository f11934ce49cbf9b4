"""Anonymous raters in a crowd: which of a ratee's ratings a reader other than HR may see.

Peer and subordinate raters are anonymous (``hub.policy.ANONYMOUS_RATER_ROLES``), but anonymity
hides nobody when the role has one or two raters: a manager with one direct report knows who wrote
every SUBORDINATE rating. So the ratings of an anonymous role reach the ratee and their managers only
when at least ``PERFHUB_MIN_ANONYMOUS_RATERS`` distinct raters of that role rated the ratee in the
cycle; below that the role is withheld and only its number of raters is told. While the cycle is OPEN
every anonymous role is withheld, listed whether rated yet or not and without a count: a list, a role or a
count read before and after one more rating arrived would single out that rating, and with it whoever the
reader knows rated last. Scoring is not affected: the engine uses
every rating. The rule is the access policy's (``hub.policy.anonymous_role_released``); this module
applies it to a ratee's ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.config import Settings
from hub.domain import RaterRole
from hub.policy import ANONYMOUS_RATER_ROLES, anonymous_role_released
from resolvers.records import RatingRow


@dataclass(frozen=True, slots=True)
class WithheldRole:
    """An anonymous rater role whose ratings are left out, and why."""

    role: RaterRole
    raters: int | None
    """None while the cycle is open: a count that grows as ratings arrive times each of them."""
    minimum_raters: int
    cycle_open: bool = False

    @property
    def reason(self) -> str:
        if self.raters is not None and self.raters < self.minimum_raters:
            return (
                f"{self.role.value} ratings come from fewer than {self.minimum_raters} distinct raters "
                f"({self.raters}): shown, they would identify the rater"
            )
        return (
            f"{self.role.value} ratings are shown once the cycle stops taking ratings: read as they arrive, "
            "each new one would identify its rater"
        )


def withheld_roles(ratings: Sequence[RatingRow], settings: Settings, *, cycle_open: bool) -> list[WithheldRole]:
    """The anonymous roles of a ratee's ratings (one ratee, one cycle) that are withheld: while the cycle is
    open, every anonymous role, rated yet or not, with no count (a role that appears, or a count that grows,
    when a rating arrives would time it); else those that fewer than the minimum rated."""
    minimum_raters = settings.min_anonymous_raters
    if cycle_open:
        return [WithheldRole(role, None, minimum_raters, True) for role in sorted(ANONYMOUS_RATER_ROLES)]
    raters: dict[RaterRole, set[int]] = {}
    for rating in ratings:
        if rating.role in ANONYMOUS_RATER_ROLES:
            raters.setdefault(rating.role, set()).add(rating.rater_id)
    return [
        WithheldRole(role, len(raters[role]), minimum_raters)
        for role in sorted(raters)
        if not anonymous_role_released(len(raters[role]), settings, cycle_open=False)
    ]


def without_withheld(ratings: Sequence[RatingRow], withheld: Sequence[WithheldRole]) -> list[RatingRow]:
    hidden = {w.role for w in withheld}
    return [rating for rating in ratings if rating.role not in hidden]
