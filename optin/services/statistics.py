"""Venue statistics: entries and payments per hour or per day, with small counts withheld.

Only enrolled people's gate decisions and charges are counted: strangers leave no rows, so there
is nothing to count about them. Periods are the venue's own clock hours and days.

Concealment (BRIEF 3.3): a count from 1 to ``min_count - 1`` is suppressed, and so is the sum of
money in that cell. Hours are the cells everything is built from; a day, or the total of a
range, is only shown when none of the hours it adds up is suppressed. Otherwise the day's
figure minus its shown hours (or the total minus the shown days) would give the small hour
away. Zero is shown: it is about nobody. The venue staff's list of gate decisions
(``venue_decisions``) is cut into the same hour cells and withholds them the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.enums import ChargeStatus, EventOutcome, Purpose
from optin.db.models import Charge, Event, Gate, Venue
from optin.errors import InvalidInput

Granularity = Literal["hour", "day"]
#: The longest range one request may cover, per granularity.
MAX_DAYS: Final = {"hour": 31, "day": 366}
#: Days outside these are refused (and cannot overflow a datetime in any zone).
EARLIEST: Final = date(2000, 1, 1)
LATEST: Final = date(2999, 12, 31)
#: Charges that took money (a full refund gave it all back, so it is no longer a payment).
PAID: Final = (ChargeStatus.CAPTURED, ChargeStatus.PARTIALLY_REFUNDED)


@dataclass
class _Cell:
    count: int = 0
    sum_minor: int = 0


def _hour_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``moment``'s local clock hour began (a UTC key keeps the two
    01:00 hours of an autumn DST change apart)."""
    local = moment.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every local clock hour in [start, end), as UTC instants."""
    hours: dict[datetime, None] = {}
    moment = start
    while moment < end:
        hours[_hour_start(moment, zone)] = None
        moment += timedelta(hours=1)
    return list(hours)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def day_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days ``first`` to ``last`` inclusive."""
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def check_range(first: date, last: date, by: Granularity) -> None:
    for day in (first, last):
        if not EARLIEST <= day <= LATEST:
            raise InvalidInput(f"give days between {EARLIEST} and {LATEST}")
    if last < first:
        raise InvalidInput("the range ends before it starts")
    if (last - first).days + 1 > MAX_DAYS[by]:
        raise InvalidInput(f"by {by}, a range covers at most {MAX_DAYS[by]} days")


def default_range(
    venue: Venue, first: date | None, last: date | None, now: datetime
) -> tuple[date, date]:
    """The days asked for; without them, the last seven days up to today in the venue's zone."""
    last = last or now.astimezone(ZoneInfo(venue.timezone)).date()
    if first is None:
        first = last - timedelta(days=6) if last >= EARLIEST + timedelta(days=6) else last
    return first, last


class _Table:
    """One measure (entries, or payments in one currency) over hour cells."""

    def __init__(self, hours: list[datetime], zone: ZoneInfo, min_count: int) -> None:
        self.hours = hours
        self.zone = zone
        self.min_count = min_count
        self.cells: dict[datetime, _Cell] = defaultdict(_Cell)

    def add(self, moment: datetime, amount: int = 0) -> None:
        cell = self.cells[_hour_start(moment, self.zone)]
        cell.count += 1
        cell.sum_minor += amount

    def small(self, count: int) -> bool:
        return 0 < count < self.min_count

    @staticmethod
    def _shown(count: int, total: int, hidden: bool, money: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {"count": None if hidden else count}
        if money:
            shown["sum_minor"] = None if hidden else total
        shown["suppressed"] = hidden
        return shown

    def report(self, by: Granularity, days: Iterable[date], money: bool) -> dict[str, Any]:
        suppressed_hours = {h for h in self.hours if self.small(self.cells[h].count)}
        rows: list[dict[str, Any]] = []
        if by == "hour":
            for hour in self.hours:
                cell = self.cells[hour]
                hidden = hour in suppressed_hours
                rows.append(
                    {
                        "period": hour.astimezone(self.zone).isoformat(),
                        **self._shown(cell.count, cell.sum_minor, hidden, money),
                    }
                )
        else:
            per_day: dict[date, list[datetime]] = defaultdict(list)
            for hour in self.hours:
                per_day[hour.astimezone(self.zone).date()].append(hour)
            for day in days:
                hours = per_day[day]
                count = sum(self.cells[h].count for h in hours)
                total = sum(self.cells[h].sum_minor for h in hours)
                hidden = self.small(count) or any(h in suppressed_hours for h in hours)
                rows.append({"period": day.isoformat(), **self._shown(count, total, hidden, money)})
        count = sum(self.cells[h].count for h in self.hours)
        total = sum(self.cells[h].sum_minor for h in self.hours)
        hidden = self.small(count) or bool(suppressed_hours)
        return {"rows": rows, "total": self._shown(count, total, hidden, money)}

    @property
    def count(self) -> int:
        return sum(cell.count for cell in self.cells.values())


async def venue_statistics(
    session: AsyncSession,
    venue: Venue,
    first: date,
    last: date,
    by: Granularity,
    min_count: int,
) -> dict[str, Any]:
    """Entries (granted entry decisions) and payments (captured charges, net of refunds, per
    currency) at ``venue`` over its local days ``first`` to ``last``."""
    check_range(first, last, by)
    zone = ZoneInfo(venue.timezone)
    start, end = day_range(first, last, zone)
    hours = _hours(start, end, zone)
    days = list(_days(first, last))

    entries = _Table(hours, zone, min_count)
    for moment in await session.scalars(
        select(Event.occurred_at).where(
            Event.venue_id == venue.id,
            Event.purpose == Purpose.ENTRY,
            Event.outcome == EventOutcome.GRANTED,
            Event.occurred_at >= start,
            Event.occurred_at < end,
        )
    ):
        entries.add(moment)

    payments: dict[str, _Table] = {venue.currency: _Table(hours, zone, min_count)}
    rows = await session.execute(
        select(Charge.created_at, Charge.currency, Charge.amount_minor - Charge.refunded_minor)
        .where(
            Charge.venue_id == venue.id,
            Charge.status.in_(PAID),
            Charge.created_at >= start,
            Charge.created_at < end,
        )
        .order_by(Charge.currency)
    )
    for moment, currency, net in rows.all():
        payments.setdefault(currency, _Table(hours, zone, min_count)).add(moment, int(net))
    # A currency other than the venue's own, with fewer payments than the threshold in all,
    # would by merely being listed say that someone paid in it: leave it out.
    currencies = [
        currency
        for currency, table in sorted(payments.items())
        if currency == venue.currency or table.count >= min_count
    ]
    return {
        "venue": venue.slug,
        "timezone": venue.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "by": by,
        "min_count": min_count,
        "entries": entries.report(by, days, money=False),
        "payments": [
            {"currency": c, **payments[c].report(by, days, money=True)} for c in currencies
        ],
    }


#: The name shown for a decision whose gate row is gone.
REMOVED_GATE: Final = "removed gate"


async def venue_decisions(
    session: AsyncSession, venue: Venue, first: date, last: date, min_count: int
) -> dict[str, Any]:
    """Gate decisions at ``venue`` per local clock hour, newest hour first, with no exact times.

    The cells are those of the statistics: one local clock hour, for one kind of decision
    (purpose and outcome, so granted entries are the very cells ``venue_statistics`` counts).
    A kind with fewer than ``min_count`` decisions in an hour is only said to be withheld;
    otherwise its count per gate is listed. Times go no finer than the hour, so the list cannot
    be laid beside a queue, a camera or a till receipt to tell who passed when.
    """
    check_range(first, last, "hour")
    zone = ZoneInfo(venue.timezone)
    start, end = day_range(first, last, zone)
    hours = _hours(start, end, zone)
    kinds: dict[tuple[str, str], _Table] = {}
    per_gate: dict[tuple[datetime, str, str], Counter[str]] = defaultdict(Counter)
    rows = await session.execute(
        select(Event.occurred_at, Event.purpose, Event.outcome, Gate.name)
        .outerjoin(Gate, Gate.id == Event.gate_id)
        .where(Event.venue_id == venue.id, Event.occurred_at >= start, Event.occurred_at < end)
    )
    for moment, decided_for, decision, gate in rows.all():
        kind = (str(decided_for), str(decision))
        kinds.setdefault(kind, _Table(hours, zone, min_count)).add(moment)
        per_gate[(_hour_start(moment, zone), *kind)][gate or REMOVED_GATE] += 1
    shown = []
    for hour in reversed(hours):
        decisions: list[dict[str, Any]] = []
        withheld: list[dict[str, str]] = []
        for (purpose, outcome), table in sorted(kinds.items()):
            count = table.cells[hour].count if hour in table.cells else 0
            if table.small(count):
                withheld.append({"purpose": purpose, "outcome": outcome})
            elif count:
                gates = per_gate[(hour, purpose, outcome)]
                decisions.extend(
                    {"gate": gate, "purpose": purpose, "outcome": outcome, "count": n}
                    for gate, n in sorted(gates.items())
                )
        if decisions or withheld:
            shown.append(
                {
                    "hour": hour.astimezone(zone).isoformat(),
                    "decisions": decisions,
                    "withheld": withheld,
                }
            )
    return {
        "venue": venue.slug,
        "timezone": venue.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "precision": "hour",
        "min_count": min_count,
        "hours": shown,
    }
