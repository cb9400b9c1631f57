"""The venue staff's list of gate decisions, by role: per clock hour in the venue's zone, never
the minute, and a kind of decision with fewer than the statistics' threshold in an hour is only
said to be withheld, exactly where the statistics withhold it. Only venue staff, for their own
venue, may read it."""

from __future__ import annotations

import re
from typing import Any

from test_console_statistics import HOTEL, Venues, tokyo

from optin.db.enums import EventOutcome, OperatorRole

from support.console_world import ConsoleWorld

C = "/api/v1/console"
DAY = {"from": "2026-03-10", "to": "2026-03-10"}


async def test_venue_staff_see_hours_not_minutes_and_small_cells_withheld(
    console: ConsoleWorld,
) -> None:
    venues = Venues(console)
    assert console.world.settings.statistics.min_count == 5
    # 09:00: five granted entries (at the threshold) and one refusal (below it);
    # 10:00: two granted entries (below it). Another venue's decisions never show.
    await venues.entries(HOTEL, [tokyo(9, m) for m in (3, 11, 17, 29, 58)])
    await venues.entries(HOTEL, [tokyo(9, 41)], outcome=EventOutcome.NO_CONSENT)
    await venues.entries(HOTEL, [tokyo(10, 7), tokyo(10, 52)])
    await venues.entries("adventure-park", [tokyo(9, 30)] * 6)

    staff = await console.account(OperatorRole.VENUE_STAFF, venue=HOTEL)
    async with console.signed_in(staff) as operator:
        response = await operator.get(f"{C}/venues/{HOTEL}/events", params=DAY)
        assert response.status_code == 200, response.text
        listed: dict[str, Any] = response.json()
        statistics = await operator.get(
            f"{C}/venues/{HOTEL}/statistics", params={**DAY, "by": "hour"}
        )
        assert statistics.status_code == 200, statistics.text

    assert listed["precision"] == "hour"
    assert listed["min_count"] == 5
    assert listed["hours"] == [
        {
            "hour": "2026-03-10T10:00:00+09:00",
            "decisions": [],
            "withheld": [{"purpose": "entry", "outcome": "granted"}],
        },
        {
            "hour": "2026-03-10T09:00:00+09:00",
            "decisions": [{"gate": "Gate", "purpose": "entry", "outcome": "granted", "count": 5}],
            "withheld": [{"purpose": "entry", "outcome": "no_consent"}],
        },
    ]
    # No minute of any decision is anywhere in the answer.
    assert not re.search(r"T\d\d:(?!00:00)\d\d", response.text)
    assert "occurred_at" not in response.text
    # Granted entries are withheld exactly where the statistics withhold them.
    cells = {row["period"]: row for row in statistics.json()["entries"]["rows"]}
    assert cells["2026-03-10T10:00:00+09:00"]["suppressed"] is True
    assert cells["2026-03-10T09:00:00+09:00"]["count"] == 5


async def test_no_other_role_reads_the_venue_wide_decisions(console: ConsoleWorld) -> None:
    """Privacy officers read one person's decisions in the subject record (reasoned, audited),
    auditors the audit log, administrators the statistics: none of them this list."""
    await Venues(console).entries(HOTEL, [tokyo(9, m) for m in range(5)])
    accounts = [
        await console.account(OperatorRole.ADMINISTRATOR),
        await console.account(OperatorRole.PRIVACY_OFFICER),
        await console.account(OperatorRole.AUDITOR),
        await console.account(OperatorRole.VENUE_STAFF, venue="adventure-park"),
    ]
    for account in accounts:
        async with console.signed_in(account) as operator:
            refused = await operator.get(f"{C}/venues/{HOTEL}/events", params=DAY)
            assert refused.status_code == 403, (account, refused.text)
            assert "Gate" not in refused.text
