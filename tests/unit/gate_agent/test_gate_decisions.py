"""Decisions about an identified person: granted, no consent, no entitlement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from gate_agent.decisions import Decision, decide
from gate_agent.gallery import Entry

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
NO_TEMPLATES = np.empty((0, 128), dtype=np.float32)


def entry(purposes: set[str], until: datetime | None = NOW + timedelta(days=1)) -> Entry:
    return Entry("v_x", frozenset(purposes), until, NO_TEMPLATES)


def test_granted_with_consent_and_entitlement() -> None:
    assert decide(entry({"entry"}), "entry", NOW) == "granted"
    assert decide(entry({"entry", "payment"}), "payment", NOW) == "granted"


def test_no_consent_for_this_purpose() -> None:
    assert decide(entry({"payment"}), "entry", NOW) == "no_consent"
    assert decide(entry({"entry"}), "payment", NOW) == "no_consent"
    # Consent is checked first: without it, entitlement does not matter.
    assert decide(entry({"payment"}, None), "entry", NOW) == "no_consent"


def test_no_entitlement_when_none_or_expired() -> None:
    assert decide(entry({"entry"}, None), "entry", NOW) == "no_entitlement"
    assert decide(entry({"entry"}, NOW - timedelta(seconds=1)), "entry", NOW) == "no_entitlement"
    assert decide(entry({"entry"}, NOW), "entry", NOW) == "no_entitlement"
    # Payment needs consent only.
    assert decide(entry({"payment"}, None), "payment", NOW) == "granted"


def test_a_decision_is_an_event_with_an_idempotency_key() -> None:
    decision = Decision("v_x", "entry", "no_consent", 0.412345, NOW)
    event = decision.as_event()
    assert uuid.UUID(event["id"]).version == 4
    assert event == {
        "id": event["id"],
        "ref": "v_x",
        "purpose": "entry",
        "outcome": "no_consent",
        "distance": 0.4123,
        "occurred_at": "2030-06-01T12:00:00+00:00",
    }
    assert decision.message.startswith("denied")
    assert Decision("v_x", "entry", "granted", 0.1, NOW).id != decision.id
