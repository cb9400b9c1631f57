"""Backup and restore as an operator runs them: `optin serve`, `optin backup ...` in subprocesses.

Two people enrol over HTTP; a database backup and a subject key backup are taken; A deletes
themself in the portal; the server stops; the database backup is restored. A must stay deleted
(key destroyed, no template, absent from the gate gallery, no sign-in) while B is intact, on
SQLite and on PostgreSQL. Then the key store is lost and its backup restored: B's key comes back,
A's does not. Withdrawals are replayed too: a person who withdrew their last consent after the
backup stays withdrawn, without template and absent from the gate gallery, and one of two
consents withdrawn stays withdrawn while the template stays, as does a withdrawn agreement to
provision to a third party. A damaged backup and a restore under
a running server are refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose, SubjectStatus
from optin.db.models import Consent, FaceTemplate, ProvisionConsent, Subject
from optin.errors import KeyDestroyed
from optin.runtime import open_keys
from optin.services.gates import register_gate
from optin.services.notices import publish_notices
from optin.services.provisions import register_recipient
from optin.services.renewal import apply_purpose_changes
from optin.services.venues import create_venue, list_venues

from support.served_app import served

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "faces"
VENUE = "onsen-hotel"

pytestmark = pytest.mark.slow


@dataclass
class Site:
    env: dict[str, str]
    settings: Settings
    gate_token: str
    notice_id: str


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> Site:
    env = {
        "OPTIN_DATA_DIR": str(tmp_path / "data"),
        "OPTIN_DATABASE_URL": database_url,
        "OPTIN_NOTICE_LEAD_HOURS": "0",
    }
    settings = Settings.from_env(env)
    settings.ensure_data_dir()
    keys = open_keys(settings)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        venue = await create_venue(session, keys.master, slug=VENUE, name="Onsen Hotel")
        notices = await publish_notices(session, settings, [venue])
        _, token = await register_gate(session, keys.tokens, VENUE, "Front door")
        await session.commit()
    await engine.dispose()
    english = next(n for n in notices if str(n.language) == "en")
    return Site(env=env, settings=settings, gate_token=token, notice_id=str(english.id))


def _optin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _enroll(
    base: str, site: Site, photo: str, email: str, purposes: tuple[str, ...] = ("entry",)
) -> dict[str, Any]:
    path = SAMPLES / photo
    response = httpx.post(
        f"{base}/api/v1/enrollments",
        data={
            "notice_id": site.notice_id,
            "locale": "en",
            "email": email,
            "purposes": list(purposes),
            "venues": [VENUE],
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": ("selfie.jpg", path.read_bytes(), "image/jpeg")},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _sign_in(base: str, recovery_code: str) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{base}/api/v1/portal/sign-in", json={"recovery_code": recovery_code}
        )
        if response.status_code == 200:
            me = client.get(f"{base}/api/v1/portal/me")
            assert me.status_code == 200, me.text
        return response


def _in_portal(base: str, recovery_code: str, path: str, body: dict[str, Any] | None) -> None:
    with httpx.Client(timeout=30) as client:
        signed = client.post(f"{base}/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
        assert signed.status_code == 200, signed.text
        csrf = signed.json()["csrf_token"]
        done = client.post(
            f"{base}/api/v1/portal/{path}", json=body, headers={"x-csrf-token": csrf}
        )
        assert done.status_code == 200, done.text


def _delete_in_portal(base: str, recovery_code: str) -> None:
    _in_portal(base, recovery_code, "delete", None)


def _withdraw_in_portal(base: str, recovery_code: str, purpose: str) -> None:
    _in_portal(base, recovery_code, "withdraw", {"purpose": purpose})


def _gallery(base: str, token: str, since: int = 0) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/api/v1/agent/gallery",
        params={"since": since, "wait": 0},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _state(settings: Settings, subject_id: str) -> tuple[SubjectStatus, int]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            subject = await session.get(Subject, UUID(subject_id))
            assert subject is not None
            templates = (
                await session.scalars(
                    select(FaceTemplate).where(FaceTemplate.subject_id == subject.id)
                )
            ).all()
            return subject.status, len(templates)
    finally:
        await engine.dispose()


async def _consents(settings: Settings, subject_id: str) -> dict[str, datetime | None]:
    """Each consent's purpose and when it was withdrawn (None: live)."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(Consent.purpose, Consent.withdrawn_at).where(
                        Consent.subject_id == UUID(subject_id)
                    )
                )
            ).all()
            return {str(purpose): withdrawn_at for purpose, withdrawn_at in rows}
    finally:
        await engine.dispose()


async def _add_recipient(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            recipient = await register_recipient(
                session, name="Insurer", purpose="claims", items=["events"], contact="x@y.example"
            )
            await session.commit()
            return str(recipient.id)
    finally:
        await engine.dispose()


async def _provision_withdrawn_at(settings: Settings, subject_id: str) -> list[datetime | None]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(ProvisionConsent.withdrawn_at).where(
                ProvisionConsent.subject_id == UUID(subject_id)
            )
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


def _key_exists(settings: Settings, subject_id: str) -> bool:
    try:
        open_keys(settings).subjects.get(UUID(subject_id))
    except KeyDestroyed:
        return False
    return True


async def test_a_restored_backup_does_not_bring_a_deleted_person_back(
    site: Site, tmp_path: Path
) -> None:
    with served(site.env) as base:
        alice = _enroll(base, site, "obama/obama_4.jpg", "a@example.org")
        bob = _enroll(base, site, "kit_harington/kit_harington_1.jpg", "b@example.org")
        before = _gallery(base, site.gate_token)
        assert len(before["entries"]) == 2

        made = _optin("backup", "create", "--out", str(tmp_path / "db-backup"), env=site.env)
        assert made.returncode == 0, made.stderr
        keys = _optin("backup", "subject-keys", "--out", str(tmp_path / "keys"), env=site.env)
        assert keys.returncode == 0, keys.stderr
        assert "2 subject data keys" in keys.stdout

        _delete_in_portal(base, alice["recovery_code"])
        seen_by_gate = _gallery(base, site.gate_token)["sequence"]

        # A restore under a running server is refused, and changes nothing.
        refused = _optin("backup", "restore", "--from", str(tmp_path / "db-backup"), env=site.env)
        assert refused.returncode == 2
        assert "optin serve is running" in refused.stderr
        assert "Traceback" not in refused.stderr

    restored = _optin(
        "backup", "restore", "--from", str(tmp_path / "db-backup"), "--json", env=site.env
    )
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["re_erased"] == 1
    assert report["journal_entries"] == 1
    assert report["keys"] == {"master_keyring": "unchanged", "signing_key": "unchanged"}
    assert report["active_without_key"] == 0
    assert (report["migrated"], report["venues_resynced"]) == (False, 1)

    assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.DELETED, 0)
    assert await _state(site.settings, bob["subject_id"]) == (SubjectStatus.ACTIVE, 1)
    assert not _key_exists(site.settings, alice["subject_id"])
    assert _key_exists(site.settings, bob["subject_id"])

    with served(site.env) as base:
        # A gate that synced before the restore gets a full snapshot, without A.
        page = _gallery(base, site.gate_token, since=seen_by_gate)
        assert page["kind"] == "snapshot"
        assert len(page["entries"]) == 1
        assert _sign_in(base, alice["recovery_code"]).status_code == 401
        assert _sign_in(base, bob["recovery_code"]).status_code == 200

    # The key store is lost; its backup (taken while A still existed) puts back B's key only.
    site.settings.subject_keys_file.unlink()
    keys_back = _optin(
        "backup", "restore", "--from", str(tmp_path / "keys"), "--json", env=site.env
    )
    assert keys_back.returncode == 0, keys_back.stderr
    assert json.loads(keys_back.stdout) | {"from": "", "backup_created_at": ""} == {
        "kind": "subject-keys",
        "from": "",
        "backup_created_at": "",
        "keys_in_backup": 2,
        "keys_put_back": 1,
        "keys_already_present": 0,
        "erased_skipped": 1,
        "erased_keys_destroyed": 0,
        "keys_not_opening": 0,
    }
    assert _key_exists(site.settings, bob["subject_id"])
    assert not _key_exists(site.settings, alice["subject_id"])


async def test_a_restored_backup_does_not_bring_a_withdrawn_consent_back(
    site: Site, tmp_path: Path
) -> None:
    with served(site.env) as base:
        # A has one consent, B two; both are in the backup with every consent live.
        alice = _enroll(base, site, "obama/obama_4.jpg", "a@example.org")
        bob = _enroll(
            base, site, "kit_harington/kit_harington_1.jpg", "b@example.org", ("entry", "payment")
        )
        before = {e["ref"]: e["purposes"] for e in _gallery(base, site.gate_token)["entries"]}
        [bob_ref] = [ref for ref, purposes in before.items() if "payment" in purposes]
        insurer = await _add_recipient(site.settings)
        agree = {"recipient_id": insurer, "consent": True}
        _in_portal(base, bob["recovery_code"], "provision-consents", agree)
        made = _optin("backup", "create", "--out", str(tmp_path / "db-backup"), env=site.env)
        assert made.returncode == 0, made.stderr

        # A withdraws their last consent (template erased at once), B one of two (kept).
        _withdraw_in_portal(base, alice["recovery_code"], "entry")
        _withdraw_in_portal(base, bob["recovery_code"], "payment")
        # B also withdraws their agreement to provision to a third party.
        _in_portal(base, bob["recovery_code"], "provision-consents", agree | {"consent": False})
        [provision_withdrawn] = await _provision_withdrawn_at(site.settings, bob["subject_id"])
        assert provision_withdrawn is not None
        alice_withdrawn = await _consents(site.settings, alice["subject_id"])
        bob_withdrawn = await _consents(site.settings, bob["subject_id"])
        assert alice_withdrawn["entry"] is not None
        assert bob_withdrawn["payment"] is not None
        assert bob_withdrawn["entry"] is None
        assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.ACTIVE, 0)
        assert await _state(site.settings, bob["subject_id"]) == (SubjectStatus.ACTIVE, 1)
        seen_by_gate = _gallery(base, site.gate_token)["sequence"]

    restored = _optin(
        "backup", "restore", "--from", str(tmp_path / "db-backup"), "--json", env=site.env
    )
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert (report["journal_withdrawals"], report["re_withdrawn"]) == (3, 3)
    assert (report["journal_entries"], report["re_erased"]) == (0, 0)

    # Withdrawn again at the original time; A's template erased again, B's kept.
    assert await _consents(site.settings, alice["subject_id"]) == alice_withdrawn
    assert await _consents(site.settings, bob["subject_id"]) == bob_withdrawn
    assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.ACTIVE, 0)
    assert await _state(site.settings, bob["subject_id"]) == (SubjectStatus.ACTIVE, 1)
    assert await _provision_withdrawn_at(site.settings, bob["subject_id"]) == [provision_withdrawn]

    with served(site.env) as base:
        page = _gallery(base, site.gate_token, since=seen_by_gate)
        assert page["kind"] == "snapshot"
        assert [(e["ref"], e["purposes"]) for e in page["entries"]] == [(bob_ref, ["entry"])]

    # Restoring the same backup again (the journal was not consumed) withdraws them again.
    again = _optin("backup", "restore", "--from", str(tmp_path / "db-backup"), env=site.env)
    assert again.returncode == 0, again.stderr
    assert "withdrawals: 3 listed; 3 were live in the backup" in again.stdout
    assert await _consents(site.settings, alice["subject_id"]) == alice_withdrawn
    assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.ACTIVE, 0)


async def _change_entry(settings: Settings) -> str:
    """Publish a notice that changes entry and set the consents to it aside (as the CLI does);
    the English notice's id."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            venues = list(await list_venues(session))
            notices = await publish_notices(
                session, settings, venues, changed_purposes=[Purpose.ENTRY]
            )
            await session.commit()
            assert await apply_purpose_changes(session, open_keys(settings)) == 1
            return next(str(n.id) for n in notices if str(n.language) == "en")
    finally:
        await engine.dispose()


async def test_a_withdrawn_renewal_withdraws_the_consent_it_renewed_in_the_backup(
    site: Site, tmp_path: Path
) -> None:
    with served(site.env) as base:
        alice = _enroll(base, site, "obama/obama_4.jpg", "a@example.org")
        made = _optin("backup", "create", "--out", str(tmp_path / "db-backup"), env=site.env)
        assert made.returncode == 0, made.stderr
        # After the backup, entry changes meaning; A renews (a new consent row), then withdraws
        # the renewed consent, which the backup does not hold.
        notice = await _change_entry(site.settings)
        renewal = {"purpose": "entry", "venue": VENUE, "notice_id": notice}
        _in_portal(base, alice["recovery_code"], "renew", renewal)
        _withdraw_in_portal(base, alice["recovery_code"], "entry")
        assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.ACTIVE, 0)
        seen_by_gate = _gallery(base, site.gate_token)["sequence"]

    restored = _optin(
        "backup", "restore", "--from", str(tmp_path / "db-backup"), "--json", env=site.env
    )
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["re_withdrawn"] == 1
    [withdrawn_at] = (await _consents(site.settings, alice["subject_id"])).values()
    assert withdrawn_at is not None
    assert await _state(site.settings, alice["subject_id"]) == (SubjectStatus.ACTIVE, 0)
    with served(site.env) as base:
        assert _gallery(base, site.gate_token, since=seen_by_gate)["entries"] == []


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_a_damaged_backup_is_refused_before_anything_changes(
    site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "backup"
    made = _optin("backup", "create", "--out", str(folder), env=site.env)
    assert made.returncode == 0, made.stderr
    assert _optin("backup", "verify", "--from", str(folder), env=site.env).returncode == 0
    database = folder / "database.sqlite3"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    database.write_bytes(bytes(data))
    journal = site.settings.erasure_journal_file

    for command in ("verify", "restore"):
        result = _optin("backup", command, "--from", str(folder), env=site.env)
        assert result.returncode == 2
        assert "database.sqlite3 is damaged: its SHA-256 is" in result.stderr
        assert "nothing was restored" in result.stderr
        assert "Traceback" not in result.stderr
    assert not journal.exists()

    (folder / "manifest.json").unlink()
    result = _optin("backup", "restore", "--from", str(folder), env=site.env)
    assert result.returncode == 2
    assert "has no manifest.json" in result.stderr

    taken = _optin("backup", "create", "--out", str(folder), env=site.env)
    assert taken.returncode == 2
    assert "is not an empty folder" in taken.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
async def test_postgres_restore_is_refused_while_others_are_connected(
    site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "backup"
    assert _optin("backup", "create", "--out", str(folder), env=site.env).returncode == 0
    engine = create_engine(site.settings.database_url)
    try:
        async with engine.connect():
            result = _optin("backup", "restore", "--from", str(folder), env=site.env)
    finally:
        await engine.dispose()
    assert result.returncode == 2
    assert "other session(s) are connected to the database" in result.stderr
