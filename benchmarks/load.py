"""Load figures: the app served on loopback with PostgreSQL, under portal reads, enrollments with
face encoding, and gallery sync with 50 gates long-polling.

Bounded: every phase has a duration, the whole run a hard limit (--time-limit), and Ctrl-C (or
the limit) stops what the run started: the server, PostgreSQL, the temporary data directory.

1. Starts a throwaway PostgreSQL from the server binaries (``tests/support/postgres.py``, with
   durability on, unlike the test suite), migrates it, and seeds it through the product's
   services: venues with a day pass, a notice, gates, and --people people enrolled by the
   enrollment service with a synthetic template in place of the face step (``samples/faces``
   holds five different faces only; those are enrolled for real, through the API, below).
2. Serves the app (``optin serve --workers N``) on a free loopback port.
3. Runs the phases; each starts with a warm-up that is not counted:
   - baseline: ``GET /healthz`` (no database) at the portal's concurrency: the ceiling of this
     client and this server on this machine, which the other phases are divided by;
   - portal: ``GET /api/v1/portal/me``, one signed-in person (recovery code) per client;
   - enrollment: ``POST /api/v1/enrollments`` with the five sample photos, one face per client;
     after each enrollment the client signs in with the recovery code and deletes the person in
     the portal, so the duplicate-face check lets the face in again (reported on its own row);
     the face encoding alone, in this process, is printed beside it;
   - gallery: --gates gates, each long-polling ``GET /api/v1/agent/gallery?since=&wait=`` with
     its own token, while a writer changes one venue's gallery every --change-interval seconds,
     alternating a portal withdrawal through the API (committed in a server worker) and an
     entitlement grant through the service layer in this process (what ``optin entitlement
     grant`` does from another process). A change is timed from its change-log row being
     written (just before its commit) to each gate of its venue holding it.

Progress goes to stderr, the table to stdout; --json prints the figures as JSON instead. Exit
codes: 0 done, 3 the time limit passed, 4 the server died during the run, 130 interrupted.

    uv run python -m benchmarks.load [--duration 20] [--workers 2] [--gates 50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import http.cookiejar
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.load_stats import (
    Change,
    GateLog,
    Sample,
    Summary,
    by_kind,
    deliveries,
    fmt,
    latency_figures,
    ratio,
    summarise,
    table,
)
from optin import faces
from optin.config import Settings
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChangeAction, EnrollmentMethod, Language, Purpose
from optin.db.models import Venue, VenueChange
from optin.runtime import Keys, prepare
from optin.services import enrollment as enrollment_service
from optin.services.entitlements import add_product, grant_product
from optin.services.gallery import current_sequence, record_change, venue_key
from optin.services.gates import register_gate
from optin.services.notices import publish_notices
from optin.services.venues import create_venue, venues_by_slug
from tests.support.postgres import PostgresServer
from tests.support.served_app import free_port

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "samples" / "faces"
#: One photo of each different person in samples/faces: one enrollment client each.
PHOTOS = (
    "lin_manuel_miranda/lin_manuel_miranda_1.png",
    "alex_lacamoire/alex_lacamoire_1.png",
    "kit_harington/kit_harington_1.jpg",
    "rose_leslie/rose_leslie_1.jpg",
    "obama/obama_4.jpg",
)
PRODUCT = "day-pass"
SESSION_COOKIE = "optin_session"
#: Durability back on (the test suite turns it off), room for several workers' pools.
POSTGRES_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "128MB",
    "max_connections": "300",
}
WITHDRAWAL = "portal withdrawal (API, in a server worker)"
GRANT = "entitlement grant (service layer, this process)"


# --- options and progress ----------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    duration: float
    warmup: float
    workers: int
    clients: int
    enroll_clients: int
    gates: int
    venues: int
    people: int
    change_interval: float
    long_poll: int
    time_limit: float
    postgres_url: str | None
    as_json: bool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Load figures: portal reads, enrollments with face encoding, and gallery "
        "sync with gates long-polling, against the app served on loopback with PostgreSQL; each "
        "phase also as a ratio to a trivial request (GET /healthz) measured in the same run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="The run is bounded: each phase lasts --warmup + --duration seconds, and the "
        "whole run stops at --time-limit. Ctrl-C stops everything it started. Exit codes: 0 "
        "done, 3 time limit, 4 the server died during the run, 130 interrupted.",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="uncounted seconds before each phase"
    )
    parser.add_argument("--workers", type=int, default=2, help="optin serve --workers")
    parser.add_argument(
        "--clients", type=int, default=20, help="concurrent clients (baseline and portal)"
    )
    parser.add_argument(
        "--enroll-clients",
        type=int,
        default=len(PHOTOS),
        help=f"concurrent enrollments, one face each (at most {len(PHOTOS)})",
    )
    parser.add_argument("--gates", type=int, default=50, help="gates long-polling the gallery")
    parser.add_argument("--venues", type=int, default=5, help="venues the gates are spread over")
    parser.add_argument(
        "--people", type=int, default=200, help="people enrolled before the run (synthetic)"
    )
    parser.add_argument(
        "--change-interval", type=float, default=0.5, help="seconds between gallery changes"
    )
    parser.add_argument(
        "--long-poll", type=int, default=25, help="gates' wait= (the gate agent's default: 25)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        help="hard limit for the whole run in seconds (unset: 240 + 4 x (warmup + duration))",
    )
    parser.add_argument(
        "--postgres-url", help="use this server (its user needs CREATEDB) instead of starting one"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.change_interval <= 0:
        parser.error("--duration and --change-interval must be positive, --warmup not negative")
    if min(args.workers, args.clients, args.enroll_clients, args.gates, args.venues) < 1:
        parser.error("--workers, --clients, --enroll-clients, --gates and --venues must be >= 1")
    if args.enroll_clients > len(PHOTOS):
        parser.error(f"--enroll-clients: there are {len(PHOTOS)} different faces")
    if args.people < args.clients + 1:
        parser.error("--people must exceed --clients (one person per portal client, and more)")
    if not 1 <= args.long_poll <= 30:
        parser.error("--long-poll must be 1-30 seconds (the server's maximum is 30)")
    limit = args.time_limit or 240 + 4 * (args.warmup + args.duration)
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        clients=args.clients,
        enroll_clients=args.enroll_clients,
        gates=args.gates,
        venues=min(args.venues, args.gates),
        people=args.people,
        change_interval=args.change_interval,
        long_poll=args.long_poll,
        time_limit=limit,
        postgres_url=args.postgres_url,
        as_json=args.json,
    )


class Progress:
    def __init__(self) -> None:
        self._started = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)


class HardLimit:
    """Interrupts the run as Ctrl-C would once its time is up; cleanup then runs as usual."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        os.kill(os.getpid(), signal.SIGINT)

    def __enter__(self) -> HardLimit:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()


# --- the served app ---------------------------------------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    # If this process dies without cleaning up (SIGKILL), the server still gets SIGTERM.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ServerDied(RuntimeError):
    """optin serve exited in the middle of the run."""


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def crashes(self) -> int:
        """Workers that died so far (uvicorn logs each, and starts another in its place)."""
        return len(
            re.findall(r"Child process \[\d+\] died", self.log_path.read_text("utf-8", "replace"))
        )

    def log_errors(self) -> dict[str, int]:
        """Error lines in the server's log (JSON lines or text), by message, most frequent
        first."""
        found: Counter[str] = Counter()
        for line in self.log_path.read_text("utf-8", "replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("level") in {"error", "critical"}:
                        found[str(entry.get("message"))[:200]] += 1
            elif line.startswith(("ERROR", "CRITICAL")):
                found[line[:200]] += 1
        return dict(found.most_common())

    def check(self) -> None:
        if self.process.poll() is not None:
            raise ServerDied(
                f"optin serve exited ({self.process.returncode}) during the run:\n{self.log_tail()}"
            )


@contextlib.contextmanager
def serving(
    env: dict[str, str], workers: int, log_path: Path, timeout: float = 120.0
) -> Iterator[Served]:
    """``optin serve --workers N`` on a free loopback port, once every worker has started; stops
    it afterwards (SIGTERM, then SIGKILL to its process group)."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    full_env.update(env)
    command = [sys.executable, "-m", "optin", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--workers", str(workers)],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Ctrl-C reaches this process only, which then stops the server in order.
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"optin serve exited early:\n{tail}")
            started = log_path.read_text(errors="replace").count("Application startup complete")
            if started >= workers and _healthy(base):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("optin serve did not start in time")
            time.sleep(0.2)
        yield Served(base, process, log_path)
    finally:
        _stop(process)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # Workers left behind by a master that did not stop in time share its process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# --- seeding through the services ---------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    subject_id: uuid.UUID
    recovery_code: str = field(repr=False)


@dataclass(frozen=True)
class GateInfo:
    venue: str
    token: str = field(repr=False)


@dataclass
class World:
    venues: list[str]
    notice_id: str
    gates: list[GateInfo]
    people: list[Person]
    postgres: str


def _synthetic_face(
    rng: np.random.Generator,
) -> Callable[..., tuple[np.ndarray[Any, Any], EnrollmentMethod]]:
    def face(*_args: Any) -> tuple[np.ndarray[Any, Any], EnrollmentMethod]:
        # Spread like real embeddings (component sd ~0.12): two are ~1.9 apart, far above the
        # 0.6 threshold, so the duplicate check passes them and the sample faces.
        return rng.normal(0.0, 0.12, faces.EMBEDDING_SIZE), EnrollmentMethod.PHOTO_UPLOAD

    return face


async def seed(options: Options, settings: Settings, keys: Keys, progress: Progress) -> World:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            venues = []
            for number in range(1, options.venues + 1):
                venue = await create_venue(
                    session, keys.master, slug=f"venue-{number}", name=f"Venue {number}"
                )
                await add_product(session, venue, code=PRODUCT, name="Day pass", valid_days=1)
                venues.append(venue)
            notices = await publish_notices(session, settings, venues)
            gates = []
            for number in range(options.gates):
                slug = venues[number % len(venues)].slug
                _gate, token = await register_gate(session, keys.tokens, slug, f"Gate {number}")
                gates.append(GateInfo(slug, token))
            version = str(await session.scalar(text("SHOW server_version")))
            await session.commit()
        notice_id = next(str(n.id) for n in notices if n.language == Language.EN)
        people = []
        face = _synthetic_face(np.random.default_rng(20240601))
        trip_end = date.today() + timedelta(days=5)
        with _patched(enrollment_service, "_face_from_request", face):
            for number in range(options.people):
                async with sessions() as session:
                    enrolled = await enrollment_service.enroll(
                        session,
                        keys,
                        settings,
                        enrollment_service.EnrollmentRequest(
                            notice_id=uuid.UUID(notice_id),
                            locale=Language.EN,
                            email=f"visitor{number}@example.org",
                            purposes=[Purpose.ENTRY, Purpose.PAYMENT],
                            venue_slugs=[v.slug for v in venues],
                            trip_end=trip_end,
                            photo=b"synthetic",
                        ),
                    )
                people.append(Person(enrolled.subject_id, enrolled.recovery_code))
                if (number + 1) % 50 == 0:
                    progress(f"  {number + 1} people enrolled")
        return World([v.slug for v in venues], notice_id, gates, people, version)
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# --- load ---------------------------------------------------------------------------------------


def _no_cookies() -> http.cookiejar.CookieJar:
    # Each simulated person sends their own session cookie; the shared client keeps none.
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _set_cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    raise RuntimeError(f"no {name} cookie in the answer ({response.status_code})")


@dataclass(frozen=True)
class PortalSession:
    cookie: str = field(repr=False)
    csrf: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"cookie": f"{SESSION_COOKIE}={self.cookie}", "x-csrf-token": self.csrf}


async def sign_in(client: httpx.AsyncClient, recovery_code: str) -> PortalSession:
    response = await client.post("/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
    response.raise_for_status()
    return PortalSession(_set_cookie(response, SESSION_COOKIE), response.json()["csrf_token"])


Send = Callable[[int], Awaitable[httpx.Response]]
After = Callable[[int, httpx.Response], Awaitable[None]]


#: The longest a phase waits for every client's first answer before counting anyway.
FIRST_ANSWER_CAP = 60.0


async def closed_loop(
    clients: int,
    warmup: float,
    duration: float,
    send: Send,
    ok: frozenset[int] = frozenset({200}),
    after: After | None = None,
) -> tuple[list[Sample], tuple[float, float]]:
    """``clients`` loops each sending a request as soon as the previous one is answered (then
    ``after``, untimed); every request's sample, and the measurement window.

    The window opens after ``warmup`` seconds and once every client has had a first answer (at
    most ``FIRST_ANSWER_CAP`` seconds later: cold starts, such as a worker loading the face
    models, stay out of the figures), and closes ``duration`` seconds later.
    """
    samples: list[Sample] = []
    window: list[float] = []
    answered: set[int] = set()
    everyone = asyncio.Event()

    async def one(index: int) -> None:
        while not window or time.monotonic() < window[1]:
            began = time.monotonic()
            try:
                response = await send(index)
            except httpx.HTTPError:
                samples.append(Sample(began, time.monotonic(), None, False))
                await asyncio.sleep(0.1)  # nothing answers: no tight loop
                continue
            ended = time.monotonic()
            samples.append(Sample(began, ended, response.status_code, response.status_code in ok))
            answered.add(index)
            if response.status_code not in ok:
                await asyncio.sleep(0.1)  # a refusal is counted, not hammered
            if len(answered) == clients:
                everyone.set()
            if after is not None:
                await after(index, response)

    async def open_window() -> None:
        await asyncio.sleep(warmup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), FIRST_ANSWER_CAP)
        now = time.monotonic()
        window.extend([now, now + duration])

    await asyncio.gather(open_window(), *(one(index) for index in range(clients)))
    return samples, (window[0], window[1])


def encoding_alone(
    settings: Settings, photos: tuple[str, ...], repeats: int = 2
) -> dict[str, float | int | None]:
    """The enrollment's face work (decode, detect, quality, encode) on the photos the enrollment
    phase sends, here, one at a time."""
    faces.warm_up()
    seconds = []
    for photo in photos:
        data = (FACES / photo).read_bytes()
        for _ in range(repeats):
            began = time.perf_counter()
            faces.enrollment_template(data, settings.faces)
            seconds.append(time.perf_counter() - began)
    return latency_figures(seconds)


@dataclass(frozen=True)
class Written:
    """A change the writer made: where, its sequence number, how, and (when made here) the
    moment its commit returned."""

    venue: str
    seq: int
    kind: str
    committed: float | None = None


@dataclass
class GalleryRun:
    snapshots: int = 0
    closing: bool = False
    targets: dict[str, int] = field(default_factory=dict)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)


class Bench:
    def __init__(
        self,
        options: Options,
        settings: Settings,
        keys: Keys,
        world: World,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        progress: Progress,
    ) -> None:
        self.options = options
        self.settings = settings
        self.keys = keys
        self.world = world
        self.client = client
        self.sessions = sessions
        self.progress = progress
        self.portal: list[PortalSession] = []

    async def baseline(self) -> Summary:
        async def send(_index: int) -> httpx.Response:
            return await self.client.get("/healthz")

        samples, window = await closed_loop(
            self.options.clients, self.options.warmup, self.options.duration, send
        )
        return summarise("baseline: GET /healthz", self.options.clients, samples, window)

    async def portal_reads(self) -> Summary:
        people = self.world.people[: self.options.clients]
        self.portal = list(
            await asyncio.gather(*(sign_in(self.client, p.recovery_code) for p in people))
        )

        async def send(index: int) -> httpx.Response:
            return await self.client.get("/api/v1/portal/me", headers=self.portal[index].headers())

        samples, window = await closed_loop(
            self.options.clients, self.options.warmup, self.options.duration, send
        )
        return summarise("portal: GET /portal/me", self.options.clients, samples, window)

    async def enrollments(self) -> tuple[Summary, Summary]:
        photos = [(FACES / name).read_bytes() for name in PHOTOS]
        trip_end = (date.today() + timedelta(days=3)).isoformat()
        deletions: list[Sample] = []
        rounds = [0] * self.options.enroll_clients

        async def send(index: int) -> httpx.Response:
            rounds[index] += 1
            name = PHOTOS[index]
            return await self.client.post(
                "/api/v1/enrollments",
                data={
                    "notice_id": self.world.notice_id,
                    "locale": "en",
                    "email": f"enrol{index}-{rounds[index]}@example.org",
                    "purposes": ["entry", "payment"],
                    "venues": self.world.venues,
                    "trip_end": trip_end,
                },
                files={"photo": (Path(name).name, photos[index], _mime(name))},
            )

        async def delete(_index: int, response: httpx.Response) -> None:
            if response.status_code != 201:
                return
            began = time.monotonic()
            status: int | None = None
            try:
                portal = await sign_in(self.client, response.json()["recovery_code"])
                answer = await self.client.post("/api/v1/portal/delete", headers=portal.headers())
                status = answer.status_code
            except httpx.HTTPError:
                pass
            deletions.append(Sample(began, time.monotonic(), status, status == 200))

        samples, window = await closed_loop(
            self.options.enroll_clients,
            self.options.warmup,
            self.options.duration,
            send,
            ok=frozenset({201}),
            after=delete,
        )
        duplicates = sum(
            1 for s in samples if s.status == 409 and window[0] <= s.ended <= window[1]
        )
        enrolled = summarise(
            "enrollment: POST /enrollments",
            self.options.enroll_clients,
            samples,
            window,
            refused_as_duplicates=duplicates,
        )
        deleted = summarise(
            "  then sign-in + delete", self.options.enroll_clients, deletions, window
        )
        return enrolled, deleted

    # --- gallery ---------------------------------------------------------------------------

    async def gallery(self) -> tuple[Summary, dict[str, Any]]:
        options = self.options
        run = GalleryRun()
        logs = [GateLog(gate.venue) for gate in self.world.gates]
        samples: list[Sample] = []
        snapshots: list[Sample] = []
        gates = [
            asyncio.create_task(self._gate(gate, log, run, samples, snapshots))
            for gate, log in zip(self.world.gates, logs, strict=True)
        ]
        try:
            try:
                await asyncio.wait_for(run.all_ready.wait(), timeout=60 + options.duration)
            except TimeoutError:
                self.progress(f"  only {run.snapshots} of {len(gates)} gates have a snapshot")
            else:
                self.progress(f"  {run.snapshots} gates hold their snapshot; changes start")
            await asyncio.sleep(options.warmup)  # every gate's first long-poll is waiting
            start = time.monotonic()
            window = (start, start + options.duration)
            written, writer_errors = await self._writer(window[1])
            self.progress(f"  {len(written)} changes made; closing")
            # Close: every gate is waiting; one more change per venue answers them, and from now
            # on they wait at most a second, so they all stop soon after.
            run.closing = True
            for venue in self.world.venues:
                closing = await self._grant(venue, 0)
                run.targets[venue] = closing.seq
            _done, pending = await asyncio.wait(gates, timeout=options.long_poll + 15)
            for task in pending:
                task.cancel()
        finally:
            for task in gates:
                task.cancel()
            await asyncio.gather(*gates, return_exceptions=True)
        changes = await self._when_written(written)
        delivered = deliveries(changes, logs)
        commits = [c.committed - c.written for c in changes if c.committed is not None]
        summary = summarise(
            f"gallery: {len(gates)} gates long-polling", len(gates), samples, window
        )
        figures = {
            "gates": len(gates),
            "venues": len(self.world.venues),
            "changes": len(changes),
            "changes_per_second": round(len(changes) / options.duration, 2),
            "deliveries": len(delivered.all()),
            "missed": delivered.missed,
            "writer_errors": writer_errors,
            "gates_not_stopped": len(pending),
            "change_to_delivery": latency_figures(delivered.all()),
            "by_kind": by_kind(delivered.latencies),
            "grant_commit": latency_figures(commits),
            "snapshots": {
                **latency_figures([s.seconds for s in snapshots if s.ok]),
                "errors": sum(1 for s in snapshots if not s.ok),
            },
        }
        return summary, figures

    async def _gate(
        self,
        gate: GateInfo,
        log: GateLog,
        run: GalleryRun,
        samples: list[Sample],
        snapshots: list[Sample],
    ) -> None:
        headers = {"authorization": f"Bearer {gate.token}"}
        since: int | None = None
        while True:
            wait = 0 if since is None else (1 if run.closing else self.options.long_poll)
            began = time.monotonic()
            status: int | None = None
            body: dict[str, Any] = {}
            try:
                response = await self.client.get(
                    "/api/v1/agent/gallery",
                    params={"since": since or 0, "wait": wait},
                    headers=headers,
                    timeout=wait + 60,
                )
                status = response.status_code
                if status == 200:
                    body = response.json()
            except httpx.HTTPError:
                pass
            received = time.time()
            sample = Sample(began, time.monotonic(), status, status == 200)
            (snapshots if since is None else samples).append(sample)
            if status != 200:
                await asyncio.sleep(0.5)
            else:
                if since is None:
                    run.snapshots += 1
                    if run.snapshots == len(self.world.gates):
                        run.all_ready.set()
                since = int(body["sequence"])
                log.received.append((received, since))
            target = run.targets.get(gate.venue)
            if run.closing and target is not None and since is not None and since >= target:
                return

    async def _writer(self, until: float) -> tuple[list[Written], int]:
        """A change every --change-interval seconds: withdrawals through the API and grants from
        this process take turns, each on its own clock, so a slow answer to one does not hold up
        the other. Each change made, and how many failed."""
        written: list[Written] = []
        errors = 0
        period = 2 * self.options.change_interval
        withdrawals = self._withdrawals()

        async def every(offset: float, change: Callable[[int], Awaitable[Written | None]]) -> None:
            nonlocal errors
            await asyncio.sleep(offset)
            start, tick = time.monotonic(), 0
            while time.monotonic() < until:
                try:
                    made = await change(tick)
                except (httpx.HTTPError, RuntimeError) as exc:
                    errors += 1
                    self.progress(f"  writer: {str(exc).splitlines()[0]}")
                else:
                    if made is not None:
                        written.append(made)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * period - time.monotonic()))

        async def withdraw(_tick: int) -> Written | None:
            pair = next(withdrawals, None)
            return None if pair is None else await self._withdraw(*pair)

        async def grant(tick: int) -> Written:
            # People from the front (the withdrawals take them from the back).
            venue = self.world.venues[tick % len(self.world.venues)]
            return await self._grant(venue, tick % self.options.clients)

        await asyncio.gather(every(0.0, withdraw), every(self.options.change_interval, grant))
        return written, errors

    def _withdrawals(self) -> Iterator[tuple[int, str]]:
        """(person, venue) whose entry consent can still be withdrawn: people from the back of
        the list (the portal phase's sessions are at the front), each venue in turn."""
        for person in range(len(self.world.people) - 1, self.options.clients - 1, -1):
            for venue in self.world.venues:
                yield person, venue

    async def _withdraw(self, person: int, venue: str) -> Written:
        portal = await sign_in(self.client, self.world.people[person].recovery_code)
        response = await self.client.post(
            "/api/v1/portal/withdraw",
            json={"purpose": "entry", "venue": venue},
            headers=portal.headers(),
        )
        if response.status_code != 200:
            raise RuntimeError(f"withdrawal answered {response.status_code}: {response.text}")
        subject = self.world.people[person].subject_id
        async with self.sessions() as session:
            (row,) = await venues_by_slug(session, [venue])
            ref = venue_key(self.keys.master, row).pseudonym(subject)
            seq = await session.scalar(
                select(func.max(VenueChange.seq)).where(
                    VenueChange.venue_id == row.id, VenueChange.subject_ref == ref
                )
            )
        if seq is None:
            raise RuntimeError("the withdrawal left no change in the venue's log")
        return Written(venue, int(seq), WITHDRAWAL)

    async def _grant(self, venue: str, person: int) -> Written:
        subject = self.world.people[person].subject_id
        async with self.sessions() as session:
            (row,) = await venues_by_slug(session, [venue])
            now = utcnow()
            await grant_product(session, subject, row, PRODUCT, now)
            await record_change(session, self.keys.master, [row], subject, ChangeAction.ADD)
            seq = await current_sequence(session, row.id)  # under the venue row's lock
            await session.commit()
            return Written(venue, seq, GRANT, committed=time.time())

    async def _when_written(self, written: list[Written]) -> list[Change]:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Venue.slug, VenueChange.seq, VenueChange.created_at).join(
                        Venue, Venue.id == VenueChange.venue_id
                    )
                )
            ).all()
        at = {(slug, seq): created.timestamp() for slug, seq, created in rows}
        return [Change(w.venue, w.seq, at[(w.venue, w.seq)], w.kind, w.committed) for w in written]


def _mime(name: str) -> str:
    return "image/png" if name.endswith(".png") else "image/jpeg"


T = TypeVar("T")


async def while_alive(served: Served, work: Awaitable[T]) -> T:
    """``work``'s result, unless the server exits first: then ``ServerDied`` at once (a phase
    would otherwise go on counting refused connections)."""

    async def watch() -> None:
        while True:
            served.check()
            await asyncio.sleep(0.5)

    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            watcher.result()  # raises ServerDied
        return task.result()
    finally:
        for pending in (task, watcher):
            pending.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)


async def measure(
    options: Options,
    settings: Settings,
    keys: Keys,
    world: World,
    served: Served,
    progress: Progress,
) -> dict[str, Any]:
    connections = max(options.clients, options.gates) + 20
    engine = create_engine(settings.database_url)
    async with httpx.AsyncClient(
        base_url=served.base,
        cookies=_no_cookies(),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=60,
    ) as client:
        bench = Bench(options, settings, keys, world, client, session_factory(engine), progress)
        crashes = served.crashes()

        def crashed() -> int:
            nonlocal crashes
            before, crashes = crashes, served.crashes()
            return crashes - before

        try:
            seconds = options.warmup + options.duration
            progress(f"baseline: GET /healthz, {options.clients} clients, ~{seconds:.0f} s")
            baseline = await while_alive(served, bench.baseline())
            baseline.notes["worker_crashes"] = crashed()
            progress(f"portal: GET /api/v1/portal/me, {options.clients} clients, ~{seconds:.0f} s")
            portal = await while_alive(served, bench.portal_reads())
            portal.notes["worker_crashes"] = crashed()
            progress("face encoding alone, in this process")
            encoding = encoding_alone(settings, PHOTOS[: options.enroll_clients])
            progress(f"enrollment: {options.enroll_clients} clients, ~{seconds:.0f} s")
            enrolled, deleted = await while_alive(served, bench.enrollments())
            enrolled.notes["worker_crashes"] = crashed()
            progress(
                f"gallery: {options.gates} gates at {options.venues} venues, a change every "
                f"{options.change_interval:g} s, ~{seconds + 5:.0f} s"
            )
            gallery, figures = await while_alive(served, bench.gallery())
            gallery.notes["worker_crashes"] = crashed()
        finally:
            await engine.dispose()
    return {
        "server_log_errors": served.log_errors(),
        "phases": [baseline, portal, enrolled, deleted, gallery],
        "encoding": encoding,
        "gallery": figures,
        "postgres": world.postgres,
    }


# --- the run ---------------------------------------------------------------------------------


def run(options: Options, stack: contextlib.ExitStack, progress: Progress) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    if options.postgres_url:
        server = PostgresServer.external(options.postgres_url)
    else:
        progress("starting PostgreSQL (durability on)")
        server = PostgresServer.start(settings=POSTGRES_SETTINGS)
    stack.callback(server.stop)
    if server.process is not None:
        progress(f"PostgreSQL on port {server.admin_url.port} (pid {server.process.pid})")
    database_url = server.create_database(f"optin_load_{uuid.uuid4().hex[:10]}")
    scratch = Path(tempfile.mkdtemp(prefix="optin-load-"))
    stack.callback(shutil.rmtree, scratch, True)
    env = {
        "OPTIN_DATA_DIR": str(scratch / "data"),
        "OPTIN_DATABASE_URL": database_url,
        "OPTIN_NOTICE_LEAD_HOURS": "0",
        "OPTIN_HOST": "127.0.0.1",
        # Every simulated visitor comes from 127.0.0.1: lift the per-address enrollment limit.
        "OPTIN_ENROLL_PER_MINUTE": "1000000",
    }
    settings = Settings.from_env(env)
    progress("migrating")
    prepared = prepare(settings, migrate=True)
    progress(f"seeding: {options.venues} venues, {options.gates} gates, {options.people} people")
    world = asyncio.run(seed(options, settings, prepared.keys, progress))
    progress(f"starting optin serve --workers {options.workers}")
    served = stack.enter_context(serving(env, options.workers, scratch / "serve.log"))
    progress(f"serving at {served.base} (pid {served.pid})")
    measured = asyncio.run(measure(options, settings, prepared.keys, world, served, progress))
    measured["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return report(options, measured)


def report(options: Options, measured: dict[str, Any]) -> dict[str, Any]:
    phases: list[Summary] = measured["phases"]
    baseline = phases[0]
    rows = []
    for phase in phases:
        row = phase.as_dict()
        row["rps_vs_baseline"] = ratio(phase.rps, baseline.rps)
        row["p95_vs_baseline"] = ratio(phase.p95_ms, baseline.p95_ms)
        rows.append(row)
    parameters = {k: v for k, v in asdict(options).items() if k not in {"as_json", "postgres_url"}}
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": measured["postgres"],
            # 1-minute load average when the run started and when it ended: how busy it was.
            "load_average": measured["load_average"],
        },
        "parameters": parameters,
        "phases": rows,
        "encoding_alone": measured["encoding"],
        "gallery": measured["gallery"],
        "server_log_errors": measured["server_log_errors"],
    }


def render(result: dict[str, Any]) -> str:
    params, machine = result["parameters"], result["machine"]
    load_start, load_end = machine["load_average"]
    lines = [
        f"optin load: optin serve --workers {params['workers']} on loopback, PostgreSQL "
        f"{machine['postgres']}, {machine['cpus']} CPUs (load average {load_start:g} at the "
        f"start, {load_end:g} at the end); {params['duration']:g} s per phase after "
        f"{params['warmup']:g} s warm-up; {params['people']} people enrolled",
        "",
    ]
    header = ["phase", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    header += ["req/s ÷ base", "p95 ÷ base"]
    rows = []
    for phase in result["phases"]:
        long_poll = phase["name"].startswith("gallery")
        rows.append(
            [
                phase["name"],
                str(phase["clients"]),
                fmt(phase["rps"]),
                "-" if long_poll else fmt(phase["p50_ms"]),
                "-" if long_poll else fmt(phase["p95_ms"]),
                "-" if long_poll else fmt(phase["p99_ms"]),
                str(phase["errors"]),
                fmt(phase["rps_vs_baseline"], "x"),
                "-" if long_poll else fmt(phase["p95_vs_baseline"], "x"),
            ]
        )
    lines.append(table(header, rows))
    for phase in result["phases"]:
        if phase["errors"]:
            statuses = ", ".join(f"{n} x {code}" for code, n in phase["error_statuses"].items())
            lines.append(f"!! {phase['name'].strip()}: errors by status: {statuses}")
        if phase["notes"].get("worker_crashes"):
            lines.append(
                f"!! {phase['name'].strip()}: {phase['notes']['worker_crashes']} server worker(s)"
                " crashed (uvicorn started others in their place)"
            )
    enrolment = next(p for p in result["phases"] if p["name"].startswith("enrollment"))
    encoding = result["encoding_alone"]
    lines += [
        "",
        f"face encoding alone (this process, the same photos x 2): "
        f"p50 {fmt(encoding['p50_ms'])} ms, p95 {fmt(encoding['p95_ms'])} ms; enrollment p50 is "
        f"{fmt(ratio(enrolment['p50_ms'], encoding['p50_ms']), 'x')} that"
        + (
            f"; {enrolment['notes']['refused_as_duplicates']} refused as duplicates"
            if enrolment["notes"].get("refused_as_duplicates")
            else ""
        ),
    ]
    gallery = result["gallery"]
    delay = gallery["change_to_delivery"]
    lines += [
        f"gallery: {gallery['changes']} changes ({gallery['changes_per_second']:g}/s) to "
        f"{gallery['gates']} gates at {gallery['venues']} venues, long-poll wait "
        f"{params['long_poll']} s: {gallery['deliveries']} deliveries, {gallery['missed']} "
        f"missed; change to delivery p50 {fmt(delay['p50_ms'])} ms, p95 {fmt(delay['p95_ms'])} "
        f"ms, p99 {fmt(delay['p99_ms'])} ms, max {fmt(delay['max_ms'])} ms",
    ]
    for kind, figures in gallery["by_kind"].items():
        lines.append(
            f"  {kind}: p50 {fmt(figures['p50_ms'])} ms, p95 {fmt(figures['p95_ms'])} ms "
            f"({figures['count']} deliveries)"
        )
    commit = gallery["grant_commit"]
    lines.append(
        f"  (of which the grant's own commit: p50 {fmt(commit['p50_ms'])} ms, "
        f"p95 {fmt(commit['p95_ms'])} ms)"
    )
    snapshots = gallery["snapshots"]
    lines.append(
        f"  first snapshots ({gallery['gates']} gates at once): p50 {fmt(snapshots['p50_ms'])} "
        f"ms, p95 {fmt(snapshots['p95_ms'])} ms, {snapshots['errors']} errors"
        + (f"; writer errors {gallery['writer_errors']}" if gallery["writer_errors"] else "")
    )
    log_errors = result["server_log_errors"]
    if log_errors:
        lines.append(f"!! the server logged {sum(log_errors.values())} errors:")
        lines += [f"   {count} x {message}" for message, count in list(log_errors.items())[:5]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    progress = Progress()
    # SIGTERM cleans up like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    limit = HardLimit(options.time_limit)
    try:
        with contextlib.ExitStack() as stack:
            # The limit interrupts the run, not the cleanup after it.
            with limit:
                result = run(options, stack, progress)
            progress("stopping the server and PostgreSQL")
    except ServerDied as exc:
        print(f"load benchmark stopped: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        why = (
            f"the time limit ({options.time_limit:g} s) passed" if limit.expired else "interrupted"
        )
        print(f"load benchmark stopped: {why}; what it started is stopped", file=sys.stderr)
        return 3 if limit.expired else 130
    progress("done")
    print(json.dumps(result, indent=2) if options.as_json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
