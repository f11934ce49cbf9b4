"""Every loader of a request, created lazily on first use and dropped with the request."""

from __future__ import annotations

import datetime as dt
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers.loaders.audit import ReadAuditLoader
from resolvers.loaders.indicators import (
    CurrentIndicatorVersionByIndicatorLoader,
    IndicatorByIdLoader,
    IndicatorVersionByIdLoader,
    IndicatorVersionsByIndicatorLoader,
)
from resolvers.loaders.linked import (
    CompensationRecordsByEmployeeLoader,
    LinkedSystems,
    OnRead,
    TrainingRecordsByEmployeeLoader,
)
from resolvers.loaders.organisation import (
    DepartmentByIdLoader,
    DepartmentsByParentLoader,
    EmployeeByIdLoader,
    PostByIdLoader,
    PostsByDepartmentLoader,
)
from resolvers.loaders.results import (
    CycleByIdLoader,
    IndicatorScoresByResultLoader,
    RatingsByRateeCycleLoader,
    ResultByEmployeeCycleLoader,
    ResultByIdLoader,
    ResultsByEmployeeLoader,
    TransitionsByCycleLoader,
)
from resolvers.loaders.schemes import (
    CurrentSchemeByPostLoader,
    RaterWeightsBySchemeLoader,
    SchemeItemsBySchemeLoader,
    SchemeVersionByIdLoader,
    SchemeVersionsByPostLoader,
)
from resolvers.scope import Scope


async def _nothing(_: list[str]) -> None:
    return None


class Loaders:
    """The loader registry of one request."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        today: dt.date,
        scope: Scope,
        systems: LinkedSystems | None = None,
        on_compensation_read: OnRead | None = None,
        on_ratings_read: OnRead | None = None,
        on_denied_read: OnRead | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._today = today
        self._scope = scope
        self._systems = systems
        self._on_compensation_read = on_compensation_read or _nothing
        self._on_ratings_read = on_ratings_read or _nothing
        self._on_denied_read = on_denied_read or _nothing

    @cached_property
    def ratings_read_audit(self) -> ReadAuditLoader:
        """Keys ``employee:ID@cycle:ID``: reads of other people's ratings, one audit entry per batch."""
        return ReadAuditLoader(self._on_ratings_read)

    @cached_property
    def denied_read_audit(self) -> ReadAuditLoader:
        """Keys ``Type.field|id``: refused reads of audited fields, one audit entry per field and batch."""
        return ReadAuditLoader(self._on_denied_read)

    @cached_property
    def department_by_id(self) -> DepartmentByIdLoader:
        return DepartmentByIdLoader(self._sessionmaker)

    @cached_property
    def departments_by_parent(self) -> DepartmentsByParentLoader:
        return DepartmentsByParentLoader(self._sessionmaker)

    @cached_property
    def post_by_id(self) -> PostByIdLoader:
        return PostByIdLoader(self._sessionmaker)

    @cached_property
    def posts_by_department(self) -> PostsByDepartmentLoader:
        return PostsByDepartmentLoader(self._sessionmaker)

    @cached_property
    def employee_by_id(self) -> EmployeeByIdLoader:
        return EmployeeByIdLoader(self._sessionmaker, self._scope)

    @cached_property
    def indicator_by_id(self) -> IndicatorByIdLoader:
        return IndicatorByIdLoader(self._sessionmaker)

    @cached_property
    def indicator_version_by_id(self) -> IndicatorVersionByIdLoader:
        return IndicatorVersionByIdLoader(self._sessionmaker)

    @cached_property
    def indicator_versions_by_indicator(self) -> IndicatorVersionsByIndicatorLoader:
        return IndicatorVersionsByIndicatorLoader(self._sessionmaker)

    @cached_property
    def current_indicator_version_by_indicator(self) -> CurrentIndicatorVersionByIndicatorLoader:
        return CurrentIndicatorVersionByIndicatorLoader(self._sessionmaker, self._today)

    @cached_property
    def scheme_version_by_id(self) -> SchemeVersionByIdLoader:
        return SchemeVersionByIdLoader(self._sessionmaker)

    @cached_property
    def scheme_versions_by_post(self) -> SchemeVersionsByPostLoader:
        return SchemeVersionsByPostLoader(self._sessionmaker)

    @cached_property
    def current_scheme_by_post(self) -> CurrentSchemeByPostLoader:
        return CurrentSchemeByPostLoader(self._sessionmaker, self._today)

    @cached_property
    def scheme_items_by_scheme(self) -> SchemeItemsBySchemeLoader:
        return SchemeItemsBySchemeLoader(self._sessionmaker)

    @cached_property
    def rater_weights_by_scheme(self) -> RaterWeightsBySchemeLoader:
        return RaterWeightsBySchemeLoader(self._sessionmaker)

    @cached_property
    def cycle_by_id(self) -> CycleByIdLoader:
        return CycleByIdLoader(self._sessionmaker)

    @cached_property
    def result_by_id(self) -> ResultByIdLoader:
        return ResultByIdLoader(self._sessionmaker, self._scope)

    @cached_property
    def result_by_employee_cycle(self) -> ResultByEmployeeCycleLoader:
        return ResultByEmployeeCycleLoader(self._sessionmaker, self._scope)

    @cached_property
    def results_by_employee(self) -> ResultsByEmployeeLoader:
        return ResultsByEmployeeLoader(self._sessionmaker, self._scope)

    @cached_property
    def indicator_scores_by_result(self) -> IndicatorScoresByResultLoader:
        return IndicatorScoresByResultLoader(self._sessionmaker)

    @cached_property
    def transitions_by_cycle(self) -> TransitionsByCycleLoader:
        return TransitionsByCycleLoader(self._sessionmaker)

    @cached_property
    def ratings_by_ratee_cycle(self) -> RatingsByRateeCycleLoader:
        return RatingsByRateeCycleLoader(self._sessionmaker)

    @cached_property
    def training_records_by_employee(self) -> TrainingRecordsByEmployeeLoader:
        source = self._systems.training if self._systems is not None else None
        return TrainingRecordsByEmployeeLoader(source, self._today)

    @cached_property
    def compensation_records_by_employee(self) -> CompensationRecordsByEmployeeLoader:
        source = self._systems.compensation if self._systems is not None else None
        return CompensationRecordsByEmployeeLoader(source, self._on_compensation_read)
