"""What the API looks like: strawberry types, inputs and enums, assembled by :func:`build_schema`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)

from hub import policy
from hub.config import Settings
from schema.compiled import CompiledPlans
from schema.event_projection import ProjectedEventResults
from schema.events import Subscription
from schema.input_checks import InputChecks
from schema.limits import CostLimiter, CostModel, document_rules
from schema.masking import MaskUnexpectedErrors, PerfhubSchema
from schema.mutations import Mutation
from schema.operation_guard import OperationGuard
from schema.persisted import PinnedParserCache, PinnedValidationCache, Registered
from schema.query import Query

MAX_EXPANDED_FIELDS_PER_TOKEN = 10
"""A document may select at most this many fields per token once its fragments are expanded."""


def build_schema(
    settings: Settings | None = None,
    registered: Registered | None = None,
    *,
    refuse_unregistered: bool = False,
    compiled_plans: bool = False,
) -> strawberry.Schema:
    """The whole schema with its guards; parse and validation results are cached per document.

    Before execution, in order: the token limit (while parsing), the depth, alias and expanded-size
    limits (validation rules, cached with the validation), introspection when switched off, the
    token's expiry (a WebSocket's principal outlives its token; fresh loaders per operation too), and
    the cost estimate (it reads the variables, so it runs per request). Unexpected errors are masked.
    ``registered`` (hub/persisted.py's documents) pins their parse and validation (``schema/persisted.py``);
    ``refuse_unregistered`` fails every other document in validation (PERFHUB_PERSISTED_ONLY);
    ``compiled_plans`` answers the registered documents of the portal page's shape by a plan (``schema/compiled.py``).
    """
    settings = settings or Settings()
    rules: list[type[ASTValidationRule]] = document_rules(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_fields=settings.max_tokens * MAX_EXPANDED_FIELDS_PER_TOKEN,
    )
    if policy.nobody_may_introspect(settings):
        rules.append(NoSchemaIntrospectionCustomRule)
    cost = CostModel(
        max_cost=settings.max_cost,
        list_size=settings.cost_list_size,
        system_field=settings.cost_system_field,
        max_page_size=settings.max_page_size,
    )
    # Factories: strawberry builds extensions per operation. The rule classes above are made once,
    # so every request's validation rules are the same tuple and the ValidationCache key stays stable;
    # both caches live at module level.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(ParserCache, maxsize=512)
        if registered is None
        else partial(PinnedParserCache, registered, 512, compiled_plans=compiled_plans),
        partial(AddValidationRules, rules),
        partial(ValidationCache, maxsize=512)
        if registered is None
        else partial(PinnedValidationCache, registered, 512, refuse_unregistered=refuse_unregistered),
        OperationGuard,
        InputChecks,
        partial(CostLimiter, cost),
        MaskUnexpectedErrors,
    ]
    return PerfhubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # Events by projection, or one execution for alike subscriptions; the compiled plans of registered documents.
        execution_context_class=CompiledPlans if compiled_plans else ProjectedEventResults,
    )


def print_schema() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return build_schema().as_str() + "\n"
