"""How a database failure becomes a problem answer: transient ones are 503 with Retry-After."""

from __future__ import annotations

import pytest
from litestar.testing import RequestFactory
from sqlalchemy.exc import DBAPIError

from enrollment_app.problems import handle_database_error


class DriverError(Exception):
    """Stands in for the driver's exception: asyncpg's carry the SQLSTATE as ``sqlstate``."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def answer(sqlstate: str | None) -> tuple[int, str | None]:
    exc = DBAPIError("SELECT 1", None, DriverError(sqlstate))
    response = handle_database_error(RequestFactory().get("/api/v1/agent/config"), exc)
    return response.status_code, response.headers.get("Retry-After")


@pytest.mark.parametrize(
    "sqlstate",
    [
        "57P01",  # the server is shutting down and terminated the session
        "57P03",  # the server is starting up
        "08006",  # the connection failed
        "40P01",  # deadlock broken
        "40001",  # serialization failure
        "53300",  # too many connections
    ],
)
def test_transient_failures_ask_to_try_again(sqlstate: str) -> None:
    status, retry_after = answer(sqlstate)
    assert status == 503
    assert retry_after is not None
    assert int(retry_after) > 0


def test_a_value_the_database_refuses_is_the_requests_fault() -> None:
    assert answer("22021") == (400, None)


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", None])
def test_other_database_errors_are_bugs_not_outages(sqlstate: str | None) -> None:
    # A unique violation or a missing table will not go away by trying again.
    assert answer(sqlstate)[0] == 500
