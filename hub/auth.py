"""Who is asking: the Principal every request carries (authentication arrives with access control)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person (with an employee id) or a system, and its roles."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    employee_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return not self.roles


ANONYMOUS = Principal(subject="anonymous")
