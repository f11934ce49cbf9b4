"""Who the caller is in the organisation."""

from __future__ import annotations

from sqlalchemy import select

from hub.db.models import Employee
from resolvers.context import Context


async def own_employee_id(context: Context) -> int | None:
    """The id of the principal's own employee row, when it is a person."""
    number = context.principal.employee_number
    if number is None:
        return None
    async with context.sessionmaker() as session:
        found: int | None = await session.scalar(select(Employee.id).where(Employee.employee_no == number))
    return found
