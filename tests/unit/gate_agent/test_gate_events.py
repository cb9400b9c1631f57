"""Events: written to disk before anything else (write-ahead), sent in batches, deleted only once
the server has them, idempotent by id, flushed by a later run with the same ids."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gate_helpers import wait_for

from gate_agent.client import AgentClient
from gate_agent.decisions import Decision
from gate_agent.events import EventStore, Outbox
from gate_agent.metrics import Metrics

from support.fake_agent_api import FakeAgentApi

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _decision(ref: str = "v_a", outcome: str = "granted") -> Decision:
    return Decision(ref, "entry", outcome, 0.3, NOW)  # type: ignore[arg-type]


@pytest.fixture
def api() -> FakeAgentApi:
    return FakeAgentApi()


@pytest.fixture
def client(api: FakeAgentApi) -> AgentClient:
    return AgentClient("http://fake", api.token, transport=api.transport(), retries=0)


def test_events_reach_the_server_and_leave_nothing_readable(
    api: FakeAgentApi, client: AgentClient, tmp_path: Path
) -> None:
    metrics = Metrics()
    store = EventStore(tmp_path / "events.db")
    outbox = Outbox(client, store, metrics, linger=0.05)
    outbox.start()
    decisions = [_decision(), _decision("v_b", "no_consent")]
    for decision in decisions:
        outbox.submit(decision)
    wait_for(lambda: len(api.events) == 2 and store.count() == 0)
    # secure_delete: the sent rows were overwritten, not just unlinked from the table.
    raw = store.path.read_bytes()
    assert not any(d.id.encode() in raw or d.ref.encode() in raw for d in decisions)
    assert [p.name for p in tmp_path.iterdir()] == ["events.db"]  # no journal left behind
    outbox.close()
    assert set(api.events) == {d.id for d in decisions}
    assert api.events[decisions[1].id]["outcome"] == "no_consent"
    assert (metrics.get("events_stored"), metrics.get("events_sent")) == (2, 2)
    assert not store.path.exists()  # all sent: a clean stop leaves no file


def test_an_event_is_on_disk_when_submit_returns(
    api: FakeAgentApi, client: AgentClient, tmp_path: Path
) -> None:
    store = EventStore(tmp_path / "events.db")
    outbox = Outbox(client, store, Metrics())  # never started, never closed: as if killed
    decision = _decision()
    outbox.submit(decision)
    # Another process opening the file (the next run) finds it, whole.
    assert EventStore(store.path).pending() == [decision.as_event()]
    assert api.events == {}


def test_a_row_is_deleted_only_once_the_server_has_it(tmp_path: Path) -> None:
    import httpx

    store = EventStore(tmp_path / "events.db")
    on_disk_while_sending: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        on_disk_while_sending.append(store.count())
        if len(on_disk_while_sending) <= 2:  # the first try and its one retry
            return httpx.Response(503, json={"title": "Service Unavailable"})
        return httpx.Response(200, json={"accepted": 1, "duplicates": 0})

    client = AgentClient("http://fake", "t", transport=httpx.MockTransport(handler), retries=0)
    outbox = Outbox(client, store, Metrics())
    outbox.submit(_decision())
    assert not outbox.flush_stored()  # a 503: kept
    assert store.count() == 1
    assert outbox.flush_stored()
    assert on_disk_while_sending == [1, 1, 1]
    assert store.count() == 0


def test_offline_events_are_stored_then_flushed_with_the_same_ids(
    api: FakeAgentApi, client: AgentClient, tmp_path: Path
) -> None:
    metrics = Metrics()
    store = EventStore(tmp_path / "state" / "events.db")
    api.down = True
    outbox = Outbox(client, store, metrics, linger=0.01)
    outbox.start()
    decisions = [_decision(f"v_{i}") for i in range(3)]
    for decision in decisions:
        outbox.submit(decision)
    wait_for(lambda: store.count() == 3)
    outbox.close()
    assert api.events == {}
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert [event["id"] for event in store.pending()] == [d.id for d in decisions]

    # The server is back, and a later run (a new outbox) flushes what was stored.
    api.down = False
    outbox = Outbox(client, store, metrics)
    outbox.start()
    wait_for(lambda: store.count() == 0)
    outbox.close()
    assert set(api.events) == {d.id for d in decisions}
    assert metrics.get("events_sent") == 3


def test_resending_never_duplicates(api: FakeAgentApi, client: AgentClient) -> None:
    events = [_decision().as_event(), _decision("v_b").as_event()]
    assert client.post_events(events) == {"accepted": 2, "duplicates": 0}
    # The answer was lost, say: the gate sends the same batch again.
    assert client.post_events(events) == {"accepted": 0, "duplicates": 2}
    assert len(api.events) == 2


def test_a_lost_answer_is_resent_from_the_store(
    api: FakeAgentApi, client: AgentClient, tmp_path: Path
) -> None:
    store = EventStore(tmp_path / "events.db")
    events = [_decision().as_event()]
    client.post_events(events)  # reached the server, but the gate never heard back
    store.add(events)
    outbox = Outbox(client, store, Metrics())
    assert outbox.flush_stored()
    assert store.count() == 0
    assert len(api.events) == 1


def test_store_ignores_a_repeated_id(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    event = _decision().as_event()
    store.add([event])
    store.add([event])
    assert store.count() == 1
    store.remove([event["id"]])
    assert store.count() == 0
    assert store.pending() == []


def test_events_the_server_refuses_for_good_are_not_kept(tmp_path: Path) -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"title": "Bad Request", "detail": "unknown field"})

    client = AgentClient("http://fake", "t", transport=httpx.MockTransport(handler), retries=0)
    metrics = Metrics()
    store = EventStore(tmp_path / "events.db")
    outbox = Outbox(client, store, metrics, linger=0.01)
    outbox.start()
    outbox.submit(_decision())
    wait_for(lambda: metrics.get("events_rejected") == 1)
    outbox.close()
    assert store.count() == 0


def test_a_broken_store_holds_events_in_memory_and_still_sends_them(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    store = EventStore(blocker / "events.db")
    metrics = Metrics()
    client = AgentClient("http://fake", api.token, transport=api.transport(), retries=0)
    outbox = Outbox(client, store, metrics, linger=0.01)
    outbox.start()
    outbox.submit(_decision())
    wait_for(lambda: len(api.events) == 1)  # sent from memory: the thread lived on
    assert metrics.get("event_store_errors") >= 1
    api.down = True
    outbox.submit(_decision("v_b"))
    assert outbox.pending() == 1
    outbox.close()  # neither stored nor sent: counted, not silently dropped
    assert (metrics.get("events_sent"), metrics.get("events_lost")) == (1, 1)
    assert metrics.get("events_stored") == 0
