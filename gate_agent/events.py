"""Decision events on their way to the server: a write-ahead outbox on disk and an uploader thread.

Events exist only for enrolled people (a pseudonym ``ref``, purpose, outcome, distance, time);
a stranger never produces one, so a gate that only ever sees strangers never creates the file.
Each event's ``id`` (a UUID4 made at the gate) is its idempotency key.

Write-ahead: ``Outbox.submit`` commits the event to ``events.db`` in the state directory (SQLite,
mode 0600, ``secure_delete`` so sent rows are overwritten) before it returns, and the uploader
thread deletes a row only once the server has accepted it. A gate killed at any moment (SIGKILL,
power loss) therefore loses no event it had submitted: the next run sends what is left, with the
same ids. A batch the server stored but whose answer the gate never heard is sent again, and the
server counts it as duplicates, so nothing is doubled either. One durable insert costs about a
millisecond (a journal fsync), far below a gate's decision rate, so events are written one by one
and only the sending is batched (up to ``batch_size``, after waiting ``linger`` for more).

If the store itself fails (disk full, permissions), the event is kept in memory and sent from
there; it is counted lost only if the gate stops before either works.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from gate_agent.client import AgentClient, ApiError, Unreachable, backoff_delay
from gate_agent.decisions import Decision
from gate_agent.metrics import Metrics
from optin.crypto.files import PRIVATE_FILE_MODE, ensure_private_dir

log = logging.getLogger(__name__)

#: Client errors after which events are kept for later: the gate's token (401) or the server's
#: load (408, 425, 429) may change; any other 4xx will not.
_KEEP: Final = frozenset({401, 408, 425, 429})
#: Events held in memory at most while the store is broken (beyond that they are counted lost).
_MEMORY_LIMIT: Final = 10_000
#: How long the uploader leaves a broken store alone before it tries it again.
_STORE_RETRY_SECONDS: Final = 10.0

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS pending ("
    " id TEXT PRIMARY KEY, body TEXT NOT NULL, queued_at REAL NOT NULL)"
)


class EventStore:
    """Events not yet accepted by the server, on disk, oldest first. Every write is durable
    when it returns (SQLite's default ``synchronous = FULL``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def add(self, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        with self._connect(create=True) as db:
            db.executemany(
                "INSERT OR IGNORE INTO pending (id, body, queued_at) VALUES (?, ?, ?)",
                [(event["id"], json.dumps(event), time.time()) for event in events],
            )

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        if not self._path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM pending ORDER BY queued_at, rowid LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def remove(self, ids: Sequence[str]) -> None:
        if not ids or not self._path.exists():
            return
        with self._connect() as db:
            db.executemany("DELETE FROM pending WHERE id = ?", [(event_id,) for event_id in ids])

    def count(self) -> int:
        if not self._path.exists():
            return 0
        with self._connect() as db:
            (count,) = db.execute("SELECT count(*) FROM pending").fetchone()
        return int(count)

    def discard_if_empty(self) -> None:
        """Remove the file when no event is left in it (a clean stop leaves nothing behind)."""
        with self._lock:
            if not self._path.exists():
                return
            with self._open() as db:
                (count,) = db.execute("SELECT count(*) FROM pending").fetchone()
            if count == 0:
                self._path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if create and not self._path.exists():
                ensure_private_dir(self._path.parent)
                # Created 0600 before SQLite opens it; SQLite gives its journal the same mode.
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
                os.fchmod(fd, PRIVATE_FILE_MODE)
                os.close(fd)
            with self._open() as db:
                yield db

    @contextlib.contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        # mode=rw: never create the file here (it would get the umask's mode, not 0600), e.g.
        # when another EventStore on the same path (the metrics endpoint's) just removed it.
        db = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=rw", uri=True, timeout=5.0)
        try:
            db.execute("PRAGMA secure_delete = ON")
            db.execute(_SCHEMA)
            with db:
                yield db
        finally:
            db.close()


class Outbox:
    """Stores each decision's event before anything else, and sends the stored events from a
    thread of its own, deleting each once the server has it."""

    def __init__(
        self,
        client: AgentClient | None,
        store: EventStore,
        metrics: Metrics,
        *,
        batch_size: int = 100,
        linger: float = 0.2,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._batch_size = batch_size
        self._linger = linger
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gate-events", daemon=True)
        self._lock = threading.Lock()
        self._unstored: list[dict[str, Any]] = []  # only while the store is broken
        self._failures = 0
        self._next_send = 0.0  # monotonic time before which the server is left alone
        self._next_store_try = 0.0

    def start(self) -> None:
        self._thread.start()

    def submit(self, decision: Decision) -> None:
        """Store the decision's event durably (the write-ahead), then wake the uploader."""
        event = decision.as_event()
        try:
            self._store.add([event])
        except (OSError, sqlite3.Error) as exc:
            log.error("event store failed: %s; the event is held in memory", type(exc).__name__)
            self._metrics.add("event_store_errors")
            self._hold([event])
        else:
            self._metrics.add("events_stored")
        self._wake.set()

    def pending(self) -> int:
        """Events not yet accepted by the server: stored, or held in memory."""
        with self._lock:
            held = len(self._unstored)
        return self._store.count() + held

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after a last try to send; stored events wait for the next run, and
        with none left the file goes too."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            lost, self._unstored = self._unstored, []
        if lost:
            log.error("%d events lost: neither stored nor sent", len(lost))
            self._metrics.add("events_lost", len(lost))
        try:
            self._store.discard_if_empty()
        except (OSError, sqlite3.Error) as exc:
            log.error("event store failed: %s", type(exc).__name__)

    def flush_stored(self) -> bool:
        """Send the stored events (same ids) now; True when none is left."""
        while True:
            pending = self._store.pending(self._batch_size)
            if not pending:
                return True
            if not self._post(pending):
                return False
            self._store.remove([event["id"] for event in pending])

    def _run(self) -> None:
        while True:
            closing = self._wait()
            try:
                self._retry_store()
                # On the way out, one last try unless the server is known to be down.
                if time.monotonic() >= self._next_send or (closing and not self._failures):
                    self._send_held()
                    self.flush_stored()
            except (OSError, sqlite3.Error) as exc:
                # A broken store must not stop the gate: try it again later.
                log.error("event store failed: %s", type(exc).__name__)
                self._metrics.add("event_store_errors")
                self._next_send = time.monotonic() + _STORE_RETRY_SECONDS
            if closing:
                return

    def _wait(self) -> bool:
        """Until an event comes (then ``linger`` for more), a retry is due, or closing."""
        timeout = max(0.05, min(1.0, self._next_send - time.monotonic()))
        if self._wake.wait(timeout) and not self._closing.is_set():
            self._closing.wait(self._linger)
        self._wake.clear()
        return self._closing.is_set()

    def _hold(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            room = _MEMORY_LIMIT - len(self._unstored)
            self._unstored.extend(events[:room])
        if len(events) > room:
            log.error("%d events lost: the store is broken and memory full", len(events) - room)
            self._metrics.add("events_lost", len(events) - room)

    def _take_held(self) -> list[dict[str, Any]]:
        with self._lock:
            held, self._unstored = self._unstored, []
        return held

    def _retry_store(self) -> None:
        """Move events held in memory to the store, once it works again."""
        if time.monotonic() < self._next_store_try:
            return
        held = self._take_held()
        if not held:
            return
        try:
            self._store.add(held)
        except (OSError, sqlite3.Error):
            self._hold(held)
            self._next_store_try = time.monotonic() + _STORE_RETRY_SECONDS
            return
        self._metrics.add("events_stored", len(held))

    def _send_held(self) -> None:
        held = self._take_held()
        for start in range(0, len(held), self._batch_size):
            if not self._post(held[start : start + self._batch_size]):
                self._hold(held[start:])
                return

    def _post(self, events: list[dict[str, Any]]) -> bool:
        """Send one batch; True when the server is done with it (accepted, or refused for good)."""
        if self._client is None:
            return False
        try:
            answer = self._client.post_events(events, retries=1)
        except (Unreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status < 500 and exc.status not in _KEEP:
                # The server will never take these (a 4xx other than 401): keeping them would
                # block every later event. Counted, not kept.
                log.error("events rejected by the server: %s", exc)
                self._metrics.add("events_rejected", len(events))
                return True
            self._failures += 1
            self._next_send = time.monotonic() + backoff_delay(self._failures, base=1.0)
            log.warning("events not sent (%s); kept for later", exc)
            return False
        self._failures = 0
        self._next_send = 0.0
        if isinstance(answer, dict):
            self._metrics.add("events_sent", int(answer.get("accepted", 0)))
            self._metrics.add("events_duplicates", int(answer.get("duplicates", 0)))
        return True
