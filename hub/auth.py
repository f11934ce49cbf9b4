"""Who is asking: the Principal every request carries, and the roles it may hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    EMPLOYEE = "employee"
    """Their own data."""
    MANAGER = "manager"
    """Their department subtree and their direct reports."""
    HR_ADMIN = "hr_admin"
    """Everything; the only role that changes schemes, cycles and results."""
    ANALYST = "analyst"
    """Aggregates and results; names only when granted; never compensation."""
    PAYROLL = "payroll"
    """A system principal: reads published results and compensation, subscribes to results."""
    TRAINING = "training"
    """A system principal: reads published results and training records, subscribes to results."""


class Grant(StrEnum):
    NAMES = "names"
    """Lets an analyst see employees' names and numbers."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person (with an employee number) or a system, with its roles."""

    subject: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    employee_number: str | None = None
    grants: frozenset[Grant] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return not self.roles

    def has(self, *roles: Role) -> bool:
        """True when the principal holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)


ANONYMOUS = Principal(subject="anonymous")
