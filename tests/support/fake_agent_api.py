"""A fake of the server's agent API (config, gallery long-poll, events), for gate agent tests.

It follows the contract of ``enrollment_app/agent_api``: bearer gate token, the transform seed
and templates sealed for the gate (``optin.crypto.gate_wire``), snapshots and deltas by sequence,
long-poll with ``wait``, idempotent events, RFC 9457 problems. Use it in-process through
``transport()`` (an ``httpx.MockTransport``), or over real HTTP on 127.0.0.1 through ``serve()``
for an agent running in a subprocess. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import numpy.typing as npt

from optin.crypto.gate_wire import gate_key, seal_for_gate
from optin.matching import transform, venue_transform

PREFIX = "/api/v1/agent"


def new_gate_token() -> str:
    return "optin_gate_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeAgentApi:
    token: str = field(default_factory=new_gate_token)
    venue_slug: str = "hamilton-theatre"
    venue_name: str = "Hamilton Theatre"
    gate_name: str = "Main entrance"
    seed: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    match_threshold: float = 0.6
    match_margin: float = 0.05
    max_offline_seconds: int = 3600
    #: Deltas are served only for ``since`` at or after this sequence; older ones get a snapshot.
    oldest_delta: int = 0

    def __post_init__(self) -> None:
        self.gate_id = str(uuid.uuid4())
        self.key = gate_key(self.token)
        self.transform = venue_transform(self.seed)
        self.sequence = 0
        self.people: dict[str, dict[str, Any]] = {}
        self.changes: list[tuple[int, dict[str, Any]]] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.down = False  # True: connections fail (as if the server were unreachable)
        self.revoked = False  # True: the token is refused with 401
        self._changed = threading.Condition()

    # --- what the server side would do -------------------------------------------------------

    def enroll(
        self,
        ref: str,
        embeddings: Iterable[npt.ArrayLike],
        *,
        purposes: Sequence[str] = ("entry",),
        entry_until: datetime | str | None = "tomorrow",
    ) -> None:
        """Add (or replace) a person from raw, untransformed embeddings."""
        if entry_until == "tomorrow":
            entry_until = datetime.now(UTC) + timedelta(days=1)
        rows = transform(
            self.transform, np.array(list(embeddings), dtype=np.float32).reshape(-1, 128)
        )
        entry = {
            "ref": ref,
            "action": "add",
            "templates": [
                seal_for_gate(self.key, row.astype("<f4").tobytes(), f"{self.venue_slug}:{ref}")
                for row in rows
            ],
            "purposes": list(purposes),
            "entry_until": entry_until.isoformat() if isinstance(entry_until, datetime) else None,
        }
        self._record_change(ref, entry)

    def revoke(self, ref: str) -> None:
        self._record_change(ref, {"ref": ref, "action": "revoke"})

    def _record_change(self, ref: str, entry: dict[str, Any]) -> None:
        with self._changed:
            self.sequence += 1
            if entry["action"] == "add":
                self.people[ref] = entry
            else:
                self.people.pop(ref, None)
            self.changes.append((self.sequence, entry))
            self._changed.notify_all()

    def config_json(self) -> dict[str, Any]:
        return {
            "gate": {"id": self.gate_id, "name": self.gate_name},
            "venue": {"slug": self.venue_slug, "name": self.venue_name, "timezone": "Asia/Tokyo"},
            "transform_seed": seal_for_gate(self.key, self.seed, f"{self.venue_slug}:transform"),
            "match_threshold": self.match_threshold,
            "match_margin": self.match_margin,
            "max_offline_seconds": self.max_offline_seconds,
            "operator": {"name": "optin test operator", "contact_email": "privacy@optin.example"},
        }

    def handle(
        self, method: str, path: str, query: dict[str, str], authorization: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append(Recorded(method, path, query, body))
        if authorization != f"Bearer {self.token}" or self.revoked:
            return 401, _problem(401, "Unauthorized", "unknown or revoked gate token")
        if method == "GET" and path == f"{PREFIX}/config":
            return 200, self.config_json()
        if method == "GET" and path == f"{PREFIX}/gallery":
            return 200, self._gallery(int(query.get("since", 0)), int(query.get("wait", 0)))
        if method == "POST" and path == f"{PREFIX}/events":
            return 200, self._events(body)
        return 404, _problem(404, "Not found", path)

    def _gallery(self, since: int, wait: int) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        with self._changed:
            if since <= 0 or since < self.oldest_delta or since > self.sequence:
                return {
                    "venue": self.venue_slug,
                    "kind": "snapshot",
                    "sequence": self.sequence,
                    "entries": list(self.people.values()),
                    "issued_at": now,
                }
            self._changed.wait_for(lambda: self.sequence > since, timeout=min(wait, 30))
            return {
                "venue": self.venue_slug,
                "kind": "delta",
                "sequence": self.sequence,
                "entries": [entry for seq, entry in self.changes if seq > since],
                "issued_at": now,
            }

    def _events(self, body: Any) -> dict[str, Any]:
        accepted = duplicates = 0
        for event in body["events"]:
            if event["id"] in self.events:
                duplicates += 1
            else:
                self.events[event["id"]] = event
                accepted += 1
        return {"accepted": accepted, "duplicates": duplicates}

    # --- ways in -------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if self.down:
                raise httpx.ConnectError("the fake server is down", request=request)
            query = dict(request.url.params.items())
            body = json.loads(request.content) if request.content else None
            status, payload = self.handle(
                request.method,
                request.url.path,
                query,
                request.headers.get("authorization", ""),
                body,
            )
            return _response(status, payload)

        return httpx.MockTransport(handler)

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over HTTP on 127.0.0.1 (a free port); yields the base URL."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _answer(self) -> None:
                if api.down:
                    status, payload = 503, _problem(503, "Service unavailable", "down")
                else:
                    url = urlsplit(self.path)
                    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    status, payload = api.handle(
                        self.command,
                        url.path,
                        query,
                        self.headers.get("Authorization", ""),
                        json.loads(raw) if raw else None,
                    )
                data = json.dumps(payload).encode()
                self.send_response(status)
                kind = "application/problem+json" if status >= 400 else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _answer  # noqa: N815
            do_POST = _answer  # noqa: N815

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def paths(self) -> list[str]:
        return [request.path.removeprefix(PREFIX) for request in self.requests]


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "status": status, "title": title, "detail": detail}


def _response(status: int, payload: dict[str, Any]) -> httpx.Response:
    kind = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=payload, headers={"Content-Type": kind})


# --- sample faces ------------------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
VIDEO = SAMPLES / "video" / "short_hamilton_clip.mp4"
LIN_MANUEL = "lin_manuel_miranda/lin_manuel_miranda_1.png"
#: People who are not in the sample video.
OTHERS = ("obama/obama_4.jpg", "kit_harington/kit_harington_1.jpg", "rose_leslie/rose_leslie_1.jpg")


@functools.cache
def sample_embedding(photo: str) -> npt.NDArray[np.float64]:
    """The enrollment embedding of one sample photo (``samples/faces/<photo>``), computed once."""
    from optin.faces import enrollment_template

    return enrollment_template(SAMPLES / "faces" / photo).embedding
