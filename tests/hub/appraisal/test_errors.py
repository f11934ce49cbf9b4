"""The package's error tree: one base, stable unique codes, readable messages."""

from __future__ import annotations

import hub.appraisal.errors as errors
from hub.appraisal import AppraisalError


def _error_classes() -> list[type[AppraisalError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, AppraisalError) and value is not AppraisalError
    ]


def test_every_error_has_a_unique_upper_case_code() -> None:
    """Each error class declares its own machine code, for API payloads."""
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes)) >= 8
    assert all(code.isupper() for code in codes)


def test_every_error_is_documented_in_the_module_tree() -> None:
    """The tree at the top of errors.py names every error class and its code."""
    doc = errors.__doc__ or ""
    for cls in _error_classes():
        assert cls.__name__ in doc and cls.code in doc


def test_message_is_the_string_form() -> None:
    """str(error) is the human message."""
    error = errors.WeightsDoNotSum(99.0)
    assert str(error) == error.message == "weights must add up to 100, they add up to 99"
