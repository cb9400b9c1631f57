"""The `optin` command as a user runs it: real subprocesses, real HTTP, no tracebacks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from optin.services.retention import PURGES

COMMANDS = {
    "serve",
    "demo",
    "migrate",
    "venue",
    "product",
    "entitlement",
    "notice",
    "operator",
    "audit",
    "backup",
    "gate",
    "keys",
    "receipt",
    "retention",
    "payments",
    "faces",
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    env.update({"OPTIN_DATA_DIR": str(tmp_path / "data"), **extra})
    return env


def _optin(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = _optin("--help", env=_env(tmp_path))
    assert result.returncode == 0
    listed = {
        line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()
    }
    assert listed >= COMMANDS
    for command in COMMANDS:
        sub = _optin(command, "--help", env=_env(tmp_path))
        assert sub.returncode == 0, sub.stderr
        assert "Usage:" in sub.stdout


def test_world_readable_master_key_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _optin("migrate", env=env).returncode == 0
    key = tmp_path / "data" / "master.key"
    # migrate alone does not create keys; serve's preparation does, so make one the same way.
    from optin.crypto.keys import LocalKeyFileProvider

    LocalKeyFileProvider(key)
    key.chmod(0o644)
    result = _optin("serve", "--port", "0", env=env)
    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "optin", "serve", "--migrate", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"optin serve exited early:\n{process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_answers_over_http(served: str, tmp_path: Path) -> None:
    ready = httpx.get(f"{served}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert httpx.get(f"{served}/api/docs/openapi.json", timeout=5).status_code == 200
    data = tmp_path / "data"
    for name in ("master.key", "subject-keys.db", "optin.db"):
        assert (data / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"


def test_demo_tells_the_story_and_stops(tmp_path: Path) -> None:
    port = str(_free_port())
    demo_dir = str(tmp_path / "demo")
    result = _optin("demo", "--once", "--port", port, "--data-dir", demo_dir, env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "no purpose ticked: refused (consent-required)" in out
    assert "a face cut off at the border: refused (face-quality)" in out
    assert "the same face again: refused (already-enrolled)" in out
    assert out.count("signed receipt genuine") == 3
    assert "Barack Obama   → matched Barack Obama" in out
    assert "a stranger     → no match" in out
    # After the deletion the deleted person no longer matches, the others still do.
    after = out.split("deletes their data")[1]
    assert "Kit Harington  → no match" in after
    assert "Barack Obama   → matched Barack Obama" in after
    # The real gate on the sample video: admitted while consenting, nobody after withdrawal.
    gate_run, after_withdrawal = out.split("7. The gate replays")[1].split("8. Lin-Manuel")
    assert 'decisions: {"granted": ' in gate_run
    assert "decisions: none" in after_withdrawal
    assert "FAIL" not in out.split("Summary")[1]
    # A second run starts again from nothing instead of piling up people; --json is the summary.
    again = _optin(
        "demo", "--once", "--json", "--port", port, "--data-dir", demo_dir, env=_env(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["ok"] is True
    assert len(summary["steps"]) >= 12


def test_demo_will_not_wipe_a_foreign_directory(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    result = _optin(
        "demo",
        "--no-serve",
        "--port",
        str(_free_port()),
        "--data-dir",
        str(precious),
        env=_env(tmp_path),
    )
    assert result.returncode == 2
    assert (precious / "thesis.txt").exists()
    assert "Traceback" not in result.stderr


def test_migrate_json(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    result = _optin("migrate", "--json", "--database-url", url, env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["revision"]
    assert payload["database"].endswith("m.db")


def test_venue_notice_and_receipt_commands(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _optin("migrate", env=env).returncode == 0
    created = _optin("venue", "create", "onsen-hotel", "--name", "Onsen Hotel", "--json", env=env)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["slug"] == "onsen-hotel"
    duplicate = _optin("venue", "create", "onsen-hotel", "--name", "Again", env=env)
    assert duplicate.returncode == 2
    assert "exists already" in duplicate.stderr

    published = _optin("notice", "publish", "--json", env=env)
    assert published.returncode == 0, published.stderr
    rows = json.loads(published.stdout)
    assert sorted(r["language"] for r in rows) == ["en", "ja", "ko", "zh"]
    shown = _optin("notice", "show", "--language", "ko", env=env)
    assert "옵트인" in shown.stdout

    listed = _optin("venue", "list", "--json", env=env)
    assert [v["slug"] for v in json.loads(listed.stdout)] == ["onsen-hotel"]

    # A receipt signed by this service's key verifies; a changed one does not.
    from optin.config import Settings
    from optin.crypto.signing import Signer

    signer = Signer.load(Settings.from_env(env).signing_key_file)
    document = signer.sign_document({"type": "optin.consent-receipt", "purposes": ["entry"]})
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(document))
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps({**document, "purposes": ["entry", "payment"]}))
    ok = _optin("receipt", "verify", str(good), "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["valid"] is True
    forged = _optin("receipt", "verify", str(bad), env=env)
    assert forged.returncode == 1
    assert "NOT genuine" in forged.stdout
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    broken = _optin("receipt", "verify", str(garbage), env=env)
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr


def test_gate_and_retention_commands(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _optin("migrate", env=env).returncode == 0
    assert _optin("venue", "create", "onsen", "--name", "Onsen", env=env).returncode == 0
    registered = _optin(
        "gate", "register", "--venue", "onsen", "--name", "Front", "--json", env=env
    )
    assert registered.returncode == 0, registered.stderr
    gate = json.loads(registered.stdout)
    assert gate["token"].startswith("optin_gate_")
    listed = json.loads(_optin("gate", "list", "--json", env=env).stdout)
    assert listed[0]["revoked"] is False
    assert gate["token"] not in json.dumps(listed)  # shown once, never again
    assert _optin("gate", "revoke", gate["gate_id"], env=env).returncode == 0
    assert json.loads(_optin("gate", "list", "--json", env=env).stdout)[0]["revoked"] is True
    unknown = _optin("gate", "register", "--venue", "nowhere", "--name", "x", env=env)
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr

    swept = _optin("retention", "run", "--json", "--now", "2099-01-01", env=env)
    assert swept.returncode == 0, swept.stderr
    report = json.loads(swept.stdout)
    assert report["deleted"] == 0
    # A count for every table the register says is purged after a period.
    assert report["purged"] == dict.fromkeys(PURGES, 0)


def test_products_and_entitlements(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _optin("migrate", env=env).returncode == 0
    assert _optin("venue", "create", "onsen", "--name", "Onsen", env=env).returncode == 0
    added = _optin(
        "product",
        "add",
        "onsen",
        "day-pass",
        "--name",
        "Day pass",
        "--days",
        "1",
        "--json",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["days"] == 1
    nobody = _optin(
        "entitlement",
        "grant",
        "01890000-0000-7000-8000-000000000000",
        "--venue",
        "onsen",
        "--product",
        "day-pass",
        env=env,
    )
    assert nobody.returncode == 2
    assert "no enrolled person" in nobody.stderr
    assert "Traceback" not in nobody.stderr
