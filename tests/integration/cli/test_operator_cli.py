"""``optin operator``: the first administrator from the command line, then a real sign-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from optin.crypto import totp

from support.served_app import served


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    env["OPTIN_DATA_DIR"] = str(tmp_path / "data")
    return env


def _optin(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_first_administrator_signs_in_over_http_with_password_and_totp(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _optin("migrate", env=env).returncode == 0
    created = _optin(
        "operator",
        "create",
        "--username",
        "Admin",
        "--role",
        "administrator",
        "--password-stdin",
        "--json",
        env=env,
        stdin="a long enough passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    assert account["username"] == "admin"
    assert account["totp_uri"].startswith("otpauth://totp/optin%3Aadmin?secret=")
    assert "127.0.0.0/8" in account["networks"]
    # The secret is printed once and stored only encrypted.
    database = (tmp_path / "data" / "optin.db").read_bytes()
    assert account["totp_secret"].encode() not in database
    assert b"a long enough passphrase" not in database

    duplicate = _optin(
        "operator",
        "create",
        "--username",
        "admin",
        "--role",
        "auditor",
        "--password-stdin",
        env=env,
        stdin="another long passphrase\n",
    )
    assert duplicate.returncode == 2
    assert duplicate.stderr.strip().startswith("Error:")
    assert "exists already" in duplicate.stderr
    short = _optin(
        "operator",
        "create",
        "--username",
        "officer",
        "--role",
        "privacy_officer",
        "--password-stdin",
        env=env,
        stdin="short\n",
    )
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    no_venue = _optin(
        "operator",
        "create",
        "--username",
        "staff",
        "--role",
        "venue_staff",
        "--password-stdin",
        env=env,
        stdin="a long enough passphrase\n",
    )
    assert no_venue.returncode == 2
    bad_hours = _optin(
        "operator",
        "create",
        "--username",
        "night",
        "--role",
        "auditor",
        "--hours",
        "mon-fri 22:00-06:00",
        "--password-stdin",
        env=env,
        stdin="a long enough passphrase\n",
    )
    assert bad_hours.returncode == 2
    assert "two windows" in bad_hours.stderr

    with served(env) as base:
        code = totp.code_at(account["totp_secret"], totp.step_of(time.time()))
        response = httpx.post(
            f"{base}/api/v1/console/sign-in",
            json={"username": "admin", "password": "a long enough passphrase", "code": code},
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "administrator"
        operators = httpx.get(f"{base}/api/v1/console/operators", cookies=response.cookies)
        assert [o["username"] for o in operators.json()] == ["admin"]

    listed = _optin("operator", "list", "--json", env=env)
    assert json.loads(listed.stdout)[0]["last_sign_in_at"] is not None
