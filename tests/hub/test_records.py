"""``record_from``: a frozen record copied off an object with the same attributes, but for what is given."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from hub.records import record_from


@dataclass(frozen=True, slots=True)
class _Pair:
    name: str
    size: int
    note: str | None = None


def test_every_field_is_read_off_the_source_but_those_given() -> None:
    """Same-named attributes are copied; a given value wins over the source's; the source's extras are ignored."""
    source = SimpleNamespace(name="a", size=1, note="kept", other="ignored")
    assert record_from(_Pair, source) == _Pair("a", 1, "kept")
    assert record_from(_Pair, source, size=2) == _Pair("a", 2, "kept")


def test_a_name_that_is_no_field_is_a_type_error() -> None:
    """A misspelt override fails as the constructor would, instead of being dropped."""
    with pytest.raises(TypeError, match="_Pair has no field sise"):
        record_from(_Pair, SimpleNamespace(name="a", size=1, note=None), sise=2)


def test_a_field_the_source_lacks_does_not_fall_back_to_its_default() -> None:
    """A default is no stand-in for an attribute the source should have had."""
    with pytest.raises(AttributeError, match="note"):
        record_from(_Pair, SimpleNamespace(name="a", size=1))
