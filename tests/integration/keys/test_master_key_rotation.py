"""``optin keys rotate`` while the server runs: everything keeps working, nothing restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from optin.crypto import totp
from optin.crypto.envelope import peek_key_id
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.services.gates import register_gate

from support.console_world import PASSWORD, ConsoleWorld, Credentials
from support.enrollment_world import SAMPLES, EnrollmentWorld
from support.served_app import served


def _optin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")} | env
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _gate_token(world: EnrollmentWorld) -> str:
    engine = create_engine(world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            _, token = await register_gate(session, world.keys.tokens, "onsen-hotel", "Door")
            await session.commit()
            return token
    finally:
        await engine.dispose()


def _checks(
    base: str, recovery_code: str, gate_token: str, operator: Credentials, round_: int
) -> None:
    """What people, gates and operators do, all of which needs the master key."""
    with httpx.Client(base_url=base, timeout=30) as person:
        signed = person.post("/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
        assert signed.status_code == 200, signed.text
        me = person.get("/api/v1/portal/me")  # decrypts the contact with the person's key
        assert me.status_code == 200, me.text
        assert me.json()["subject"]["contact"]["email"] == "before@example.org"
    gallery = httpx.get(
        f"{base}/api/v1/agent/gallery",
        headers={"authorization": f"Bearer {gate_token}"},
        timeout=30,
    )
    assert gallery.status_code == 200, gallery.text
    assert len(gallery.json()["entries"]) >= 1  # venue key and templates unwrapped
    # Each code works once: the second round uses the next step (inside the drift window).
    code = totp.code_at(operator.secret, totp.step_of(time.time()) + round_)
    console = httpx.post(
        f"{base}/api/v1/console/sign-in",
        json={"username": operator.username, "password": PASSWORD, "code": code},
        cookies=operator.device_cookies,
        timeout=30,
    )
    assert console.status_code == 200, console.text


def _enrol_through(base: str, world: EnrollmentWorld) -> httpx.Response:
    photo = SAMPLES / "kit_harington" / "kit_harington_1.jpg"
    return httpx.post(
        f"{base}/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "after@example.org",
            "purposes": ["entry"],
            "venues": ["onsen-hotel"],
            "trip_end": time.strftime("%Y-%m-%d"),
        },
        files={"photo": ("selfie.jpg", photo.read_bytes(), "image/jpeg")},
        timeout=60,
    )


async def test_rotation_rewraps_every_key_while_the_server_keeps_serving(
    world: EnrollmentWorld,
) -> None:
    enrolled = await world.enroll(email="before@example.org")
    gate_token = await _gate_token(world)
    admin = await ConsoleWorld(world).account(OperatorRole.ADMINISTRATOR)
    env = world.env()
    old_key = world.keys.master.current_key_id
    with served(env) as base:
        _checks(base, enrolled["recovery_code"], gate_token, admin, 0)

        rotated = _optin("keys", "rotate", "--json", env=env)
        assert rotated.returncode == 0, rotated.stderr
        result: dict[str, Any] = json.loads(rotated.stdout)
        new_key = result["new_key_id"]
        assert new_key != old_key
        assert result["rewrapped"] == {"subject_keys": 1, "venue_keys": 2, "totp_secrets": 1}

        # The same server process, not restarted, reads everything under the new key.
        _checks(base, enrolled["recovery_code"], gate_token, admin, 1)
        # And enrols someone new (their key wrapped under whichever key the server holds).
        added = _enrol_through(base, world)
        assert added.status_code == 201, added.text

    status = _optin("keys", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    usage = json.loads(status.stdout)
    assert usage["current"] == new_key
    assert usage["keys"][old_key]["venue_keys"] == 0
    assert usage["keys"][old_key]["totp_secrets"] == 0
    assert usage["keys"][new_key]["venue_keys"] == 2
    # The person enrolled before the rotation now has a key wrapped under the new master key.
    wrapped = world.keys.subjects.store.get(uuid.UUID(enrolled["subject_id"]))
    assert wrapped is not None
    assert peek_key_id(wrapped) == new_key
    human = _optin("keys", "status", env=env)
    assert "(current)" in human.stdout
