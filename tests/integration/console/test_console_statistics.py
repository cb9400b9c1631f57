"""Venue statistics (acceptance check 21): entries and payments per hour and day in the venue's
zone, counts below the threshold suppressed, and no published figure that gives one away."""

from __future__ import annotations

import dataclasses
import random
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from optin.config import StatisticsSettings
from optin.db.enums import ChargeStatus, EventOutcome, OperatorRole, Purpose
from optin.db.models import AuditEntry, Charge, Event
from optin.services.gates import register_gate
from optin.services.venues import create_venue

from support.console_world import ConsoleWorld, Operator

C = "/api/v1/console"
HOTEL = "onsen-hotel"  # Asia/Tokyo
DAY = date(2026, 3, 10)


def tokyo(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo("Asia/Tokyo"))


@dataclasses.dataclass
class Venues:
    console: ConsoleWorld

    async def add_venue(self, slug: str, timezone: str) -> None:
        async def work(session: Any) -> None:
            await create_venue(
                session, self.console.world.keys.master, slug=slug, name=slug, timezone=timezone
            )

        await self.console.world.in_db(work)

    async def gate(self, slug: str) -> tuple[UUID, UUID]:
        async def work(session: Any) -> tuple[UUID, UUID]:
            gate, _ = await register_gate(session, self.console.world.keys.tokens, slug, "Gate")
            return gate.id, gate.venue_id

        result: tuple[UUID, UUID] = await self.console.world.in_db(work)
        return result

    async def entries(
        self,
        slug: str,
        moments: list[datetime],
        *,
        purpose: Purpose = Purpose.ENTRY,
        outcome: EventOutcome = EventOutcome.GRANTED,
    ) -> None:
        gate_id, venue_id = await self.gate(slug)

        async def work(session: Any) -> None:
            for moment in moments:
                session.add(
                    Event(
                        venue_id=venue_id,
                        gate_id=gate_id,
                        subject_id=None,
                        purpose=purpose,
                        outcome=outcome,
                        distance=0.3,
                        occurred_at=moment.astimezone(UTC),
                        idempotency_key=secrets.token_hex(16),
                    )
                )

        await self.console.world.in_db(work)

    async def charges(
        self,
        slug: str,
        moments: list[datetime],
        amount: int,
        *,
        currency: str = "JPY",
        status: ChargeStatus = ChargeStatus.CAPTURED,
        refunded: int = 0,
    ) -> None:
        gate_id, venue_id = await self.gate(slug)

        async def work(session: Any) -> None:
            for moment in moments:
                session.add(
                    Charge(
                        venue_id=venue_id,
                        gate_id=gate_id,
                        subject_id=None,
                        idempotency_key=secrets.token_hex(16),
                        amount_minor=amount,
                        currency=currency,
                        item="Day pass",
                        status=status,
                        refunded_minor=refunded,
                        created_at=moment.astimezone(UTC),
                        updated_at=moment.astimezone(UTC),
                    )
                )

        await self.console.world.in_db(work)

    async def denials(self) -> list[AuditEntry]:
        async def work(session: Any) -> list[AuditEntry]:
            rows = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "console.denied")
            )
            return list(rows.all())

        result: list[AuditEntry] = await self.console.world.in_db(work)
        return result


@pytest.fixture
def venues(console: ConsoleWorld) -> Venues:
    return Venues(console)


@pytest.fixture
async def admin(console: ConsoleWorld) -> AsyncIterator[Operator]:
    credentials = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(credentials) as operator:
        yield operator


async def _statistics(operator: Operator, venue: str = HOTEL, **query: str) -> dict[str, Any]:
    response = await operator.get(f"{C}/venues/{venue}/statistics", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _by_period(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["period"]: {k: v for k, v in row.items() if k != "period"} for row in rows}


async def test_counts_below_the_threshold_are_suppressed_at_the_exact_boundary(
    console: ConsoleWorld, venues: Venues, admin: Operator
) -> None:
    assert console.world.settings.statistics.min_count == 5
    # 09:00 has 4 entries (one short), 10:00 exactly 5, 11:00 none.
    await venues.entries(HOTEL, [tokyo(9, m) for m in (1, 10, 20, 59)])
    await venues.entries(HOTEL, [tokyo(10, m) for m in (0, 5, 6, 7, 59)])
    # Not entries: a refusal, a payment decision, and another venue's entry.
    await venues.entries(HOTEL, [tokyo(11)], outcome=EventOutcome.NO_CONSENT)
    await venues.entries(HOTEL, [tokyo(11)], purpose=Purpose.PAYMENT)
    await venues.entries("adventure-park", [tokyo(11)] * 9)

    stats = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "hour"})
    assert stats["min_count"] == 5
    assert stats["timezone"] == "Asia/Tokyo"
    hours = _by_period(stats["entries"]["rows"])
    assert len(hours) == 24
    assert hours["2026-03-10T09:00:00+09:00"] == {"count": None, "suppressed": True}
    assert hours["2026-03-10T10:00:00+09:00"] == {"count": 5, "suppressed": False}
    assert hours["2026-03-10T11:00:00+09:00"] == {"count": 0, "suppressed": False}
    # The total would be 9; minus the shown 5 it would give the suppressed 4 away.
    assert stats["entries"]["total"] == {"count": None, "suppressed": True}

    # The day adds up 09:00 too: shown, it would give 09:00 away just the same.
    days = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "day"})
    assert days["entries"]["rows"] == [{"period": "2026-03-10", "count": None, "suppressed": True}]

    # One more entry at 09:00 reaches the threshold: everything is shown.
    await venues.entries(HOTEL, [tokyo(9, 30)])
    stats = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "hour"})
    hours = _by_period(stats["entries"]["rows"])
    assert hours["2026-03-10T09:00:00+09:00"] == {"count": 5, "suppressed": False}
    assert stats["entries"]["total"] == {"count": 10, "suppressed": False}
    days = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "day"})
    assert days["entries"]["rows"] == [{"period": "2026-03-10", "count": 10, "suppressed": False}]


async def test_the_threshold_is_a_setting(console: ConsoleWorld, venues: Venues) -> None:
    console.world.settings = dataclasses.replace(
        console.world.settings, statistics=StatisticsSettings(min_count=2)
    )
    await venues.entries(HOTEL, [tokyo(9), tokyo(10), tokyo(10, 30)])
    credentials = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(credentials) as admin:
        stats = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "hour"})
    assert stats["min_count"] == 2
    hours = _by_period(stats["entries"]["rows"])
    assert hours["2026-03-10T09:00:00+09:00"]["suppressed"] is True
    assert hours["2026-03-10T10:00:00+09:00"] == {"count": 2, "suppressed": False}


async def test_payments_per_currency_with_sums_suppressed_alongside_counts(
    venues: Venues, admin: Operator
) -> None:
    # 12:00: five captured payments of 1000, one of them refunded 400: 4600 net.
    await venues.charges(HOTEL, [tokyo(12, m) for m in range(4)], 1000)
    await venues.charges(
        HOTEL, [tokyo(12, 30)], 1000, status=ChargeStatus.PARTIALLY_REFUNDED, refunded=400
    )
    # 13:00: two payments: suppressed, and so is their sum.
    await venues.charges(HOTEL, [tokyo(13), tokyo(13, 1)], 2500)
    # Not payments: declined, fully refunded, still pending.
    await venues.charges(HOTEL, [tokyo(14)] * 5, 900, status=ChargeStatus.DECLINED)
    await venues.charges(HOTEL, [tokyo(14)] * 5, 900, status=ChargeStatus.REFUNDED, refunded=900)
    await venues.charges(HOTEL, [tokyo(14)] * 5, 900, status=ChargeStatus.PENDING)
    # Three payments in another currency: listing it at all would say someone paid in it.
    await venues.charges(HOTEL, [tokyo(15)] * 3, 20, currency="USD")

    stats = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "hour"})
    (jpy,) = stats["payments"]
    assert jpy["currency"] == "JPY"
    hours = _by_period(jpy["rows"])
    assert hours["2026-03-10T12:00:00+09:00"] == {
        "count": 5,
        "sum_minor": 4600,
        "suppressed": False,
    }
    assert hours["2026-03-10T13:00:00+09:00"] == {
        "count": None,
        "sum_minor": None,
        "suppressed": True,
    }
    assert hours["2026-03-10T14:00:00+09:00"] == {"count": 0, "sum_minor": 0, "suppressed": False}
    assert jpy["total"] == {"count": None, "sum_minor": None, "suppressed": True}

    # Five in USD: now it is listed, with its own cells.
    await venues.charges(HOTEL, [tokyo(15)] * 2, 20, currency="USD")
    stats = await _statistics(admin, **{"from": "2026-03-10", "to": "2026-03-10", "by": "day"})
    assert [p["currency"] for p in stats["payments"]] == ["JPY", "USD"]
    usd = stats["payments"][1]
    assert usd["rows"] == [
        {"period": "2026-03-10", "count": 5, "sum_minor": 100, "suppressed": False}
    ]
    assert usd["total"] == {"count": 5, "sum_minor": 100, "suppressed": False}


async def test_no_published_figure_gives_a_suppressed_hour_away(
    venues: Venues, admin: Operator
) -> None:
    """Random traffic over three days: every day or total that is shown adds up only hours that
    are shown, so subtracting shown figures never yields a suppressed one."""
    rng = random.Random(20260310)
    moments = []
    for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)):
        for hour in range(24):
            # Busy afternoons, quiet mornings, the odd lone visitor at night.
            weight = 9 if 12 <= hour <= 17 else (3 if 7 <= hour <= 11 else 1)
            count = rng.choice([0, 0, 1, 2, 5, 7, 12]) * weight // 3
            moments += [tokyo(hour, rng.randrange(60), day) for _ in range(count)]
    await venues.entries(HOTEL, moments)
    query = {"from": "2026-03-10", "to": "2026-03-12"}
    hours = (await _statistics(admin, **query, by="hour"))["entries"]
    days = (await _statistics(admin, **query, by="day"))["entries"]

    suppressed = {r["period"] for r in hours["rows"] if r["suppressed"]}
    assert suppressed, "the random traffic should have some small hours"
    assert all(r["count"] is None for r in hours["rows"] if r["suppressed"])
    for row in days["rows"]:
        in_day = [h for h in hours["rows"] if h["period"].startswith(row["period"])]
        assert len(in_day) == 24
        if not row["suppressed"]:
            assert not any(h["suppressed"] for h in in_day), row
            assert row["count"] == sum(h["count"] for h in in_day)
    for total in (hours["total"], days["total"]):
        assert total["suppressed"] == bool(suppressed)
    # The real numbers agree with what was inserted, wherever they are shown.
    actual = {
        f"{(DAY + timedelta(days=d)).isoformat()}": sum(
            1 for m in moments if m.date() == DAY + timedelta(days=d)
        )
        for d in range(3)
    }
    for row in days["rows"]:
        if not row["suppressed"]:
            assert row["count"] == actual[row["period"]]


async def test_hours_are_the_venues_own(venues: Venues, admin: Operator) -> None:
    # India is UTC+05:30: local hours start at half past in UTC, and late UTC evening is the
    # next local morning.
    await venues.add_venue("goa-beach", "Asia/Kolkata")
    early = datetime(2026, 3, 9, 23, 40, tzinfo=UTC)  # 05:10 on 10 March in Goa
    await venues.entries("goa-beach", [early + timedelta(minutes=i) for i in range(5)])
    stats = await _statistics(
        admin, venue="goa-beach", **{"from": "2026-03-10", "to": "2026-03-10", "by": "hour"}
    )
    hours = _by_period(stats["entries"]["rows"])
    assert hours["2026-03-10T05:00:00+05:30"] == {"count": 5, "suppressed": False}
    assert sum(r["count"] for r in stats["entries"]["rows"]) == 5
    # 9 March (UTC) holds none of them in Goa's days.
    before = await _statistics(
        admin, venue="goa-beach", **{"from": "2026-03-09", "to": "2026-03-09", "by": "day"}
    )
    assert before["entries"]["total"] == {"count": 0, "suppressed": False}

    # New York leaves daylight saving time on 1 November 2026: 01:00 comes twice, 25 hours.
    await venues.add_venue("ny-museum", "America/New_York")
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    await venues.entries("ny-museum", [first] * 5 + [second] * 6)
    stats = await _statistics(
        admin, venue="ny-museum", **{"from": "2026-11-01", "to": "2026-11-01", "by": "hour"}
    )
    hours = _by_period(stats["entries"]["rows"])
    assert len(hours) == 25
    assert hours["2026-11-01T01:00:00-04:00"]["count"] == 5
    assert hours["2026-11-01T01:00:00-05:00"]["count"] == 6


async def test_venue_staff_see_only_their_own_venue(console: ConsoleWorld, venues: Venues) -> None:
    await venues.entries(HOTEL, [tokyo(10, m) for m in range(6)])
    park_staff = await console.account(OperatorRole.VENUE_STAFF, "park", venue="adventure-park")
    auditor = await console.account(OperatorRole.AUDITOR)
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    for credentials in (park_staff, auditor, officer):
        async with console.signed_in(credentials) as operator:
            refused = await operator.get(f"{C}/venues/{HOTEL}/statistics?by=hour")
            assert refused.status_code == 403, refused.text
    assert len(await venues.denials()) == 3

    staff = await console.account(OperatorRole.VENUE_STAFF, "hotel", venue=HOTEL)
    async with console.signed_in(staff) as operator:
        stats = await _statistics(operator, **{"from": "2026-03-10", "to": "2026-03-10"})
    assert stats["entries"]["rows"] == [{"period": "2026-03-10", "count": 6, "suppressed": False}]


async def test_ranges_are_checked(admin: Operator) -> None:
    base = f"{C}/venues/{HOTEL}/statistics"
    backwards = await admin.get(f"{base}?from=2026-03-10&to=2026-03-09")
    assert backwards.status_code == 400
    too_long = await admin.get(f"{base}?from=2026-01-01&to=2026-03-01&by=hour")
    assert too_long.status_code == 400
    assert "31 days" in too_long.json()["note"]
    for far in ("?from=0001-01-01&to=0001-01-02", "?to=9999-12-31", "?to=0001-01-03"):
        assert (await admin.get(f"{base}{far}")).status_code == 400, far
    default = await admin.get(base)
    assert default.status_code == 200
    body = default.json()
    assert body["by"] == "day"
    assert len(body["entries"]["rows"]) == 7
    assert (await admin.get(f"{C}/venues/nowhere/statistics")).status_code == 404
