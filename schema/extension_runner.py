"""Strawberry's extension runner without its per-event costs that change nothing for a subscription's events.

For every event a subscription streams, strawberry collects each extension's results (eight awaits of
``await_maybe`` on the empty dict the base ``get_results`` returns) and builds the ``on_stream_result`` hooks
anew (a context manager made per extension that has one; MaskErrors' is the only one the hub has, and it has
nothing to do for a result without errors). Here the extensions that report results are found once per
operation, and a result without errors passes no hook when MaskErrors' is the only one: what the client
receives is the same, at a few microseconds an event less each (``bench.events``, issue 14).
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.context import StreamResultContextManager
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult
from strawberry.utils.await_maybe import await_maybe


def _overrides(extension: SchemaExtension, hook: str) -> bool:
    return getattr(type(extension), hook) is not getattr(SchemaExtension, hook)


class StreamingExtensionsRunner(SchemaExtensionsRunner):
    """``SchemaExtensionsRunner``, asking only the extensions that have something to say."""

    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None) -> None:
        super().__init__(execution_context, extensions)
        self._reporting = [extension for extension in self.extensions if _overrides(extension, "get_results")]
        streaming = [extension for extension in self.extensions if _overrides(extension, "on_stream_result")]
        self._masks_only = all(isinstance(extension, MaskErrors) for extension in streaming)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self._reporting:  # the others' results are the base class's empty dict
            data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        if self._masks_only and not _has_errors(result):
            # MaskErrors masks errors (and marks the stream as seen to, which only matters for a result with some).
            return StreamResultContextManager([], result)
        return super().on_stream_result(result)


def _has_errors(result: object) -> bool:
    return bool(
        getattr(result, "errors", None) or getattr(result, "incremental", None) or getattr(result, "completed", None)
    )
