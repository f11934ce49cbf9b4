"""What an answered request leaves to the cycle collector.

A request's loaders and its context refer to each other, so they are freed only by the cycle collector; while
their caches held the rows the request read, every row waited for it, and a collection then walked and freed
tens of thousands of objects at once (about 80 ms every ~65 served portal pages: the page's p99, issue 16).
Once answered, the request's loaders give up their caches (``Context.answered``), and the rows go when their
last reference does. Counted here with the collector switched off for one page and ``DEBUG_SAVEALL`` keeping
what it then finds unreachable.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Row

from tests.conftest import GraphQLClient
from tests.schema.test_page_costs import PAGE


@pytest.fixture
def collector_off() -> Iterator[list[object]]:
    """The collector off for the test's body; yields the list that will hold what a collection found
    unreachable afterwards (filled by ``collect_unreachable``)."""
    gc.collect()
    gc.disable()
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def collect_unreachable() -> None:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)


async def test_an_answered_page_leaves_none_of_its_rows_to_the_cycle_collector(
    app_client: GraphQLClient, collector_off: list[object]
) -> None:
    data = await app_client.data(PAGE, {"first": 50})
    assert len(data["employees"]["edges"]) == 50
    collect_unreachable()
    rows = [found for found in collector_off if isinstance(found, Row)]
    assert rows == []
