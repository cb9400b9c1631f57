"""Where and when an operator may be signed in: allowed networks and weekly hours.

The video-access leak-prevention practice: an account only works from the venue's or office's
networks and during working hours. Hours are written like ``mon-fri 08:00-19:00`` or
``daily 00:00-24:00`` (several allowed; a night shift is two windows) and read in the console's
time zone. An empty list admits nobody: access is granted explicitly, never by default.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from optin.errors import InvalidInput

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})\s*$")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What ``optin operator create`` grants unless told otherwise: this host and private LANs.
DEFAULT_NETWORKS: Final = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
DEFAULT_HOURS: Final = ("daily 00:00-24:00",)


@dataclass(frozen=True)
class HoursWindow:
    days: frozenset[int]
    start_minute: int
    end_minute: int

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute

    def ends_after(self, local: datetime) -> datetime:
        midnight = datetime.combine(local.date(), time(0), local.tzinfo)
        return midnight + timedelta(minutes=self.end_minute)


def _day_set(spec: str) -> frozenset[int]:
    if spec in {"daily", "all"}:
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidInput(
                f"unknown day in {spec!r}: use mon..sun, ranges like mon-fri, or daily"
            )
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise InvalidInput(f"day range {part!r} runs backwards")
        days.update(range(start, end + 1))
    return frozenset(days)


def _minute(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise InvalidInput(f"{text!r} is not a time of day")
    return hours * 60 + minutes


def parse_window(spec: str) -> HoursWindow:
    match = _WINDOW.match(spec.lower())
    if not match:
        raise InvalidInput(f"{spec!r} is not an hours window; write e.g. 'mon-fri 08:00-19:00'")
    start, end = _minute(match["start"]), _minute(match["end"])
    if end <= start:
        raise InvalidInput(f"{spec!r} ends before it starts; split a night shift into two windows")
    return HoursWindow(_day_set(match["days"]), start, end)


def parse_network(spec: str) -> IpNetwork:
    try:
        return ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{spec!r} is not a network; write e.g. 192.168.1.0/24") from None


def validate_rules(networks: Sequence[str], hours: Sequence[str]) -> tuple[list[str], list[str]]:
    """Normalised copies of the rules, or ``InvalidInput`` naming the first bad one."""
    for spec in hours:
        parse_window(spec)
    return [str(parse_network(n)) for n in networks], [spec.strip().lower() for spec in hours]


def network_allowed(networks: Sequence[str], client: str | None) -> bool:
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in parse_network(spec) for spec in networks)


def open_window_end(hours: Sequence[str], now: datetime, zone: str) -> datetime | None:
    """When the allowed window ``now`` falls in ends (the latest, if windows overlap); None if
    ``now`` is outside every window."""
    local = now.astimezone(ZoneInfo(zone))
    ends = [w.ends_after(local) for w in map(parse_window, hours) if w.contains(local)]
    return max(ends) if ends else None
