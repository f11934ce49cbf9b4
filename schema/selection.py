"""What a query selects below the field being resolved, for resolvers that can skip work nobody reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from schema.info import Info


def selects(info: Info, name: str) -> bool:
    """Whether the field being resolved selects ``name`` (its GraphQL name) directly below it, through
    fragments too, and not switched off by ``@skip``/``@include``."""
    return any(_selects(field.selections, name) for field in info.selected_fields if _included(field))


def fields_in(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection set, those of its fragments included, less those ``@skip``/``@include`` switch
    off (``schema.lookahead`` plans a page's reads from them)."""
    for selection in selections:
        if not _included(selection):
            continue
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from fields_in(selection.selections)


def _selects(selections: Iterable[Selection], name: str) -> bool:
    for selection in selections:
        if not _included(selection):
            continue
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        elif isinstance(selection, FragmentSpread | InlineFragment) and _selects(selection.selections, name):
            return True
    return False


def _included(selection: Selection) -> bool:
    # The directives' arguments arrive with the variables already substituted.
    skip = selection.directives.get("skip")
    include = selection.directives.get("include")
    return not (skip is not None and skip.get("if")) and not (include is not None and not include.get("if"))
