"""The gate part of ``optin demo``: a real gate agent, over real HTTP, on the sample video.

Lin-Manuel Miranda enrols for entry; a gate is registered at the venue and replays the sample
video as its camera: he is admitted without a ticket, and the other person in the clip, who
never enrolled, leaves no trace. He then withdraws, and the same video at the same gate
admits nobody.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from optin.crypto.files import create_private_file
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import Event, Notice
from optin.demo_checks import DemoChecks
from optin.runtime import Prepared
from optin.services.consents import withdraw
from optin.services.enrollment import EnrollmentRequest, enroll
from optin.services.gates import register_gate

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "faces" / "lin_manuel_miranda" / "lin_manuel_miranda_1.png"
VIDEO = ROOT / "samples" / "video" / "short_hamilton_clip.mp4"
VENUE = "shirahama-onsen"

Echo = Callable[[str], None]


def run_gate_story(prepared: Prepared, echo: Echo, base_url: str, checks: DemoChecks) -> None:
    token_file, subject_id = asyncio.run(_setup(prepared, echo))
    echo("\n7. The gate replays the sample video as its camera")
    first = _run_gate(prepared, base_url, token_file)
    events_before = _report(first, prepared, echo)
    checks.expect(
        "the gate admits the enrolled person",
        first.get("decisions", {}).get("granted", 0) >= 1 and events_before >= 1,
        json.dumps(first.get("decisions", {})),
    )

    async def withdraw_entry() -> None:
        engine = create_engine(prepared.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                await withdraw(session, prepared.keys, subject_id, purpose=Purpose.ENTRY)
        finally:
            await engine.dispose()

    asyncio.run(withdraw_entry())
    echo("\n8. Lin-Manuel Miranda withdraws his entry consent; the gate runs the video again")
    second = _run_gate(prepared, base_url, token_file)
    events_after = _report(second, prepared, echo)
    checks.expect(
        "after withdrawal the gate admits nobody and records nothing",
        second.get("matches", 1) == 0 and events_after == events_before,
        json.dumps(second.get("decisions", {})),
    )


async def _setup(prepared: Prepared, echo: Echo) -> tuple[Path, Any]:
    settings = prepared.settings
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            notice = await session.scalar(
                select(Notice).where(Notice.language == Language.EN).order_by(Notice.version.desc())
            )
            assert notice is not None
            result = await enroll(
                session,
                prepared.keys,
                settings,
                EnrollmentRequest(
                    notice_id=notice.id,
                    locale=Language.EN,
                    email="lin@example.org",
                    purposes=[Purpose.ENTRY],
                    venue_slugs=[VENUE],
                    trip_end=utcnow().date() + timedelta(days=2),
                    photo=PHOTO.read_bytes(),
                ),
            )
            gate, token = await register_gate(session, prepared.keys.tokens, VENUE, "Main entrance")
            await session.commit()
    finally:
        await engine.dispose()
    echo("\n6. Lin-Manuel Miranda enrols for entry at Shirahama Onsen Hotel; a gate is registered")
    token_file = settings.data_dir / "gate" / "token"
    create_private_file(token_file, token.encode())
    echo(f"   gate {str(gate.id)[-8:]}: its token is in {token_file} (0600), shown nowhere else")
    return token_file, result.subject_id


def _run_gate(prepared: Prepared, base_url: str, token_file: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "gate_agent",
        "run",
        "--server",
        base_url,
        "--token-file",
        str(token_file),
        "--source",
        str(VIDEO),
        "--fast",
        "--stride",
        "3",
        "--state-dir",
        str(prepared.settings.data_dir / "gate"),
        "--long-poll",
        "1",
        "--json",
        "--log-level",
        "warning",
    ]
    # Our own interpreter and arguments: nothing here comes from outside.
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"the gate failed: {done.stderr.strip().splitlines()[-1:]}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def _report(summary: dict[str, Any], prepared: Prepared, echo: Echo) -> int:
    """Print the gate's counters and the server's event count; returns that count."""
    decisions = summary.get("decisions", {})
    echo(
        f"   frames {summary['frames']}, faces seen {summary['faces']}, people tracked "
        f"{summary['tracks']}, matches {summary['matches']}"
    )
    echo(f"   decisions: {json.dumps(decisions) if decisions else 'none'}")
    echo("   everyone who matched nobody was dropped in memory: no file, log line or request")

    async def count() -> int:
        engine = create_engine(prepared.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return int(await session.scalar(select(func.count()).select_from(Event)) or 0)
        finally:
            await engine.dispose()

    stored = asyncio.run(count())
    echo(f"   events stored by the server so far (enrolled people only): {stored}")
    return stored
