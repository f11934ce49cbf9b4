"""The organisation: departments (a tree), posts, employees and their post assignments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.models.base import Base, Key, Timestamp, utcnow
from hub.domain import EmployeeStatus


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[Key]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # SCIM's meta.created and meta.lastModified of the Group (hub/scim): ``Organisation`` also touches
    # ``updated_at`` when the department's members change.
    created_at: Mapped[Timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side="Department.id", lazy="raise")


class Post(Base):
    """A post (岗位): the job an employee holds, appraised under its own scheme."""

    __tablename__ = "posts"

    id: Mapped[Key]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(64), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)

    department: Mapped[Department] = relationship(lazy="raise")


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[Key]
    employee_no: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    # The current post, kept beside the assignment history because every read path wants it.
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    hired_on: Mapped[dt.date | None]
    # Unique where set: both databases let any number of rows hold NULL under a unique constraint.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    status: Mapped[EmployeeStatus] = mapped_column(
        # Stored as a plain string, like every enum of the models (hub.db.models.indicators._enum).
        Enum(EmployeeStatus, native_enum=False, length=32, validate_strings=True),
        default=EmployeeStatus.ACTIVE,
        server_default=EmployeeStatus.ACTIVE.value,
    )
    left_on: Mapped[dt.date | None]
    # What an identity provider knows the employee by (SCIM ``externalId``, hub/scim); unique where set.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The parts of the name an identity provider sends (SCIM name.givenName, name.familyName), kept to be
    # answered back; ``name`` stays the name. A new name from elsewhere clears them (they described the old one).
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    # SCIM's meta.created and meta.lastModified (hub/scim), and a filter's ``meta.lastModified gt``: every
    # change of an employee is an ORM update (``Organisation``), which ``onupdate`` stamps.
    created_at: Mapped[Timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    department: Mapped[Department] = relationship(lazy="raise")
    post: Mapped[Post] = relationship(lazy="raise")
    manager: Mapped[Employee | None] = relationship(remote_side="Employee.id", lazy="raise")

    __table_args__ = (Index("ix_employees_name", "name"),)


class PostAssignment(Base):
    """One stretch of an employee in a post; ``end_date`` is null for the current one."""

    __tablename__ = "post_assignments"

    id: Mapped[Key]
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date | None]

    employee: Mapped[Employee] = relationship(lazy="raise")
    post: Mapped[Post] = relationship(lazy="raise")
