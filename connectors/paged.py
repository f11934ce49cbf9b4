"""What the xAPI and OData sources share: one system's port and settings, a page cap and a clock.

Both read a batch as a sequence of pages linked by the server (``more``, ``__next``), so both need a
bound on how many links one batch follows, and both stamp the answer's provenance with the time it
was read; tests fix the clock and lower the cap.
"""

from __future__ import annotations

from typing import Generic, TypedDict, TypeVar

from connectors.base import HttpPort
from connectors.config import DEFAULT_MAX_PAGES
from connectors.http import Now, utcnow

Settings = TypeVar("Settings")


class PageOptions(TypedDict, total=False):
    """The keyword options of a paged source, for a subclass that checks its settings before passing them on."""

    max_pages: int
    clock: Now


class PagedSource(Generic[Settings]):
    """A source reading one system through its ``HttpPort`` (never an httpx client of its own).

    ``max_pages``: links followed per batch before giving up, since a server that always says "there is
    more" is broken; ``clock``: when an answer was read, for its provenance.
    """

    def __init__(
        self, system: str, port: HttpPort, config: Settings, *, max_pages: int = DEFAULT_MAX_PAGES, clock: Now = utcnow
    ) -> None:
        self.system = system
        self._port = port
        self._config = config
        self._max_pages = max_pages
        self._clock = clock
