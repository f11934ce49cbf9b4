"""Settings from the environment: the organisation's grade bands, the database URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.appraisal import AppraisalError
from hub.cli import main
from hub.config import Settings
from hub.domain import Grade


def test_grade_bands_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """PERFHUB_GRADE_BANDS sets the lowest total of S, A, B and C for every post."""
    monkeypatch.setenv("PERFHUB_GRADE_BANDS", "[95, 85, 75, 65]")
    bands = Settings().bands()
    assert [bands.grade(total) for total in (96, 90, 80, 70, 50)] == [Grade.S, Grade.A, Grade.B, Grade.C, Grade.D]


def test_default_grade_bands() -> None:
    """Without configuration the bands are 90 / 80 / 70 / 60."""
    assert Settings().bands().grade(71.111) is Grade.B


def test_bands_out_of_order_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds that do not fall from S to C are an error, not a silent misgrading."""
    monkeypatch.setenv("PERFHUB_GRADE_BANDS", "[60, 70, 80, 90]")
    with pytest.raises(AppraisalError):
        Settings().bands()


@pytest.mark.parametrize(
    ("typed", "used"),
    [
        ("sqlite:////tmp/hub.db", "sqlite+aiosqlite:////tmp/hub.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://hr@db.example/perfhub", "postgresql+asyncpg://hr@db.example/perfhub"),
        ("postgres://hr@db.example/perfhub", "postgresql+asyncpg://hr@db.example/perfhub"),
        ("postgresql+asyncpg://hr@db.example/perfhub", "postgresql+asyncpg://hr@db.example/perfhub"),
        ("sqlite+aiosqlite:///./perfhub.db", "sqlite+aiosqlite:///./perfhub.db"),
    ],
)
def test_a_database_url_without_a_driver_gets_the_async_one(
    typed: str, used: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL people type (and most tools print) names no driver; the hub runs on its async drivers only."""
    monkeypatch.setenv("PERFHUB_DATABASE_URL", typed)
    assert Settings().database_url == used


def test_the_cli_migrates_a_database_named_without_a_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`PERFHUB_DATABASE_URL=sqlite:///FILE perfhub migrate` printed SQLAlchemy's asyncio traceback; it migrates."""
    database = tmp_path / "own.db"
    monkeypatch.setenv("PERFHUB_DATABASE_URL", f"sqlite:///{database}")
    assert main(["migrate"]) == 0
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"employees", "cycles", "alembic_version"} <= tables
