"""A typed reader for one TOML table of the systems file: located errors, unknown keys refused."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from typing import TypeVar, overload

import jmespath
import jmespath.exceptions

from connectors.base import ConfigurationError

Choice = TypeVar("Choice")


class _Unset(enum.Enum):
    """The default of a required key: no default at all (None is a default, of optional keys)."""

    UNSET = enum.auto()


_UNSET = _Unset.UNSET


class TableReader:
    """One TOML table being read: typed getters that say where a problem is, and leftover-key checking."""

    def __init__(self, data: Mapping[str, object], where: str) -> None:
        self._data = data
        self._where = where
        self._used: set[str] = set()

    def names(self) -> list[str]:
        return list(self._data)

    def error(self, key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self._where}.{key}: {problem}" if self._where else f"{key}: {problem}")

    def _get(self, key: str, default: object) -> object:
        self._used.add(key)
        if key in self._data:
            return self._data[key]
        if default is _UNSET:
            raise self.error(key, "is required")
        return default

    def table(self, key: str) -> TableReader | None:
        value = self._get(key, None)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.error(key, "must be a table")
        return TableReader(value, f"{self._where}.{key}" if self._where else key)

    def required_table(self, key: str) -> TableReader:
        found = self.table(key)
        if found is None:
            raise self.error(key, "is required")
        return found

    def tables(self) -> Iterator[tuple[str, TableReader]]:
        """Each key with its table, for a table of named tables (``[systems.NAME]``), read one by one."""
        for name in self.names():
            yield name, self.required_table(name)

    def string(self, key: str, default: str | _Unset = _UNSET) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self._get(key, None) is None else self.string(key)

    def scalar(self, key: str) -> str:
        """A fixed query parameter: TOML strings, integers and booleans all become query text."""
        value = self._get(key, _UNSET)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | str):
            return str(value)
        raise self.error(key, "must be a string, an integer or a boolean")

    def choice(self, key: str, allowed: tuple[Choice, ...], default: Choice | _Unset = _UNSET) -> Choice:
        value = self._get(key, default)
        for option in allowed:
            if option == value:
                return option
        raise self.error(key, f"must be one of {', '.join(map(repr, allowed))}, not {value!r}")

    def number(self, key: str) -> float:
        value = self._get(key, _UNSET)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, "must be a number")
        return float(value)

    @overload
    def integer(self, key: str, default: int | _Unset = _UNSET) -> int: ...

    @overload
    def integer(self, key: str, default: None) -> int | None: ...

    def integer(self, key: str, default: int | _Unset | None = _UNSET) -> int | None:
        value = self._get(key, default)
        if value is default and not isinstance(default, _Unset):
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer")
        return value

    def jmespath(self, key: str) -> str:
        value = self.string(key)
        try:
            jmespath.compile(value)
        except jmespath.exceptions.JMESPathError as exc:
            raise self.error(key, f"is not a valid JMESPath expression ({exc})") from None
        return value

    def optional_jmespath(self, key: str) -> str | None:
        return None if self._get(key, None) is None else self.jmespath(key)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            where = f"[{self._where}]" if self._where else "the top level"
            raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}")
