"""``optin operator``: the first administrator from the command line, its first device registered
through the printed link, then a real sign-in; ``optin operator device`` adds, lists and revokes."""

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

    link = account["device_registration"]
    assert link["url"].endswith(f"/console/device#{link['code']}")
    assert link["code"].encode() not in (tmp_path / "data" / "optin.db").read_bytes()

    spend = {"code": link["code"]}
    with served(env) as base:
        # Without a registered device the right password and code are not enough.
        refused = _sign_in(base, account["totp_secret"], step=0, cookies={})
        assert refused.status_code == 403, refused.text
        assert "registered" in refused.json()["note"]
        registered = httpx.post(f"{base}/api/v1/console/devices/register", json=spend)
        assert registered.status_code == 200, registered.text
        assert registered.json()["label"] == "first device"
        device = dict(registered.cookies)
        [cookie] = registered.headers.get_list("set-cookie")
        assert "httponly" in cookie.lower()
        assert "samesite=strict" in cookie.lower()
        again = httpx.post(f"{base}/api/v1/console/devices/register", json=spend)
        assert again.status_code == 410
        # The refusal above did not spend the code: it still works, from the device.
        response = _sign_in(base, account["totp_secret"], step=0, cookies=device)
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "administrator"
        operators = httpx.get(
            f"{base}/api/v1/console/operators", cookies={**device, **dict(response.cookies)}
        )
        assert [o["username"] for o in operators.json()] == ["admin"]

        listed = _optin("operator", "list", "--json", env=env)
        assert json.loads(listed.stdout)[0]["last_sign_in_at"] is not None
        [first] = json.loads(
            _optin("operator", "device", "list", "admin", "--json", env=env).stdout
        )
        assert (first["label"], first["state"]) == ("first device", "registered")
        revoked = _optin("operator", "device", "revoke", first["id"], "--json", env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout)["state"] == "revoked"
        # The session opened on it ended with it, and the device signs nobody in any more.
        me = httpx.get(f"{base}/api/v1/console/me", cookies=dict(response.cookies))
        assert me.status_code == 401
        after = _sign_in(base, account["totp_secret"], step=1, cookies=device)
        assert after.status_code == 403


def _sign_in(base: str, secret: str, *, step: int, cookies: dict[str, str]) -> httpx.Response:
    # Each code works once: a later sign-in uses the next step (inside the drift window).
    code = totp.code_at(secret, totp.step_of(time.time()) + step)
    return httpx.post(
        f"{base}/api/v1/console/sign-in",
        json={"username": "admin", "password": "a long enough passphrase", "code": code},
        cookies=cookies,
    )


def test_device_commands_explain_themselves_and_add_links(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for command in (("add",), ("list",), ("revoke",), ()):
        shown = _optin("operator", "device", *command, "--help", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "--json" in shown.stdout or not command
    assert _optin("migrate", env=env).returncode == 0
    unknown = _optin("operator", "device", "add", "nobody", "--label", "PC", env=env)
    assert unknown.returncode == 2
    assert "no operator named" in unknown.stderr
    created = _optin(
        "operator",
        "create",
        "--username",
        "officer",
        "--role",
        "privacy_officer",
        "--password-stdin",
        env=env,
        stdin="a long enough passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    assert "/console/device#optin_device_reg_" in created.stdout
    added = _optin("operator", "device", "add", "officer", "--label", "Desk 2", env=env)
    assert added.returncode == 0, added.stderr
    assert "Desk 2" in added.stdout
    assert "/console/device#" in added.stdout
    rows = json.loads(_optin("operator", "device", "list", "--json", env=env).stdout)
    assert sorted((r["label"], r["state"]) for r in rows) == [
        ("Desk 2", "pending"),
        ("first device", "pending"),
    ]
