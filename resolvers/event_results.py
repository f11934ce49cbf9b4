"""One execution of a subscription's selection per delivered event, shared by the subscriptions that ask alike.

A publish of N results to M subscribers ran graphql-core's execution N x M times, about half of the hub's time
per delivery (a profile of ``bench.events``): resolving some fifty fields an event, the same answer for every
subscriber with the same document, variables and principal. The process's log hands every subscription the
same ``DeliveredEvent`` object for an event (``resolvers.delivered_events._delivered``, one per event and ``managed``),
and strawberry's parser cache the same document to the same query text, so the answer is kept on the event
for those keys and reused. What decides an answer is all in the key: the event (and ``managed``) is the
object, the selection is the operation node, ``variables`` are compared, and the principal's roles, grants and
employee number decide every field rule. Only an answer without errors is kept: a field that failed or was
refused is executed again for the next subscriber, exactly as before. A kept answer's data is ``EncodedData``: the
socket handler (``hub.websocket``) sends the JSON it was encoded to once, not once per subscriber.
"""

from __future__ import annotations

import json

import orjson
from graphql import ExecutionResult, OperationType
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.context import Context
from resolvers.events import DeliveredEvent

KEYS_PER_EVENT = 8
"""Distinct selections (documents, variables, principals) kept per event: a bound on the memory the process's
log may hold beyond its events; a ninth one is executed each time, as without the cache."""


def _key(executor: StrawberryGraphQLCoreExecutionContext) -> tuple[object, ...] | None:
    context = executor.context_value
    if not isinstance(context, Context):
        return None
    principal = context.principal
    try:
        variables = json.dumps(executor.variable_values, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None
    # The subject too: an answer shared between two tokens would write one token's read audit (compensation
    # records, ratings) and not the other's (review finding 2).
    return (
        id(executor.operation),
        variables,
        principal.subject,
        principal.roles,
        principal.grants,
        principal.employee_number,
    )


class EncodedData(dict[str, object]):
    """An event's data, encoded to JSON (as strawberry encodes a message: compact) once, on the first send."""

    __slots__ = ("_json",)

    def json(self) -> str:
        try:
            return self._json
        except AttributeError:
            # orjson: a tenth of the standard encoder's time on an event (2.8 against 23 us), which was a sixth
            # of a replay's time in the hub. Its text is compact JSON like strawberry's, with characters
            # outside ASCII written as UTF-8 rather than escaped: the same values for every JSON parser.
            self._json: str = orjson.dumps(self).decode()
            return self._json


class SharedEventResults(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, answering a subscription event from the answer another subscription got for it."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[ExecutionResult]:
        event = self.root_value
        if not isinstance(event, DeliveredEvent) or self.operation.operation != OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)  # type: ignore[return-value]
        key = _key(self)
        if key is None:
            return super().execute_operation(serially)  # type: ignore[return-value]
        kept = event.answers.get(key)
        # The operation node is kept with the answer: an id is unique only while its object lives.
        if kept is not None and kept[0] is self.operation:
            return kept[1]
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._keep_when_done(event, key, result)
        return self._keep(event, key, result)  # type: ignore[arg-type]

    async def _keep_when_done(
        self, event: DeliveredEvent, key: tuple[object, ...], pending: AwaitableOrValue[ExecutionResult]
    ) -> ExecutionResult:
        return self._keep(event, key, await pending)  # type: ignore[misc]

    def _keep(self, event: DeliveredEvent, key: tuple[object, ...], result: ExecutionResult) -> ExecutionResult:
        if isinstance(result, ExecutionResult) and not result.errors and len(event.answers) < KEYS_PER_EVENT:
            if isinstance(result.data, dict):
                result = ExecutionResult(EncodedData(result.data), None, result.extensions)
            event.answers[key] = (self.operation, result)
        return result
