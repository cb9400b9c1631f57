"""On SQLite, a request whose transaction reads and then writes waits for another writer (the
background mail-queue sender, the CLI) instead of failing with "database is locked" (a 503).

Every console and portal request reads its session, then writes its idle clock. Begun as a
reader, that transaction cannot become a writer while another connection writes, busy timeout or
not: it must take the write lock first (BEGIN IMMEDIATE), which waits. Nor once another
connection committed a change after its read: an enrollment, which reads before its face work
and writes after it, keeps no transaction open through the face work.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest

from optin.db.engine import parse_url, sqlite_path
from optin.db.enums import OperatorRole
from optin.services import enrollment

from support.console_world import ConsoleWorld
from support.enrollment_world import EnrollmentWorld

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"])
HELD_SECONDS = 0.5


@contextmanager
def another_writer_commits_meanwhile(database_url: str) -> Iterator[None]:
    """Another connection holds the write lock as the request starts and commits a change
    half a second later, while the request is between its read and its write."""
    path = sqlite_path(parse_url(database_url))
    assert path is not None
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE venues SET name = name")
        timer = threading.Timer(HELD_SECONDS, other.execute, ["COMMIT"])
        timer.start()
        try:
            yield
        finally:
            timer.join()


@SQLITE_ONLY
async def test_a_console_request_waits_for_another_writer(console: ConsoleWorld) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(admin) as operator:
        with another_writer_commits_meanwhile(console.world.settings.database_url):
            answer = await operator.get("/api/v1/console/me")
    assert answer.status_code == 200, answer.text


@SQLITE_ONLY
async def test_a_portal_request_waits_for_another_writer(world: EnrollmentWorld) -> None:
    enrolled = await world.enroll()
    signed_in = await world.client.post(
        "/api/v1/portal/sign-in", json={"recovery_code": enrolled["recovery_code"]}
    )
    assert signed_in.status_code == 200, signed_in.text
    with another_writer_commits_meanwhile(world.settings.database_url):
        answer = await world.client.get("/api/v1/portal/me")
    assert answer.status_code == 200, answer.text


@SQLITE_ONLY
async def test_an_enrollment_survives_another_writer_during_its_face_work(
    world: EnrollmentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enrollment reads (notice, venues) before its face work and writes after it. Another
    connection commits a change in between: a transaction still open from the reads could not
    write any more (SQLite skips an update to the same value, hence a real change)."""
    path = sqlite_path(parse_url(world.settings.database_url))
    assert path is not None
    face_work = enrollment._face_from_request

    def face_work_then_another_commit(*args: Any) -> Any:
        found = face_work(*args)
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("UPDATE venues SET name = name || '.'")
        return found

    monkeypatch.setattr(enrollment, "_face_from_request", face_work_then_another_commit)
    enrolled = await world.enroll()  # asserts the 201
    assert enrolled["subject_id"]
