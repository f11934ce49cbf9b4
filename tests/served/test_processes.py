"""`perfhub serve` is several processes: the hub, its worker (scoring, imports, collection) and, in demo
mode, the demo business systems. They start when needed, stop with the hub when it is told to stop,
and die with it when it is killed: nothing is left running, nothing commits behind a dead hub's back.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx

from tests.served.hub_process import ServedHub
from tests.served.people import find_people

SCORE = "mutation($id: ID!) { cycleScore(cycleId: $id) { __typename ... on CycleScored { scored } } }"
GONE_WITHIN_SECONDS = 15.0


def process_group(leader: int) -> set[int]:
    """The processes of ``leader``'s process group (the served hub starts one of its own)."""
    members: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == leader:
            members.add(int(stat.parent.name))
    return members


def wait_until_alone(leader: int) -> set[int]:
    """Waits until no process of the group is left (the leader included); returns what is left if not."""
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while (left := process_group(leader)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def demo_system_urls(hub: ServedHub) -> list[str]:
    return re.findall(r"^  \w+: (http://127\.0\.0\.1:\d+)$", hub.log(), flags=re.MULTILINE)


def score_open_cycle(hub: ServedHub) -> int:
    people = find_people(hub)
    response = httpx.post(
        hub.url,
        json={"query": SCORE, "variables": {"id": people.open_cycle}},
        headers=hub.headers("hr_admin"),
        timeout=120,
    )
    payload = response.json()["data"]["cycleScore"]
    assert payload["__typename"] == "CycleScored", payload
    scored: int = payload["scored"]
    return scored


def test_the_worker_and_the_demo_systems_run_apart_and_stop_with_the_hub(served: ServedHub) -> None:
    urls = demo_system_urls(served)
    assert len(urls) == 5
    for url in urls:  # served by a process of their own, not the hub's
        assert httpx.get(f"{url}/_faults", timeout=10).status_code == 200
    before = process_group(served.pid)
    assert served.pid in before and len(before) >= 2  # the hub and the demo systems

    assert score_open_cycle(served) > 0
    assert len(process_group(served.pid)) > len(before)  # the worker, started by the first long job

    assert served.process is not None
    os.kill(served.pid, signal.SIGTERM)  # the hub alone, as a service manager stops it
    assert served.process.wait(GONE_WITHIN_SECONDS) == 0
    assert wait_until_alone(served.pid) == set()
    assert "perfhub: stopped" in served.log()


def test_a_killed_hub_takes_its_worker_and_demo_systems_with_it(served: ServedHub) -> None:
    assert score_open_cycle(served) > 0
    assert len(process_group(served.pid)) >= 3  # the hub, its worker, the demo systems

    assert served.process is not None
    os.kill(served.pid, signal.SIGKILL)  # the hub alone: its children are not told
    served.process.wait(GONE_WITHIN_SECONDS)
    assert wait_until_alone(served.pid) == set()
