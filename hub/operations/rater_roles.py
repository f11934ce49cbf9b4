"""Which rater roles count for a ratee: those their scheme in the cycle gives weight.

Scoring averages each role's ratings and weighs the roles by the scheme version's rater weights; a role the
scheme leaves out (or weighs 0) counts for nothing. So a rater is assigned only in a role the ratee's scheme
weighs (``raterAssign``, ``raterAssignMany``, a peer nomination and its approval): anything else would ask
people for ratings that scoring then silently ignores (:class:`~hub.operations.errors.RoleNotWeighed`); and
only for a ratee who takes part in the cycle (:class:`~hub.operations.errors.NotAParticipant`): a post without a
scheme in it, a leaver of the cycle or of the organisation has nothing they could be rated on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Cycle, CycleLeaver, CycleScheme, Employee, SchemeRaterWeight
from hub.domain import CycleState, RaterRole
from hub.operations.errors import NotAParticipant, RoleNotWeighed
from hub.operations.participation import employed_on, schemes_in_force


async def roles_weighed(
    session: AsyncSession, cycle: Cycle, post_of: Mapping[int, int]
) -> dict[int, frozenset[RaterRole]]:
    """The rater roles (weight above 0) of each ratee's scheme in the cycle, by ratee id; ``post_of`` gives
    each ratee's post (``ratings.posts_on`` the period's last day).

    The scheme is the version the cycle pinned for the post or, while the cycle is DRAFT and pins nothing yet,
    the one in force on the period's first day, which opening will pin. A ratee whose post has no such scheme
    is left out, and so is one who takes no part in the cycle (gone before the period's last day, or taken out
    by ``cycleLeave``): :func:`weight_error` refuses them. Three statements, however many ratees.
    """
    outside = select(Employee.id).where(
        Employee.id.in_(set(post_of)),
        or_(
            ~employed_on(cycle.period_end),
            Employee.id.in_(select(CycleLeaver.employee_id).where(CycleLeaver.cycle_id == cycle.id)),
        ),
    )
    left = set(await session.scalars(outside))
    post_of = {ratee: post for ratee, post in post_of.items() if ratee not in left}
    posts = set(post_of.values())
    if cycle.state is CycleState.DRAFT:
        scheme_of = dict(await schemes_in_force(session, cycle.period_start, posts))
    else:
        pinned = select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(
            CycleScheme.cycle_id == cycle.id, CycleScheme.post_id.in_(posts)
        )
        scheme_of = dict((await session.execute(pinned)).all())
    weighing = select(SchemeRaterWeight.scheme_version_id, SchemeRaterWeight.role).where(
        SchemeRaterWeight.scheme_version_id.in_(set(scheme_of.values())), SchemeRaterWeight.weight > 0
    )
    roles: defaultdict[int, set[RaterRole]] = defaultdict(set)
    for scheme_id, role in await session.execute(weighing):
        roles[scheme_id].add(role)
    return {ratee: frozenset(roles[scheme_of[post]]) for ratee, post in post_of.items() if post in scheme_of}


def weight_error(
    role: RaterRole,
    ratee_id: int,
    ratee_no: str,
    weighed: Mapping[int, frozenset[RaterRole]],
    *,
    field: str = "role",
    outsider_field: str = "rateeId",
) -> RoleNotWeighed | NotAParticipant | None:
    """``RoleNotWeighed`` when the ratee's scheme (:func:`roles_weighed`) gives the role no weight;
    ``NotAParticipant`` when the ratee has no scheme there (takes no part in the cycle)."""
    roles = weighed.get(ratee_id)
    if roles is None:
        return NotAParticipant(ratee_no, field=outsider_field)
    if role in roles:
        return None
    return RoleNotWeighed(role, ratee_no, roles, field=field)
