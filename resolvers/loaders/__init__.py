"""Every loader of a request, created lazily on first use and dropped with the request."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Generic, Protocol, Self, TypeVar, overload

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers.loaders.adjustments import AdjustmentsByResultLoader
from resolvers.loaders.audit import ReadAuditLoader
from resolvers.loaders.base import RequestFacts
from resolvers.loaders.completeness import CompletenessByResultLoader
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
from resolvers.loaders.nominations import PeerNominationsByRateeCycleLoader
from resolvers.loaders.organisation import (
    DepartmentByIdLoader,
    DepartmentsByParentLoader,
    DirectReportsByManagerLoader,
    EmployeeByIdLoader,
    EmployeeByNumberLoader,
    PostAssignmentsByEmployeeLoader,
    PostByIdLoader,
    PostsByDepartmentLoader,
)
from resolvers.loaders.pins import PinnedSchemeByEmployeeCycleLoader, PinsByCycleLoader
from resolvers.loaders.results import (
    CycleByIdLoader,
    IndicatorScoresByResultLoader,
    PreviousResultByResultLoader,
    RankGroupsByResultLoader,
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
from resolvers.loaders.tasks import RatingTasksByRaterCycleLoader
from resolvers.scope import Scope

L = TypeVar("L", bound="MadeForRequest")


class MadeForRequest(Protocol):
    """A loader class that makes its loader for a request from what the request holds (``SessionLoader``)."""

    @classmethod
    def for_request(cls, request: RequestFacts) -> Self: ...


class per_request(Generic[L]):  # lower case, like the cached_property it stands in for
    """A loader of the registry, made for the request on first use (``for_request``) and the same one after."""

    def __init__(self, loader_class: type[L]) -> None:
        self.loader_class = loader_class

    def __set_name__(self, owner: type[Loaders], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, registry: None, owner: type[Loaders]) -> Self: ...

    @overload
    def __get__(self, registry: Loaders, owner: type[Loaders]) -> L: ...

    def __get__(self, registry: Loaders | None, owner: type[Loaders]) -> Self | L:
        if registry is None:
            return self
        loader = self.loader_class.for_request(registry)
        # Not a data descriptor: from now on the request's own attribute answers, as with cached_property.
        registry.__dict__[self.name] = loader
        return loader


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
        self.sessionmaker = sessionmaker
        self.today = today
        self.scope = scope
        self._systems = systems
        self._on_compensation_read = on_compensation_read or _nothing
        self._on_ratings_read = on_ratings_read or _nothing
        self._on_denied_read = on_denied_read or _nothing

    def release(self) -> None:
        """Empties the caches of the loaders made so far, when the request is answered.

        The registry and its loaders refer to each other (and to the request's context, through the audit
        callbacks), so they are freed only by the cycle collector; their caches hold every row the request
        read. Emptied here, the rows go when their last reference does, not in a collection that walks and
        frees them all at once (60,000 objects and about 80 ms every ~65 portal pages: the served page's p99,
        issue 16)."""
        for loader in self.__dict__.values():
            if isinstance(loader, DataLoader):
                loader.clear_all()

    department_by_id = per_request(DepartmentByIdLoader)
    departments_by_parent = per_request(DepartmentsByParentLoader)
    post_by_id = per_request(PostByIdLoader)
    posts_by_department = per_request(PostsByDepartmentLoader)
    employee_by_id = per_request(EmployeeByIdLoader)
    employee_by_number = per_request(EmployeeByNumberLoader)
    direct_reports_by_manager = per_request(DirectReportsByManagerLoader)
    indicator_by_id = per_request(IndicatorByIdLoader)
    indicator_version_by_id = per_request(IndicatorVersionByIdLoader)
    indicator_versions_by_indicator = per_request(IndicatorVersionsByIndicatorLoader)
    current_indicator_version_by_indicator = per_request(CurrentIndicatorVersionByIndicatorLoader)
    scheme_version_by_id = per_request(SchemeVersionByIdLoader)
    scheme_versions_by_post = per_request(SchemeVersionsByPostLoader)
    current_scheme_by_post = per_request(CurrentSchemeByPostLoader)
    scheme_items_by_scheme = per_request(SchemeItemsBySchemeLoader)
    rater_weights_by_scheme = per_request(RaterWeightsBySchemeLoader)
    cycle_by_id = per_request(CycleByIdLoader)
    result_by_id = per_request(ResultByIdLoader)
    result_by_employee_cycle = per_request(ResultByEmployeeCycleLoader)
    results_by_employee = per_request(ResultsByEmployeeLoader)
    previous_result_by_result = per_request(PreviousResultByResultLoader)
    rank_groups_by_result = per_request(RankGroupsByResultLoader)
    indicator_scores_by_result = per_request(IndicatorScoresByResultLoader)
    transitions_by_cycle = per_request(TransitionsByCycleLoader)
    ratings_by_ratee_cycle = per_request(RatingsByRateeCycleLoader)
    rating_tasks_by_rater_cycle = per_request(RatingTasksByRaterCycleLoader)
    completeness_by_result = per_request(CompletenessByResultLoader)
    pins_by_cycle = per_request(PinsByCycleLoader)
    pinned_scheme_by_employee_cycle = per_request(PinnedSchemeByEmployeeCycleLoader)
    post_assignments_by_employee = per_request(PostAssignmentsByEmployeeLoader)
    peer_nominations_by_ratee_cycle = per_request(PeerNominationsByRateeCycleLoader)
    adjustments_by_result = per_request(AdjustmentsByResultLoader)

    @cached_property
    def ratings_read_audit(self) -> ReadAuditLoader:
        """Keys ``employee:ID@cycle:ID``: reads of other people's ratings, one audit entry per batch."""
        return ReadAuditLoader(self._on_ratings_read)

    @cached_property
    def denied_read_audit(self) -> ReadAuditLoader:
        """Keys ``Type.field|id``: refused reads of audited fields, one audit entry per field and batch."""
        return ReadAuditLoader(self._on_denied_read)

    @cached_property
    def training_records_by_employee(self) -> TrainingRecordsByEmployeeLoader:
        source = self._systems.training if self._systems is not None else None
        return TrainingRecordsByEmployeeLoader(source, self.today)

    @cached_property
    def compensation_records_by_employee(self) -> CompensationRecordsByEmployeeLoader:
        source = self._systems.compensation if self._systems is not None else None
        return CompensationRecordsByEmployeeLoader(source, self._on_compensation_read)
