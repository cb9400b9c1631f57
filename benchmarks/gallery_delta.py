"""A gate's gallery delta with the venue's derived material cached, against deriving it afresh.

Seeds a throwaway SQLite database through the product's services (a venue, a notice, --people
people enrolled with a synthetic template in place of the face step, as ``benchmarks.load``
does), logs one change, then asks ``gallery_page`` for the delta after it, alternating:
- uncached: the venue material cache emptied before each call, so the delta unwraps the venue
  key, builds the transform (a 128x128 QR) and the pseudonym of everyone consenting (what every
  delta did before the cache);
- cached: the material kept from the previous call (what a gate's long-poll gets now).
Both read the consenting people and the changed person's templates from the database.

Printed: the median milliseconds per delta of each and their ratio, then the derived material
alone (no database). Machines are noisy and shared: read the ratio, not the milliseconds.

    uv run python -m benchmarks.gallery_delta [--people 200] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.load import _patched, _synthetic_face
from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChangeAction, Language, Purpose
from optin.runtime import Keys, prepare
from optin.services import enrollment as enrollment_service
from optin.services.gallery import current_sequence, gallery_page, record_change
from optin.services.gallery_cache import materials
from optin.services.notices import publish_notices
from optin.services.venues import create_venue


async def bench(settings: Settings, keys: Keys, people: int, rounds: int) -> dict[str, float]:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            venue = await create_venue(session, keys.master, slug="bench", name="Bench")
            notices = await publish_notices(session, settings, [venue])
            await session.commit()
        notice = next(n.id for n in notices if n.language == Language.EN)
        subjects = []
        with _patched(
            enrollment_service, "_face_from_request", _synthetic_face(np.random.default_rng(7))
        ):
            for number in range(people):
                async with sessions() as session:
                    enrolled = await enrollment_service.enroll(
                        session,
                        keys,
                        settings,
                        enrollment_service.EnrollmentRequest(
                            notice_id=notice,
                            locale=Language.EN,
                            email=f"visitor{number}@example.org",
                            purposes=[Purpose.ENTRY],
                            venue_slugs=[venue.slug],
                            trip_end=date.today() + timedelta(days=3),
                            photo=b"synthetic",
                        ),
                    )
                subjects.append(enrolled.subject_id)
        async with sessions() as session:
            since = await current_sequence(session, venue.id)
            await record_change(session, keys.master, [venue], subjects[0], ChangeAction.ADD)
            await session.commit()
        gate_key = secrets.token_bytes(32)

        async def delta(cached: bool) -> float:
            if not cached:
                materials.clear()
            async with sessions() as session:
                started = time.perf_counter()
                page = await gallery_page(
                    session, keys.master, keys.subjects, venue, gate_key, since
                )
                elapsed = time.perf_counter() - started
            if page.kind != "delta" or len(page.entries) != 1:
                raise RuntimeError(f"expected a delta with the one change, got {page}")
            return elapsed

        await delta(True)  # warm-up: imports, connections, the cache itself
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for cached in (False, True):
                timings[cached].append(await delta(cached))
        uncached_ms = statistics.median(timings[False]) * 1000
        cached_ms = statistics.median(timings[True]) * 1000

        def derive(cached: bool) -> float:
            """The derived material alone (no database): key, transform, every pseudonym."""
            if not cached:
                materials.clear()
            started = time.perf_counter()
            material = materials.get(keys.master, venue.id, venue.transform_key_wrapped)
            material.pseudonyms(subjects, complete=True)
            return time.perf_counter() - started

        derived: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for cached in (False, True):
                derived[cached].append(derive(cached))
        return {
            "uncached_ms": uncached_ms,
            "cached_ms": cached_ms,
            "ratio": uncached_ms / cached_ms,
            "derive_uncached_ms": statistics.median(derived[False]) * 1000,
            "derive_cached_ms": statistics.median(derived[True]) * 1000,
        }
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=200, help="people consenting at the venue")
    parser.add_argument("--rounds", type=int, default=40, help="deltas timed per variant")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="optin-gallery-bench-"))
    try:
        settings = Settings.from_env({"OPTIN_DATA_DIR": str(scratch / "data")})
        prepared = prepare(settings, migrate=True)
        print(f"seeding {args.people} people (SQLite) ...", flush=True)
        figures = asyncio.run(bench(settings, prepared.keys, args.people, args.rounds))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"gallery delta at {args.people} people, median of {args.rounds}:")
    print(f"  uncached (derive venue material each time): {figures['uncached_ms']:7.2f} ms")
    print(f"  cached (per venue and key version):         {figures['cached_ms']:7.2f} ms")
    print(f"  ratio: {figures['ratio']:.1f}x faster")
    print(
        f"the derived material alone: {figures['derive_uncached_ms']:.2f} ms derived, "
        f"{figures['derive_cached_ms']:.3f} ms from the cache"
    )


if __name__ == "__main__":
    main()
