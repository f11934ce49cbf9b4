"""Fields fed by business systems: training and compensation records of an employee."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import ConnectorError
from resolvers.context import Context
from resolvers.errors import SystemFailure
from resolvers.records import EmployeeRow


async def training_records(context: Context, employee: EmployeeRow, since: dt.date | None) -> list[Any]:
    try:
        records: list[Any] = await context.loaders.training_records_by_employee.load((employee.employee_no, since))
    except ConnectorError as error:
        raise SystemFailure(error) from error
    return records


async def compensation_records(context: Context, employee: EmployeeRow) -> list[Any]:
    try:
        records: list[Any] = await context.loaders.compensation_records_by_employee.load(employee.employee_no)
    except ConnectorError as error:
        raise SystemFailure(error) from error
    return records
