"""PostgreSQL restarted under load: the served app answers problems while the database is away,
recovers on its own when it is back, and stores every acknowledged event exactly once.

The app runs for real (``optin serve``) on a PostgreSQL server of this module's own, which the
test stops and starts again (same port, same data) while client threads keep posting gate events
(each with a fresh id, resent with the same id until acknowledged, as a gate does) and reading
the gate config. Then a second restart with the app idle: the first request afterwards must
succeed, not trip over a pooled connection the restart broke.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from harness import App, stored_events, wait_until

from support.enrollment_world import EnrollmentWorld
from support.postgres import PostgresBinariesNotFoundError, PostgresServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]

VENUE = "onsen-hotel"
#: How long PostgreSQL stays away, and how long the load runs before and after.
OUTAGE_SECONDS = 2.0
#: No request may hang longer than this, outage or not.
REQUEST_BOUND_SECONDS = 10.0
#: After PostgreSQL answers again, the app must serve within this (no restart of the app).
RECOVERY_BOUND_SECONDS = 2.0
WRITERS = 2


@pytest.fixture(scope="module")
def restartable_postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start()
    except PostgresBinariesNotFoundError as exc:
        pytest.skip(f"needs the PostgreSQL server binaries: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(restartable_postgres: PostgresServer) -> str:
    """Overrides the suite's: a migrated database on the server this module may restart."""
    from optin.db.migrate import upgrade

    url = restartable_postgres.create_database()
    upgrade(url)
    return url


@dataclass
class Outcome:
    started: float
    finished: float
    status: int | None  # None: no HTTP answer at all
    problem: bool = False


@dataclass
class Load:
    """Client threads against the app; every request's outcome, every event acknowledged."""

    base_url: str
    token: str
    ref: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    unacknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _request(self, client: httpx.Client, method: str, path: str, **kwargs: object) -> bool:
        started = time.monotonic()
        try:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            outcome = Outcome(started, time.monotonic(), None)
        else:
            outcome = Outcome(
                started,
                time.monotonic(),
                response.status_code,
                response.headers.get("content-type", "").startswith("application/problem+json"),
            )
        with self.lock:
            self.outcomes.append(outcome)
        return outcome.status == 200

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=REQUEST_BOUND_SECONDS + 5,
        )

    def writer(self) -> None:
        with self._client() as client:
            event_id = str(uuid.uuid4())
            while not self.stop.is_set():
                body = {
                    "events": [
                        {
                            "id": event_id,
                            "ref": self.ref,
                            "purpose": "entry",
                            "outcome": "granted",
                            "distance": 0.3,
                            "occurred_at": datetime.now(UTC).isoformat(),
                        }
                    ]
                }
                with self.lock:
                    self.unacknowledged.add(event_id)
                if self._request(client, "POST", "/api/v1/agent/events", json=body):
                    with self.lock:
                        self.unacknowledged.discard(event_id)
                        self.acknowledged.add(event_id)
                    event_id = str(uuid.uuid4())
                else:
                    time.sleep(0.05)  # then the same event again, as a gate resends it

    def reader(self) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                if not self._request(client, "GET", "/api/v1/agent/config"):
                    time.sleep(0.05)

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if start <= o.started < end]


def _outage_under_load(app: App, pg: PostgresServer, token: str) -> tuple[Load, str]:
    """Load, PostgreSQL stopped and started again under it, checks; the load and a report."""
    auth = {"authorization": f"Bearer {token}"}
    gallery = httpx.get(f"{app.base_url}/api/v1/agent/gallery", headers=auth, timeout=10)
    assert gallery.status_code == 200, gallery.text
    (entry,) = gallery.json()["entries"]
    load = Load(app.base_url, token, entry["ref"])
    threads = [threading.Thread(target=load.writer) for _ in range(WRITERS)]
    threads.append(threading.Thread(target=load.reader))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        down_at = time.monotonic()
        pg.shutdown()
        stopped_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        pg.resume()
        up_at = time.monotonic()
        recovered_at = wait_until(
            lambda: min(
                (o.finished for o in load.between(up_at, float("inf")) if o.status == 200),
                default=None,
            ),
            RECOVERY_BOUND_SECONDS + 5,
            "a request served after PostgreSQL came back",
        )
        time.sleep(1.5)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(REQUEST_BOUND_SECONDS + 10)
    assert not any(thread.is_alive() for thread in threads), "a client hung"

    # Nothing hung: every request got an answer within the bound, outage or not.
    assert all(o.status is not None for o in load.outcomes), "a request got no HTTP answer"
    slowest = max(o.finished - o.started for o in load.outcomes)
    assert slowest < REQUEST_BOUND_SECONDS, f"a request took {slowest:.1f} s"
    # Before the outage everything was served.
    before = [o for o in load.outcomes if o.finished < down_at]
    assert before
    assert all(o.status == 200 for o in before)
    # During it requests failed cleanly: a 503 problem (try again later), nothing else.
    failed = [o for o in load.outcomes if o.status != 200]
    assert failed, "no request failed while PostgreSQL was down"
    assert all(o.status == 503 and o.problem for o in failed), {
        (o.status, o.problem) for o in failed
    }
    # Recovered on its own: served again shortly after PostgreSQL was back, and from then on
    # every request succeeded.
    recovery = recovered_at - up_at
    assert recovery < RECOVERY_BOUND_SECONDS, f"recovered {recovery:.2f} s after PostgreSQL"
    after = load.between(recovered_at, float("inf"))
    assert after
    assert all(o.status == 200 for o in after)
    assert app.running

    # An idle restart: the pooled connections it broke are replaced (pinged at checkout), and
    # the first request after it is served.
    idle_restart = pg.restart(down_for=0.5)
    first = httpx.get(
        f"{app.base_url}/api/v1/agent/config", headers=auth, timeout=REQUEST_BOUND_SECONDS
    )
    assert first.status_code == 200, first.text
    ready = httpx.get(f"{app.base_url}/readyz", timeout=REQUEST_BOUND_SECONDS)
    assert ready.status_code == 200, ready.text
    report = (
        f"PostgreSQL down {up_at - stopped_at:.2f} s (fast shutdown {stopped_at - down_at:.2f} s):"
        f" {len(failed)} of {len(load.outcomes)} requests failed cleanly (slowest "
        f"{slowest:.2f} s); app serving again {recovery:.2f} s after PostgreSQL answered; "
        f"idle restart {idle_restart:.2f} s, first request after it served"
    )
    return load, report


async def test_postgres_restart_under_load(
    world: EnrollmentWorld, restartable_postgres: PostgresServer, tmp_path: Path
) -> None:
    await world.enroll()
    _gate, token = await world.register_gate(VENUE)
    app = App(world.env(), tmp_path / "serve.log")
    await asyncio.to_thread(app.start)
    try:
        load, report = await asyncio.to_thread(_outage_under_load, app, restartable_postgres, token)
    finally:
        await asyncio.to_thread(app.stop)

    # Every event acknowledged is stored exactly once; one posted as the load stopped may be
    # stored without its answer having been read: still only once.
    stored = await stored_events(world.settings.database_url)
    assert load.acknowledged <= stored.keys()
    assert set(stored) <= load.acknowledged | load.unacknowledged
    assert set(stored.values()) == {1}
    print(f"\n{report}; {len(load.acknowledged)} events acknowledged, each stored once")
