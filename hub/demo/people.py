"""The demo's people: employees spread over the posts under a management line, and their 360 raters.

Pure functions of a ``random.Random``: the seed calls them in a fixed order, so the same seed draws
the same organisation and the same rater assignments.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from hub.demo.catalogue import DEPARTMENT_HEAD_POST_CODE, POSTS
from hub.domain import RaterRole

TEAM_SIZE = 8
# Three of each, as anonymous ratings are shown only from PERFHUB_MIN_ANONYMOUS_RATERS (default 3) raters of a
# role: a ratee with fewer direct reports sees their SUBORDINATE ratings withheld, as the rule wants.
PEER_RATERS = 3
SUBORDINATE_RATERS = 3
EARLIER_POST_SHARE = 0.10
ROOT, SECTION_HEAD, TEAM_LEAD, STAFF = range(4)
# Days of service before the past cycle, by level: heads have been around longer than their staff.
SERVICE_DAYS = {ROOT: (3650, 9000), SECTION_HEAD: (1825, 7300), TEAM_LEAD: (730, 5000), STAFF: (120, 3650)}

Relation = tuple[int, int, RaterRole]  # (ratee, rater, role), by employee index
_DAY = dt.timedelta(days=1)


@dataclass(slots=True)
class People:
    """The generated organisation, by employee index (0 is the department's head)."""

    post: list[int]  # index into POSTS
    level: list[int]
    manager: list[int | None]
    hired_on: list[dt.date]
    history: list[tuple[int, int, dt.date, dt.date | None]]  # (employee, post, start, end)


def _headcounts(total: int) -> list[int]:
    # One per post, the rest shared by headcount_share with the largest remainders rounding up.
    rest, shares = total - len(POSTS), [p.headcount_share for p in POSTS]
    exact = [rest * s / sum(shares) for s in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(POSTS)), key=lambda i: (counts[i] - exact[i], i))[: rest - sum(counts)]:
        counts[i] += 1
    return [c + 1 for c in counts]


def build_people(rng: random.Random, count: int, before: dt.date) -> People:
    """Spread ``count`` employees over the posts, with a management line, hire dates and post history."""
    post = [p for p, n in enumerate(_headcounts(count - 1)) for _ in range(n)]
    rng.shuffle(post)
    post.insert(0, [p.code for p in POSTS].index(DEPARTMENT_HEAD_POST_CODE))
    level, manager = [STAFF] * count, [None if i == 0 else 0 for i in range(count)]
    level[0] = ROOT
    heads: dict[str, int] = {}  # section -> its head: the section's first employee
    members: list[list[int]] = [[] for _ in POSTS]
    for i in range(1, count):
        if heads.setdefault(POSTS[post[i]].department_code, i) != i:
            members[post[i]].append(i)
    for head in heads.values():
        level[head] = SECTION_HEAD
    for p, staff in enumerate(members):
        for first in range(0, len(staff), TEAM_SIZE):
            lead, *team = staff[first : first + TEAM_SIZE]
            level[lead], manager[lead] = TEAM_LEAD, heads[POSTS[p].department_code]
            for i in team:
                manager[i] = lead
    hired_on = [before - dt.timedelta(days=rng.randrange(*SERVICE_DAYS[level[i]])) for i in range(count)]
    siblings = [[q for q, o in enumerate(POSTS) if o.family == p.family and o != p] for p in POSTS]
    history: list[tuple[int, int, dt.date, dt.date | None]] = []
    for i in range(count):
        start, tenure = hired_on[i], (before - hired_on[i]).days
        # Some moved within their family before the past cycle, e.g. cashier -> accountant.
        if rng.random() < EARLIER_POST_SHARE and tenure >= 180:
            moved = start + dt.timedelta(days=rng.randrange(90, tenure - 30))
            history.append((i, rng.choice(siblings[post[i]]), start, moved - _DAY))
            start = moved
        history.append((i, post[i], start, None))
    return People(post, level, manager, hired_on, history)


def _pick(rng: random.Random, pool: list[int], k: int, excluded: set[int]) -> list[int]:
    if len(pool) <= 4 * k + len(excluded):
        options = [c for c in pool if c not in excluded]
        return rng.sample(options, min(k, len(options)))
    chosen: list[int] = []
    for _ in range(8 * k):  # a big pool rarely rejects, so a few draws find k without scanning it
        candidate = pool[rng.randrange(len(pool))]
        if candidate not in excluded and candidate not in chosen:
            chosen.append(candidate)
            if len(chosen) == k:
                break
    return chosen


def rater_assignments(rng: random.Random, people: People) -> list[Relation]:
    """One cycle's 360 relations: self, the manager, 3 peers and up to 3 direct reports per employee."""
    count = len(people.post)
    reports: list[list[int]] = [[] for _ in range(count)]
    for i, m in enumerate(people.manager):
        if m is not None:
            reports[m].append(i)
    # Peers work at the same level: in the same post first, then the same section, then anywhere.
    scopes = [(people.post[i], POSTS[people.post[i]].department_code, None) for i in range(count)]
    pools: dict[tuple[int, object], list[int]] = {}
    for i in range(count):
        for scope in scopes[i]:
            pools.setdefault((people.level[i], scope), []).append(i)
    relations: list[Relation] = []
    for i in range(count):
        boss = people.manager[i]
        relations.append((i, i, RaterRole.SELF))
        if boss is not None:
            relations.append((i, boss, RaterRole.MANAGER))
        excluded = {i, *reports[i]} | ({boss} if boss is not None else set())
        peers: list[int] = []
        for scope in scopes[i]:
            found = _pick(rng, pools[(people.level[i], scope)], PEER_RATERS - len(peers), excluded)
            peers += found
            excluded.update(found)
            if len(peers) == PEER_RATERS:
                break
        relations.extend((i, peer, RaterRole.PEER) for peer in peers)
        subordinates = rng.sample(reports[i], min(SUBORDINATE_RATERS, len(reports[i])))
        relations.extend((i, s, RaterRole.SUBORDINATE) for s in subordinates)
    return relations
