"""`optin audit verify|checkpoint|list` as an operator runs them: real subprocesses, on SQLite and
PostgreSQL, with a row tampered with behind the service's back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from optin.config import Settings
from optin.crypto.signing import Signer
from optin.db.engine import create_engine, session_factory
from optin.services.audit import Actor, record


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    env.update({"OPTIN_DATA_DIR": str(tmp_path / "data"), "OPTIN_DATABASE_URL": database_url})
    return env


def _optin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def _write(database_url: str, count: int) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            for n in range(count):
                await record(
                    session,
                    Actor.system(),
                    "subject.viewed",
                    reason=f"request {n}",
                    details={"n": n},
                )
            await session.commit()
    finally:
        await engine.dispose()


async def _sql(database_url: str, statement: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def test_every_audit_command_has_help(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    listed = _optin("--help", env=env)
    assert "audit" in listed.stdout
    for command in ([], ["verify"], ["checkpoint"], ["list"]):
        result = _optin("audit", *command, "--help", env=env)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


async def test_verify_sign_list_and_a_tampered_row(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    # The checkpoint command creates the signing key (as serve would); verify only loads it.
    empty = _optin("audit", "checkpoint", env=env)
    assert empty.returncode == 0, empty.stderr
    assert "nothing to sign" in empty.stdout

    await _write(database_url, 6)
    signed = _optin("audit", "checkpoint", "--json", env=env)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["seq"] == 6
    await _write(database_url, 2)

    intact = _optin("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.strip() == "audit log intact: 8 entries, 1 checkpoints"
    as_json = _optin("audit", "verify", "--json", env=env)
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["ok"] is True
    # An auditor holding only the public key gets the same answer; another key's does not.
    ours = tmp_path / "ours.jwk"
    ours.write_text(json.dumps(Signer.load(Settings.from_env(env).signing_key_file).public_jwk()))
    theirs = tmp_path / "theirs.jwk"
    theirs.write_text(json.dumps({"keys": [Signer.generate().public_jwk()]}))
    assert _optin("audit", "verify", "--jwk", str(ours), env=env).returncode == 0
    foreign = _optin("audit", "verify", "--jwk", str(theirs), env=env)
    assert foreign.returncode == 2
    assert "checkpoint at 6 was signed by another key" in foreign.stderr

    listed = _optin("audit", "list", "--limit", "3", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["seq"] for row in rows] == [8, 7, 6]
    assert rows[0]["actor"] == "system"
    assert rows[0]["action"] == "subject.viewed"
    assert rows[0]["reason"] == "request 1"
    table = _optin("audit", "list", "--limit", "2", env=env)
    assert table.returncode == 0
    assert len(table.stdout.splitlines()) == 2
    assert "request 0" in table.stdout

    await _sql(database_url, "UPDATE audit_log SET reason = 'routine check' WHERE seq = 5")
    damaged = _optin("audit", "verify", env=env)
    assert damaged.returncode == 2
    assert "entry 5 was changed" in damaged.stderr
    assert "first bad entry: 5" in damaged.stderr
    assert "Traceback" not in damaged.stderr
    report = _optin("audit", "verify", "--json", env=env)
    assert report.returncode == 2
    assert json.loads(report.stdout)["seq"] == 5
    assert json.loads(report.stdout)["ok"] is False


def test_verify_without_the_signing_key_fails_cleanly(tmp_path: Path, database_url: str) -> None:
    result = _optin("audit", "verify", env=_env(tmp_path, database_url))
    assert result.returncode == 2
    assert "signing.key" in result.stderr
    assert "Traceback" not in result.stderr
