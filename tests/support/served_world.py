"""A person's and a gate's steps over real HTTP, against an ``EnrollmentWorld`` served by
``optin serve`` (support/served_app.py): enrol, sign in to the portal, sync a gate's gallery."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

import httpx

from support.enrollment_world import SAMPLES, EnrollmentWorld


async def enroll(
    http: httpx.AsyncClient,
    world: EnrollmentWorld,
    photo: str,
    email: str,
    purposes: tuple[str, ...] = ("entry", "payment"),
    venues: tuple[str, ...] = ("onsen-hotel",),
) -> str:
    """Enrol with a sample photo; the new subject id."""
    response = await http.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": email,
            "purposes": list(purposes),
            "venues": list(venues),
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": ("selfie.jpg", (SAMPLES / photo).read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["subject_id"])


async def sign_in(http: httpx.AsyncClient, world: EnrollmentWorld, email: str) -> str:
    """Sign in with the link mailed to ``email``; keeps the session cookie, returns the CSRF
    token the portal's changes need."""
    for _ in range(100):
        mails = [m for m in world.smtp.received if email in m.rcpt_tos]
        if mails:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no mail to {email}")
    match = re.search(r"token=(optin_signin_[A-Za-z0-9_-]+)", mails[-1].text)
    assert match, mails[-1].text
    response = await http.post("/api/v1/portal/sign-in", json={"token": match.group(1)})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


async def gate_token(world: EnrollmentWorld, venue: str = "onsen-hotel") -> str:
    _gate, token = await world.register_gate(venue, f"{venue} gate")
    return token


async def gallery(http: httpx.AsyncClient, token: str, since: int = 0) -> dict[str, Any]:
    """The gate's gallery page after ``since`` (0: a snapshot), answered at once."""
    response = await http.get(
        "/api/v1/agent/gallery",
        params={"since": since},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
