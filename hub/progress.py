"""How long operations report their progress: through an object the caller hands them.

The operations (scoring, collection, the demo seed) know what they are doing and how far they are; what
to do with that is the caller's business. The command line draws a bar (``hub.console.ConsoleProgress``),
the API and the worker process report nothing (:data:`SILENT`), a test may count.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def begin(self, task: str, total: int | None, unit: str) -> None:
        """A phase starts: ``total`` units of work, or None when it is not known in advance."""

    def advance(self, done: int = 1, note: str | None = None) -> None:
        """``done`` more units of the current phase are done; ``note`` says what is being worked on."""

    def end(self) -> None:
        """The current phase is over (also when it failed)."""


class _Silent:
    def begin(self, task: str, total: int | None, unit: str) -> None:
        pass

    def advance(self, done: int = 1, note: str | None = None) -> None:
        pass

    def end(self) -> None:
        pass


SILENT: Progress = _Silent()
"""Reports nothing: the default of every operation."""
