"""The gate agent API: per-venue, per-gate galleries, long-polled changes, idempotent events."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from optin import faces
from optin.crypto.gate_wire import gate_key, open_for_gate
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose
from optin.db.models import Event, Venue
from optin.matching import transform, venue_transform
from optin.services.consents import erase, withdraw
from optin.services.gallery_cache import VenueMaterial, materials
from optin.services.gates import register_gate, revoke_gate
from optin.services.key_rotation import rotate_master_key

from support.enrollment_world import SAMPLES, EnrollmentWorld
from support.served_app import served

PHOTOS = {
    "obama": SAMPLES / "obama" / "obama_4.jpg",
    "kit": SAMPLES / "kit_harington" / "kit_harington_1.jpg",
    "rose": SAMPLES / "rose_leslie" / "rose_leslie_1.jpg",
}


async def _enroll(world: EnrollmentWorld, who: str, venues: list[str], purposes: list[str]) -> str:
    response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": f"{who}@example.org",
            "purposes": purposes,
            "venues": venues,
            "trip_end": (date.today() + timedelta(days=3)).isoformat(),
        },
        files={"photo": ("selfie.jpg", PHOTOS[who].read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["subject_id"])


async def _gate(world: EnrollmentWorld, venue: str) -> tuple[uuid.UUID, str]:
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        gate, token = await register_gate(session, world.keys.tokens, venue, f"{venue} gate")
        await session.commit()
    await engine.dispose()
    return gate.id, token


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _get(world: EnrollmentWorld, token: str, path: str, **params: Any) -> Any:
    response = await world.client.get(f"/api/v1/agent/{path}", params=params, headers=_auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def _templates(entry: dict[str, Any], token: str, venue: str) -> list[np.ndarray]:
    key = gate_key(token)
    return [
        np.frombuffer(open_for_gate(key, sealed, f"{venue}:{entry['ref']}"), "<f4")
        for sealed in entry["templates"]
    ]


async def _session(world: EnrollmentWorld) -> Any:
    return create_engine(world.settings.database_url)


async def test_snapshot_is_the_venues_consented_people_transformed(world: EnrollmentWorld) -> None:
    await _enroll(world, "obama", ["onsen-hotel"], ["entry", "payment"])
    await _enroll(world, "kit", ["adventure-park"], ["entry"])
    _, token = await _gate(world, "onsen-hotel")

    config = await _get(world, token, "config")
    # Tills take the venue's currency and PIN limit from here.
    assert config["venue"]["currency"] == "JPY"
    assert config["venue"]["pin_above_minor"] == 3000
    seed = open_for_gate(gate_key(token), config["transform_seed"], "onsen-hotel:transform")
    matrix = venue_transform(seed)
    snapshot = await _get(world, token, "gallery", since=0)
    assert snapshot["kind"] == "snapshot"
    assert snapshot["sequence"] >= 1
    (entry,) = snapshot["entries"]  # Kit is enrolled elsewhere: not in this gallery
    assert entry["purposes"] == ["entry", "payment"]
    assert entry["entry_until"] is not None

    (template,) = _templates(entry, token, "onsen-hotel")
    probe = faces.single_face(SAMPLES / "obama" / "obama_small.jpg").embedding
    assert np.linalg.norm(template - transform(matrix, probe)) < 0.6
    # Untransformed, the same probe is far from what the gate holds.
    assert np.linalg.norm(template - np.asarray(probe, np.float32)) > 0.6
    # Another gate's token cannot open it.
    _, other = await _gate(world, "onsen-hotel")
    with pytest.raises(Exception, match="authentication"):
        open_for_gate(gate_key(other), entry["templates"][0], f"onsen-hotel:{entry['ref']}")


async def test_venues_cannot_link_a_person(world: EnrollmentWorld) -> None:
    subject_id = await _enroll(world, "rose", ["onsen-hotel", "adventure-park"], ["entry"])
    _, hotel = await _gate(world, "onsen-hotel")
    _, park = await _gate(world, "adventure-park")
    (at_hotel,) = (await _get(world, hotel, "gallery", since=0))["entries"]
    (at_park,) = (await _get(world, park, "gallery", since=0))["entries"]
    assert at_hotel["ref"] != at_park["ref"]
    for ref in (at_hotel["ref"], at_park["ref"]):
        assert subject_id.replace("-", "") not in ref
        assert ref[2:] not in hashlib.sha256(subject_id.encode()).hexdigest()
    (t_hotel,) = _templates(at_hotel, hotel, "onsen-hotel")
    (t_park,) = _templates(at_park, park, "adventure-park")
    assert np.linalg.norm(t_hotel - t_park) > 0.6  # the same face, unmatchable across venues


async def test_long_poll_delivers_withdrawal_and_deletion_within_a_second(
    world: EnrollmentWorld,
) -> None:
    """Over real HTTP, with the change made by another process: the bound holds without the
    in-process wake-up, through the server's own polling of the change log."""
    subject = uuid.UUID(await _enroll(world, "obama", ["onsen-hotel"], ["entry", "payment"]))
    _, token = await _gate(world, "onsen-hotel")

    async def change(action: Any) -> float:
        engine = create_engine(world.settings.database_url)
        async with session_factory(engine)() as session:
            await action(session)
        await engine.dispose()
        return time.monotonic()

    with served(world.env()) as base:
        async with httpx.AsyncClient(base_url=base, headers=_auth(token), timeout=20) as http:

            async def gallery(**params: Any) -> Any:
                response = await http.get("/api/v1/agent/gallery", params=params)
                assert response.status_code == 200, response.text
                return response.json()

            snapshot = await gallery(since=0)
            ref = snapshot["entries"][0]["ref"]

            # Payment withdrawn: the gate gets the person again, with entry only.
            poll = asyncio.create_task(gallery(since=snapshot["sequence"], wait=10))
            await asyncio.sleep(0.5)
            assert not poll.done(), "the long-poll should be waiting"
            changed_at = await change(
                lambda s: withdraw(s, world.keys, subject, purpose=Purpose.PAYMENT)
            )
            delta = await asyncio.wait_for(poll, 5)
            delay = time.monotonic() - changed_at
            assert delta["kind"] == "delta"
            (entry,) = delta["entries"]
            assert (entry["ref"], entry["action"], entry["purposes"]) == (ref, "add", ["entry"])
            assert delay < 1.0, f"withdrawal took {delay:.2f} s to reach the gate"

            # Deleted: a revocation.
            poll = asyncio.create_task(gallery(since=delta["sequence"], wait=10))
            await asyncio.sleep(0.5)
            changed_at = await change(lambda s: erase(s, world.keys, subject))
            delta = await asyncio.wait_for(poll, 5)
            assert time.monotonic() - changed_at < 1.0
            assert delta["entries"] == [{"ref": ref, "action": "revoke"}]
            assert (await gallery(since=0))["entries"] == []


async def test_nothing_new_answers_an_empty_delta_after_the_wait(world: EnrollmentWorld) -> None:
    _, token = await _gate(world, "onsen-hotel")
    await _enroll(world, "kit", ["onsen-hotel"], ["entry"])
    snapshot = await _get(world, token, "gallery", since=0)
    started = time.monotonic()
    delta = await _get(world, token, "gallery", since=snapshot["sequence"], wait=0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert delta == {**delta, "kind": "delta", "entries": [], "sequence": snapshot["sequence"]}


async def test_events_are_idempotent_and_only_about_enrolled_people(
    world: EnrollmentWorld,
) -> None:
    await _enroll(world, "obama", ["onsen-hotel"], ["entry"])
    _, token = await _gate(world, "onsen-hotel")
    ref = (await _get(world, token, "gallery", since=0))["entries"][0]["ref"]
    event = {
        "id": str(uuid.uuid4()),
        "ref": ref,
        "purpose": "entry",
        "outcome": "granted",
        "distance": 0.31,
        "occurred_at": "2030-01-01T09:00:00+00:00",
    }
    stranger = {**event, "id": str(uuid.uuid4()), "ref": "v_nobodyatall"}

    async def post(events: list[dict[str, Any]]) -> Any:
        response = await world.client.post(
            "/api/v1/agent/events", json={"events": events}, headers=_auth(token)
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert await post([event, stranger]) == {"accepted": 1, "duplicates": 0, "unknown": 1}
    assert await post([event]) == {"accepted": 0, "duplicates": 1, "unknown": 0}
    results = await asyncio.gather(*(post([event]) for _ in range(10)))
    assert all(r["accepted"] == 0 for r in results)
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
    await engine.dispose()

    bad = await world.client.post(
        "/api/v1/agent/events",
        json={"events": [{**event, "age_estimate": 31}]},
        headers=_auth(token),
    )
    assert bad.status_code == 400  # no attribute of a person is ever accepted


async def test_tokens_and_lead_time(world: EnrollmentWorld) -> None:
    gate_id, token = await _gate(world, "onsen-hotel")
    missing = await world.client.get("/api/v1/agent/config")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong = await world.client.get("/api/v1/agent/config", headers=_auth("optin_gate_" + "x" * 43))
    assert wrong.status_code == 401
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        await revoke_gate(session, gate_id)
        await session.commit()
    await engine.dispose()
    revoked = await world.client.get("/api/v1/agent/config", headers=_auth(token))
    assert revoked.status_code == 401


async def test_gates_wait_for_the_notice_lead_time(world: EnrollmentWorld) -> None:
    import dataclasses

    from litestar.testing import AsyncTestClient

    from enrollment_app.asgi import create_app
    from optin.config import GateSettings

    _, token = await _gate(world, "onsen-hotel")
    strict = dataclasses.replace(world.settings, gates=GateSettings(notice_lead_hours=24))
    async with AsyncTestClient(create_app(strict)) as client:
        response = await client.get("/api/v1/agent/gallery", headers=_auth(token))
    assert response.status_code == 403
    assert response.json()["reason"] == "notice-lead-time"


async def test_a_bought_pass_reaches_the_gate(world: EnrollmentWorld) -> None:
    from optin.db.enums import ChangeAction
    from optin.services.entitlements import add_product, grant_product
    from optin.services.gallery import record_change
    from optin.services.venues import venues_by_slug

    subject = uuid.UUID(await _enroll(world, "obama", ["onsen-hotel"], ["payment"]))
    _, token = await _gate(world, "onsen-hotel")
    snapshot = await _get(world, token, "gallery", since=0)
    assert snapshot["entries"][0]["entry_until"] is None  # no entry consent, no stay pass

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        (venue,) = await venues_by_slug(session, ["onsen-hotel"])
        await add_product(session, venue, code="day-pass", name="Day pass", valid_days=1)
        granted = await grant_product(session, subject, venue, "day-pass", utcnow())
        await record_change(session, world.keys.master, [venue], subject, ChangeAction.ADD)
        await session.commit()
    await engine.dispose()
    delta = await _get(world, token, "gallery", since=snapshot["sequence"])
    (entry,) = delta["entries"]
    assert entry["action"] == "add"
    assert entry["entry_until"] == granted.valid_until.isoformat()


async def test_rotating_a_venue_key_reissues_the_gallery(world: EnrollmentWorld) -> None:
    from optin.services.venues import rotate_venue_key

    await _enroll(world, "obama", ["onsen-hotel"], ["entry"])
    _, token = await _gate(world, "onsen-hotel")
    seed_before = (await _get(world, token, "config"))["transform_seed"]
    before = await _get(world, token, "gallery", since=0)

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        rotated_at = await rotate_venue_key(session, world.keys.master, "onsen-hotel")
    await engine.dispose()
    assert rotated_at == before["sequence"] + 1

    after = await _get(world, token, "gallery", since=before["sequence"])
    assert after["kind"] == "snapshot"  # not a delta: everything was re-issued
    assert after["sequence"] == rotated_at
    (old_entry,), (new_entry,) = before["entries"], after["entries"]
    assert new_entry["ref"] != old_entry["ref"]  # a new pseudonym
    seed_after = (await _get(world, token, "config"))["transform_seed"]
    key = gate_key(token)
    old_seed = open_for_gate(key, seed_before, "onsen-hotel:transform")
    new_seed = open_for_gate(key, seed_after, "onsen-hotel:transform")
    assert old_seed != new_seed
    (old_template,) = _templates(old_entry, token, "onsen-hotel")
    (new_template,) = _templates(new_entry, token, "onsen-hotel")
    assert np.linalg.norm(old_template - new_template) > 0.6  # the old gallery is worthless now
    # Deltas continue normally afterwards.
    assert (await _get(world, token, "gallery", since=rotated_at))["kind"] == "delta"


async def test_an_event_arriving_after_deletion_is_not_tied_to_the_person(
    world: EnrollmentWorld,
) -> None:
    subject = uuid.UUID(await _enroll(world, "obama", ["onsen-hotel"], ["entry"]))
    _, token = await _gate(world, "onsen-hotel")
    ref = (await _get(world, token, "gallery", since=0))["entries"][0]["ref"]
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        await erase(session, world.keys, subject)
    late = {
        "id": str(uuid.uuid4()),
        "ref": ref,
        "purpose": "entry",
        "outcome": "granted",
        "distance": 0.3,
        "occurred_at": "2030-01-01T09:00:00+00:00",
    }
    response = await world.client.post(
        "/api/v1/agent/events", json={"events": [late]}, headers=_auth(token)
    )
    assert response.json() == {"accepted": 0, "duplicates": 0, "unknown": 1}
    async with session_factory(engine)() as session:
        tied = await session.scalar(
            select(func.count()).select_from(Event).where(Event.subject_id == subject)
        )
    await engine.dispose()
    assert tied == 0


async def _material(world: EnrollmentWorld, slug: str) -> VenueMaterial:
    """This process's cached gallery material of the venue's current key version."""
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        venue = await session.scalar(select(Venue).where(Venue.slug == slug))
        assert venue is not None
    await engine.dispose()
    return materials.get(world.keys.master, venue.id, venue.transform_key_wrapped)


async def test_a_warm_gallery_cache_never_serves_a_withdrawn_or_deleted_person(
    world: EnrollmentWorld,
) -> None:
    """Deltas reuse the venue's transform and pseudonyms between requests; who is in the gallery
    must still be read afresh each time."""
    obama = uuid.UUID(await _enroll(world, "obama", ["onsen-hotel"], ["entry"]))
    rose = uuid.UUID(await _enroll(world, "rose", ["onsen-hotel"], ["entry"]))
    _, token = await _gate(world, "onsen-hotel")
    snapshot = await _get(world, token, "gallery", since=0)
    refs = {entry["ref"] for entry in snapshot["entries"]}
    material = await _material(world, "onsen-hotel")
    assert material.remembers(obama)  # the cache is warm
    assert material.remembers(rose)
    by_subject = material.pseudonyms([obama, rose], complete=False)

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        await withdraw(session, world.keys, obama)
    delta = await _get(world, token, "gallery", since=snapshot["sequence"])
    assert delta["entries"] == [{"ref": by_subject[obama], "action": "revoke"}]
    assert await _material(world, "onsen-hotel") is material  # served from the cache
    assert not material.remembers(obama)
    again = await _get(world, token, "gallery", since=0)
    assert [entry["ref"] for entry in again["entries"]] == [by_subject[rose]]

    async with session_factory(engine)() as session:
        await erase(session, world.keys, rose)
    delta = await _get(world, token, "gallery", since=delta["sequence"])
    await engine.dispose()
    assert delta["entries"] == [{"ref": by_subject[rose], "action": "revoke"}]
    assert not material.remembers(rose)
    assert (await _get(world, token, "gallery", since=0))["entries"] == []
    assert refs == set(by_subject.values())


async def test_master_key_rotation_refreshes_the_cached_venue_material(
    world: EnrollmentWorld,
) -> None:
    """``optin keys rotate`` re-wraps venue keys: a new key version, the same venue key."""
    await _enroll(world, "obama", ["onsen-hotel"], ["entry"])
    _, token = await _gate(world, "onsen-hotel")
    before = await _get(world, token, "gallery", since=0)
    cached = await _material(world, "onsen-hotel")

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        rotation = await rotate_master_key(session, world.keys)
    await engine.dispose()
    assert rotation.venue_keys == 2

    after = await _get(world, token, "gallery", since=0)
    fresh = await _material(world, "onsen-hotel")
    assert fresh is not cached  # derived again from the re-wrapped key
    assert [e["ref"] for e in after["entries"]] == [e["ref"] for e in before["entries"]]
    assert np.array_equal(fresh.matrix, cached.matrix)


async def test_a_person_being_deleted_does_not_break_the_venues_gallery(
    world: EnrollmentWorld,
) -> None:
    """A deletion destroys the person's key before its rows commit: a gallery read in that
    moment still lists them as consenting. It must leave them out, not fail for every gate
    (found as 410s under load for the enrollment duplicate check, which has the same shape)."""
    obama = uuid.UUID(await _enroll(world, "obama", ["onsen-hotel"], ["entry"]))
    rose = uuid.UUID(await _enroll(world, "rose", ["onsen-hotel"], ["entry"]))
    _, token = await _gate(world, "onsen-hotel")
    before = await _get(world, token, "gallery", since=0)
    assert len(before["entries"]) == 2
    assert world.keys.subjects.destroy(obama)  # the deletion's first step, not yet committed
    snapshot = await _get(world, token, "gallery", since=0)
    material = await _material(world, "onsen-hotel")
    assert [entry["ref"] for entry in snapshot["entries"]] == [
        material.pseudonyms([rose], complete=False)[rose]
    ]
