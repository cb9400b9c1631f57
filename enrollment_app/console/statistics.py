"""Venue statistics for administrators and the venue's own staff: entries and payments per hour
or per day in the venue's time zone, with small counts suppressed (see optin.services.statistics).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from enrollment_app.console.context import Console
from optin.db.base import utcnow
from optin.services.roles import Permission
from optin.services.statistics import default_range, venue_statistics
from optin.services.venues import venue_by_slug

FROM = "first day, in the venue's zone (default: a week before `to`)"
TO = "last day, in the venue's zone (default: today)"


class StatisticsController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get(
        "/venues/{slug:str}/statistics",
        summary="Entries and payments per hour or day, small counts suppressed",
    )
    async def statistics(
        self,
        console: Console,
        slug: FromPath[str],
        first: Annotated[date | None, QueryParameter(name="from", description=FROM)] = None,
        last: Annotated[date | None, QueryParameter(name="to", description=TO)] = None,
        by: FromQuery[Literal["hour", "day"]] = "day",
    ) -> dict[str, Any]:
        venue = await venue_by_slug(console.db, slug)
        await console.require(Permission.VIEW_STATISTICS, venue.id)
        first, last = default_range(venue, first, last, utcnow())
        return await venue_statistics(
            console.db,
            venue,
            first,
            last,
            by,
            console.services.settings.statistics.min_count,
        )
