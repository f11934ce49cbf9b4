"""`perfhub import-org` as an operator runs it: a process of its own on a fresh database of a real organisation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from hub.db.models import AuditEntry, Employee, PostAssignment
from tests.conftest import opened_engine

ROWS = 2001
"""Enough rows for two progress lines and the last."""


def perfhub(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFHUB_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "perfhub"), "--database-url", url, *args],
        cwd=tmp_path,
        env={**env, "PERFHUB_DEMO": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def big_file(path: Path) -> Path:
    lines = [
        "employee_no,name,email,hired_on,department_code,department_name,parent_department_code,"
        "post_code,post_name,post_family,manager_employee_no",
        "P0000,Head,head@example.com,2020-01-01,HQ,Headquarters,,HEAD,Head,Management,",
    ]
    lines += [
        f"P{n:04d},Person {n},p{n}@example.com,2024-02-01,OPS,Operations,HQ,AGENT,Agent,Support,P0000"
        for n in range(1, ROWS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _stored(url: str) -> tuple[int, int, list[str]]:
    async with opened_engine(url) as engine, engine.connect() as connection:
        employees = (await connection.execute(select(func.count()).select_from(Employee))).scalar_one()
        assignments = (await connection.execute(select(func.count()).select_from(PostAssignment))).scalar_one()
        outcomes = (
            await connection.execute(
                select(AuditEntry.outcome).where(AuditEntry.operation == "import-org").order_by(AuditEntry.id)
            )
        ).scalars()
        return employees, assignments, list(outcomes)


def test_import_org_loads_checks_and_reimports_unchanged(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    assert perfhub(tmp_path, url, "migrate").returncode == 0
    file = big_file(tmp_path / "org.csv")

    dry = perfhub(tmp_path, url, "import-org", str(file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and f"employees {ROWS} created" in dry.stdout
    assert asyncio.run(_stored(url))[:2] == (0, 0)

    loaded = perfhub(tmp_path, url, "import-org", str(file))
    assert loaded.returncode == 0, loaded.stderr
    progress = [line for line in loaded.stdout.splitlines() if line.endswith(" rows")]
    assert progress == [f"perfhub import-org: {done} of {ROWS} rows" for done in (1000, 2000, ROWS)]
    assert "departments 2 created" in loaded.stdout and "posts 2 created" in loaded.stdout
    assert f"employees {ROWS} created, 0 updated, 0 unchanged" in loaded.stdout

    again = perfhub(tmp_path, url, "import-org", str(file))
    assert f"employees 0 created, 0 updated, {ROWS} unchanged" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        file.read_text(encoding="utf-8").replace("P0005,Person 5,p5@", "P0005,Person 5,p6@"), encoding="utf-8"
    )
    refused = perfhub(tmp_path, url, "import-org", str(bad))
    assert refused.returncode == 1
    assert "IMPORT_REJECTED" in refused.stderr and "line 7:" in refused.stderr and "line 8:" in refused.stderr
    assert asyncio.run(_stored(url)) == (ROWS, ROWS, ["ok", "ok", "IMPORT_REJECTED"])
