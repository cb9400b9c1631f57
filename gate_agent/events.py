"""Decision events on their way to the server: a queue, an uploader thread and an offline store.

Events exist only for enrolled people (a pseudonym ``ref``, purpose, outcome, distance, time);
a stranger never produces one. Each event's ``id`` (a UUID4 made at the gate) is its idempotency
key: a batch whose answer was lost is simply sent again, and the server counts it as duplicates.

While the server cannot be reached, events wait in ``events.db`` in the state directory (SQLite,
mode 0600, ``secure_delete`` so sent rows are overwritten), and are sent with the same ids when it
answers again. The file is created only when the first event has to wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
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

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS pending ("
    " id TEXT PRIMARY KEY, body TEXT NOT NULL, queued_at REAL NOT NULL)"
)


class EventStore:
    """Events not yet accepted by the server, on disk, oldest first."""

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
                "SELECT body FROM pending ORDER BY queued_at, id LIMIT ?", (limit,)
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

    @contextlib.contextmanager
    def _connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if create and not self._path.exists():
                ensure_private_dir(self._path.parent)
                # Created 0600 before SQLite opens it; SQLite gives its journal the same mode.
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
                os.fchmod(fd, PRIVATE_FILE_MODE)
                os.close(fd)
            db = sqlite3.connect(self._path, timeout=5.0)
            try:
                db.execute("PRAGMA secure_delete = ON")
                db.execute(_SCHEMA)
                with db:
                    yield db
            finally:
                db.close()


class Outbox:
    """Sends decisions as events from a thread of its own, parking them on disk when offline."""

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
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gate-events", daemon=True)
        self._failures = 0
        self._next_flush = 0.0  # monotonic time of the next try to send the stored events

    def start(self) -> None:
        self._thread.start()

    def submit(self, decision: Decision) -> None:
        self._queue.put(decision.as_event())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread; what it could not send is stored for the next run."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        leftover = self._drain()
        if leftover:
            self._park(leftover)

    def flush_stored(self) -> bool:
        """Send the stored events (same ids); True when none is left."""
        if self._client is None:
            return self._store.count() == 0
        while True:
            pending = self._store.pending(self._batch_size)
            if not pending:
                return True
            if not self._post(pending):
                return False
            self._store.remove([event["id"] for event in pending])

    def _run(self) -> None:
        closing = False
        while True:
            try:
                self._try_flush_stored()
                if closing:
                    return
                batch, closing = self._take()
                if batch and not self._post(batch):
                    self._park(batch)
            except (OSError, sqlite3.Error) as exc:
                # A broken store must not stop the gate: try it again later.
                log.error("event store failed: %s", type(exc).__name__)
                self._metrics.add("event_store_errors")
                self._next_flush = time.monotonic() + 10.0

    def _park(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._store.add(batch)
        except (OSError, sqlite3.Error) as exc:
            log.error("%d events lost: the event store failed (%s)", len(batch), type(exc).__name__)
            self._metrics.add("events_lost", len(batch))
            return
        self._metrics.add("events_stored", len(batch))

    def _take(self) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``batch_size`` events: wait for the first, then linger briefly for more."""
        try:
            first = self._queue.get(timeout=1.0)
        except queue.Empty:
            return [], False
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._linger
        while len(batch) < self._batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _drain(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is not None:
                items.append(item)

    def _try_flush_stored(self) -> None:
        if time.monotonic() < self._next_flush or self._store.count() == 0:
            return
        self.flush_stored()

    def _post(self, events: list[dict[str, Any]]) -> bool:
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
            self._next_flush = time.monotonic() + backoff_delay(self._failures, base=1.0)
            log.warning("events not sent (%s); kept for later", exc)
            return False
        self._failures = 0
        self._next_flush = 0.0
        if isinstance(answer, dict):
            self._metrics.add("events_sent", int(answer.get("accepted", 0)))
            self._metrics.add("events_duplicates", int(answer.get("duplicates", 0)))
        return True
