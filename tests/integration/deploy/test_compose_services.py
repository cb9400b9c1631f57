"""The services of docker-compose.yml, run as local processes against a throwaway PostgreSQL.

No Docker here, so this runs what the compose file says each container runs: the same commands
and environment read from the file (interpolated like Compose, with an .env of OPTIN_WORKERS=2
and a lead time of 0), container paths and service names mapped to local folders and ports, the
database URL read from a secret file through OPTIN_DATABASE_URL_FILE. In order: migrate (once),
the sandbox and the app (2 workers) until their own health checks pass, the provisioning script
(twice: the second run does nothing), an enrollment over HTTP with its sign-in mail caught by an
SMTP server standing in for mailpit, then the gate agent replaying the sample video: it syncs the
venue's gallery and admits Lin-Manuel Miranda.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.compose import ROOT, ComposeFile, Localizer
from support.postgres import PostgresServer
from support.served_app import free_port
from support.smtp import SmtpServer, smtp_server  # noqa: F401 - a pytest fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PHOTO = ROOT / "samples" / "faces" / "lin_manuel_miranda" / "lin_manuel_miranda_1.png"
START_TIMEOUT_S = 120.0


def _image_env() -> dict[str, str]:
    """The OPTIN_* defaults the image sets (ENV in the Dockerfile's final stage)."""
    final_stage = (ROOT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    return dict(re.findall(r"\b(OPTIN_[A-Z_]+)=(\S+)", final_stage))


class Services:
    """Run compose services as processes: commands and environment from the compose file."""

    def __init__(
        self, tmp_path: Path, variables: dict[str, str], localize: Localizer, base: dict[str, str]
    ) -> None:
        self.compose = ComposeFile()
        self.tmp_path = tmp_path
        self.variables = variables
        self.localize = localize
        self.base = base

    def argv(self, service: str) -> list[str]:
        command = self.localize.command(self.compose.command(service, self.variables))
        if command[0] in ("optin", "python"):
            return [
                sys.executable,
                *(["-m", "optin"] if command[0] == "optin" else []),
                *command[1:],
            ]
        return command

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        env = dict(self.base)
        env.update(self.localize.env(_image_env()))
        env.update(self.localize.env(self.compose.environment(service, self.variables)))
        env.update(overrides)
        return env

    def run(self, service: str, *extra: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv(service), *extra],
            env=self.env(service, **overrides),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    @contextlib.contextmanager
    def start(self, service: str, argv: list[str], **overrides: str) -> Iterator[Path]:
        log = self.tmp_path / f"{service}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                argv,
                env=self.env(service, **overrides),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield log
        except BaseException:
            # What the service said, for the failure report (pytest shows captured output).
            print(f"--- {service} log ---\n{log.read_text()[-8000:]}")
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def wait_healthy(self, service: str, log: Path, ports: dict[str, str]) -> None:
        """Run the service's own health check (its URL mapped to the local port) until it passes."""
        test = self.compose.services[service]["healthcheck"]["test"]
        assert test[0] == "CMD"
        argv = [sys.executable if part == "python" else part for part in test[1:]]
        argv = [Localizer(ports)(part) for part in argv]
        deadline = time.monotonic() + START_TIMEOUT_S
        while subprocess.run(argv, capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"{service} never became healthy:\n{log.read_text()}")
            time.sleep(0.5)


def _enroll(base: str, venue: str) -> dict[str, Any]:
    notice = httpx.get(f"{base}/api/v1/notices", params={"language": "en"}, timeout=30)
    assert notice.status_code == 200, notice.text
    response = httpx.post(
        f"{base}/api/v1/enrollments",
        data={
            "notice_id": notice.json()[0]["id"],
            "locale": "en",
            "email": "lin@example.org",
            "purposes": ["entry"],
            "venues": [venue],
            "trip_end": (date.today() + timedelta(days=3)).isoformat(),
        },
        files={"photo": ("selfie.png", PHOTO.read_bytes(), "image/png")},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_compose_services_work_together_without_docker(
    postgres_server: PostgresServer,
    smtp_server: SmtpServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "database_url").write_text(postgres_server.create_database() + "\n")
    (secrets / "smtp_password").write_text("")
    (secrets / "metrics_token").write_text("metrics-token-for-this-test\n")
    app_port, sandbox_port = free_port(), free_port()
    localize = Localizer(
        {
            "/run/secrets/": f"{secrets}/",
            "/var/lib/optin-gate-token": str(tmp_path / "gate-token"),
            "/var/lib/optin-gate": str(tmp_path / "gate"),
            "/var/lib/optin": str(tmp_path / "data"),
            "/srv/samples": str(ROOT / "samples" / "video"),
            "/app/deploy/": f"{ROOT / 'deploy'}/",
            "http://app:8000": f"http://127.0.0.1:{app_port}",
            "http://sandbox:8790": f"http://127.0.0.1:{sandbox_port}",
        }
    )
    # What an operator's .env would say; the mail relay is the test's SMTP server.
    variables = {
        "OPTIN_WORKERS": "2",
        "OPTIN_NOTICE_LEAD_HOURS": "0",
        "OPTIN_SMTP_HOST": smtp_server.host,
        "OPTIN_SMTP_PORT": str(smtp_server.port),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    # The provisioning script calls `optin` and `python`, as in the image.
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    (tmp_path / "gate-token").mkdir(mode=0o700)
    services = Services(tmp_path, variables, localize, base)
    app_url = f"http://127.0.0.1:{app_port}"

    migrated = services.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "is at revision" in migrated.stdout

    sandbox_argv = services.argv("sandbox")
    sandbox_argv[sandbox_argv.index("--host") + 1] = "127.0.0.1"
    sandbox_argv[sandbox_argv.index("--port") + 1] = str(sandbox_port)
    app_argv = services.argv("app")
    assert app_argv[-2:] == ["--workers", "2"]
    with (
        services.start("sandbox", sandbox_argv) as sandbox_log,
        services.start(
            "app", app_argv, OPTIN_HOST="127.0.0.1", OPTIN_PORT=str(app_port)
        ) as app_log,
    ):
        services.wait_healthy("sandbox", sandbox_log, {":8790/": f":{sandbox_port}/"})
        services.wait_healthy("app", app_log, {":8000/": f":{app_port}/"})
        ready = httpx.get(f"{app_url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        # The metrics token came from its secret file.
        assert httpx.get(f"{app_url}/metrics", timeout=10).status_code == 401
        metrics = httpx.get(
            f"{app_url}/metrics",
            headers={"Authorization": "Bearer metrics-token-for-this-test"},
            timeout=10,
        )
        assert metrics.status_code == 200
        workers = re.findall(r"Started server process \[(\d+)\]", app_log.read_text())
        assert len(set(workers)) == 2, app_log.read_text()

        provisioned = services.run("provision")
        assert provisioned.returncode == 0, provisioned.stderr + provisioned.stdout
        token_file = Path(services.env("gate")["OPTIN_GATE_TOKEN_FILE"])
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text()
        again = services.run("provision")
        assert again.returncode == 0, again.stderr
        assert "nothing to do" in again.stdout
        assert token_file.read_text() == token

        venue = services.env("provision")["OPTIN_GATE_VENUE"]
        enrolled = _enroll(app_url, venue)
        [mail] = smtp_server.wait_for(1, timeout=30)
        assert mail.rcpt_tos == ("lin@example.org",)
        # The link points at OPTIN_PUBLIC_URL (the compose default), not at a container name.
        assert "http://localhost:8000/" in mail.text
        assert "token=optin_signin_" in mail.text

        gate = services.run("gate", "--json", "--long-poll", "1", "--fast")
        assert gate.returncode == 0, gate.stderr
        summary = json.loads(gate.stdout)
        assert summary["venue"] == venue
        assert summary["decisions"].get("granted", 0) >= 1, summary
        assert summary["events_sent"] >= 1
        assert summary["events_pending"] == 0

        listed = subprocess.run(
            [sys.executable, "-m", "optin", "gate", "list", "--json"],
            env=services.env("provision"),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        [registered] = json.loads(listed.stdout)  # provisioning ran twice, one gate
        assert registered["venue"] == venue
        assert registered["last_seen_at"] is not None
        assert enrolled["recovery_code"]
