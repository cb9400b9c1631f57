"""The venue staff's "Recent gate decisions" in real headless Chromium: per clock hour, never the
minute, and an hour's kind of decision below the statistics' threshold shown only as withheld.
axe-core checks the view. (Own module: its decisions must not reach the other console tests.)"""

from __future__ import annotations

import re
from datetime import datetime
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import LiveApp

# Helpers of the console flow beside this one.
from test_console_flow import (
    add_entries,
    assert_accessible,
    desk,
    make_operator,
    sign_in,
    wait_for_text,
)

from optin.db.base import utcnow
from optin.db.enums import OperatorRole

pytestmark = pytest.mark.browser


def test_venue_staff_see_decisions_per_hour_small_ones_withheld(
    browser: Any, live_app: LiveApp
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    today = utcnow().astimezone(tokyo).date()
    # Today at the hotel: five entries in the 10:00 hour, two in the 11:00 hour (Tokyo time).
    add_entries(
        live_app,
        [datetime.combine(today, clock(10, m), tokyo) for m in (4, 13, 27, 38, 51)]
        + [datetime.combine(today, clock(11, m), tokyo) for m in (9, 44)],
    )
    staff = make_operator(live_app, OperatorRole.VENUE_STAFF, "staff-e", venue="onsen-hotel")
    with desk(browser, live_app) as page:
        sign_in(page, live_app, staff, "/console/venue")
        wait_for_text(page, "#events tbody", "withheld")
        rows = page.locator("#events tbody tr")
        assert rows.count() == 2
        newest, older = (rows.nth(i).text_content() or "" for i in range(2))
        assert "granted: fewer than 5, withheld" in newest
        assert "Stats gate" not in newest
        assert "Stats gate" in older
        assert "granted × 5" in older
        times = page.locator("#events tbody time")
        stamps = [times.nth(i).get_attribute("datetime") or "" for i in range(times.count())]
        assert [s[11:19] for s in stamps] == ["11:00:00", "10:00:00"]
        # No minute of any decision on the page.
        table = page.locator("#events").text_content() or ""
        assert not re.search(r":(04|13|27|38|51|09|44)\b", table)
        assert page.locator("#events-empty").is_hidden()
        assert_accessible(page, "the venue staff's gate decisions")
