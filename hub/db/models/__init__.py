"""The ORM models (SQLAlchemy 2.x, ``Mapped[]`` style, relationships ``lazy="raise"``)."""

from hub.db.models.adjustments import ResultAdjustment
from hub.db.models.audit import AuditEntry
from hub.db.models.base import Base, utcnow
from hub.db.models.closed_loop import MeritMatrix, TrainingNeedRule
from hub.db.models.cycles import (
    Cycle,
    CycleLeaver,
    CycleScheme,
    CycleTransition,
    DeletedCycle,
    MetricValue,
    PeerNomination,
    RaterAssignment,
    Rating,
)
from hub.db.models.events import ResultEvent
from hub.db.models.indicators import (
    Indicator,
    IndicatorVersion,
    SchemeItem,
    SchemeRaterWeight,
    SchemeVersion,
    Versioned,
)
from hub.db.models.organisation import Department, Employee, Post, PostAssignment
from hub.db.models.results import AppraisalResult, IndicatorScore
from hub.db.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AppraisalResult",
    "AuditEntry",
    "Base",
    "Cycle",
    "CycleLeaver",
    "CycleScheme",
    "CycleTransition",
    "DeletedCycle",
    "Department",
    "Employee",
    "Indicator",
    "IndicatorScore",
    "IndicatorVersion",
    "MeritMatrix",
    "MetricValue",
    "PeerNomination",
    "Post",
    "PostAssignment",
    "RaterAssignment",
    "Rating",
    "ResultAdjustment",
    "ResultEvent",
    "SchemeItem",
    "SchemeRaterWeight",
    "SchemeVersion",
    "TrainingNeedRule",
    "Versioned",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
