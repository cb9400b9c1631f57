"""docker-compose.yml and the Dockerfile, checked without Docker.

The file must validate against the Compose Specification's JSON Schema, vendored as
tests/data/compose-spec.json: ``schema/compose-spec.json`` of github.com/compose-spec/compose-spec
(commit a08f8d51631b7127ddac3d2c65537db429d0f1d0, October 2025), Copyright The Compose
Specification Authors, Apache License 2.0. Then the project's own rules: secrets only through
files and ``*_FILE`` variables, migrations once before the app, health checks on every server,
and only ``optin`` commands and options that exist. With a Docker CLI that has the compose
plugin, ``docker compose config -q`` must accept it too (skipped otherwise: no Docker here).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from support.compose import ROOT, ComposeFile

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "compose-spec.json"
PROVISION_SCRIPT = ROOT / "deploy" / "provision-gate.sh"
ONE_SHOTS = {"migrate", "provision"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|DATABASE_URL|API_KEY)$")
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> ComposeFile:
    return ComposeFile()


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # It declares draft-07 as "https://json-schema.org/draft-07/schema" (no "#"), which
    # jsonschema does not recognise by itself.
    assert schema["$schema"].rstrip("#") == "https://json-schema.org/draft-07/schema"
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_compose_file_follows_the_compose_specification(compose: ComposeFile) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _validator().iter_errors(compose.document)
    ]
    assert errors == []


def test_the_schema_does_catch_mistakes(compose: ComposeFile) -> None:
    broken = copy.deepcopy(compose.document)
    broken["services"]["app"]["depends_on"]["migrate"]["condition"] = "service_finished"
    broken["services"]["db"]["healthcheck"]["intervall"] = "5s"
    assert len(list(_validator().iter_errors(broken))) == 2


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    environment = service.get("environment") or {}
    assert isinstance(environment, dict), "write environment as a mapping"
    return environment


def test_no_secret_is_written_inline(compose: ComposeFile) -> None:
    for name, service in compose.services.items():
        for variable, value in _environment(service).items():
            text = "" if value is None else str(value)
            assert not URL_WITH_CREDENTIALS.search(text), f"{name}.{variable} holds credentials"
            if SECRET_NAME.search(variable):
                pytest.fail(f"{name}.{variable}: give it as {variable}_FILE and a compose secret")
    for secret, definition in compose.document["secrets"].items():
        assert set(definition) == {"file"}, f"secret {secret} must come from a file"
        assert definition["file"].startswith("./secrets/"), secret
    # Those files are never committed, nor sent to a build.
    assert "secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert (ROOT / ".dockerignore").read_text().splitlines()[3:4] == ["*"]


def test_services_read_their_secrets_through_file_variables(compose: ComposeFile) -> None:
    readers = 0
    for name, service in compose.services.items():
        mounted = set(service.get("secrets") or [])
        pointed = {
            str(value).removeprefix("/run/secrets/")
            for variable, value in _environment(service).items()
            if variable.endswith("_FILE") and str(value).startswith("/run/secrets/")
        }
        assert pointed == mounted, f"{name}: secrets {mounted} vs *_FILE variables {pointed}"
        readers += bool(mounted)
    assert readers >= 4  # db, migrate, app, provision
    app = _environment(compose.services["app"])
    assert app["OPTIN_DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert app["OPTIN_SMTP_PASSWORD_FILE"] == "/run/secrets/smtp_password"
    assert app["OPTIN_METRICS_TOKEN_FILE"] == "/run/secrets/metrics_token"
    db = _environment(compose.services["db"])
    assert db["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_migrations_run_once_before_the_app(compose: ComposeFile) -> None:
    services = compose.services
    assert compose.command("migrate") == ["optin", "migrate"]
    app = compose.command("app")
    assert app[:2] == ["optin", "serve"]
    assert "--migrate" not in app  # not in every worker
    assert int(app[app.index("--workers") + 1]) > 1
    assert services["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    for one_shot in ONE_SHOTS:
        assert services[one_shot]["restart"] == "no"
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            )
            assert rule["condition"] == expected, f"{name} -> {dependency}"
    assert services["gate"]["depends_on"]["provision"] == {
        "condition": "service_completed_successfully"
    }


def test_every_server_has_a_health_check(compose: ComposeFile) -> None:
    services = compose.services
    for name, service in services.items():
        if name in ONE_SHOTS or name == "gate":
            continue  # one-shots finish; the gate serves nothing (its last contact is in the DB)
        assert "test" in service.get("healthcheck", {}), f"{name} has no health check"
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["sandbox"]["healthcheck"]["test"])
    assert services["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "pgdata" in compose.document["volumes"]


def test_the_app_reaches_the_sandbox_and_the_mail_catcher(compose: ComposeFile) -> None:
    app = compose.environment("app")
    assert app["OPTIN_SMTP_HOST"] == "mailpit"
    assert app["OPTIN_SMTP_PORT"] == "1025"
    assert compose.services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert "127.0.0.1:8025:8025" in compose.services["mailpit"]["ports"]
    assert app["OPTIN_PAYMENT_SANDBOX_URL"] == "http://sandbox:8790"
    assert compose.command("sandbox")[-4:] == ["--host", "0.0.0.0", "--port", "8790"]
    gate = compose.environment("gate")
    assert gate["OPTIN_GATE_SERVER"] == "http://app:8000"
    mount = next(v for v in compose.services["gate"]["volumes"] if v.endswith(":/srv/samples:ro"))
    local = ROOT / mount.split(":")[0] / Path(gate["OPTIN_GATE_SOURCE"]).name
    assert local.is_file(), local


def _optin_commands(compose: ComposeFile) -> set[tuple[str, ...]]:
    """Every `optin ...` invocation: the compose commands and the provisioning script."""
    found: set[tuple[str, ...]] = set()
    for name in compose.services:
        if "command" in compose.services[name]:
            command = compose.command(name)
            if command[0] == "optin":
                found.add(tuple(command[1:]))
    script = "\n".join(
        line
        for line in PROVISION_SCRIPT.read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    for match in re.finditer(r"\boptin((?: +(?:[a-z][a-z-]*|--[a-z][a-z-]*))+)", script):
        found.add(tuple(match.group(1).split()))
    return found


@cache
def _help(*path: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "optin", *path, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"optin {' '.join(path)} --help: {result.stderr}"
    return result.stdout


def test_every_optin_command_and_option_used_exists(compose: ComposeFile) -> None:
    invocations = _optin_commands(compose)
    assert ("migrate",) in invocations
    assert ("notice", "publish") in invocations
    assert {words[:2] for words in invocations} >= {
        ("serve", "--workers"),
        ("venue", "list"),
        ("venue", "create"),
        ("gate", "register"),
        ("gate", "run"),
        ("payments", "sandbox"),
    }
    for words in invocations:
        # The command is the leading words (`gate run --stride 2` -> gate run), at most two.
        command: list[str] = []
        for word in words[:2]:
            if word.startswith("-"):
                break
            command.append(word)
        text = _help(*command)
        for option in (word for word in words if word.startswith("--")):
            assert option in text, f"optin {' '.join(command)}: no option {option}"


def test_the_image_builds_without_compiling_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert "USER optin" in instructions
    assert not any(re.match(r"COPY\s+\.\s", line) for line in instructions), "copy what is needed"
    runs = "\n".join(line for line in instructions if line.startswith("RUN uv sync"))
    assert runs.count("--locked --no-dev") == 2
    assert runs.count("--no-build-package dlib") == 2
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"dlib-bin>=' in pyproject
    assert "override-dependencies = [\"dlib; sys_platform == 'never'\"]" in pyproject
    # Everything copied from the context is let through by .dockerignore and exists.
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for line in instructions:
        if line.startswith("COPY") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is not in the build context"
    compose = ComposeFile()
    assert compose.command("provision") == ["sh", "/app/deploy/provision-gate.sh"]
    assert "COPY deploy/provision-gate.sh ./deploy/provision-gate.sh" in instructions
    assert os.access(PROVISION_SCRIPT, os.X_OK)


def compose_secrets() -> list[str]:
    return list(ComposeFile().document["secrets"])


def _docker_compose() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=60
    )
    return docker if probe.returncode == 0 else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = _docker_compose()
    if docker is None:
        pytest.skip("no Docker CLI with the compose plugin on this machine")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / "secrets").mkdir()
    for name in compose_secrets():
        (tmp_path / "secrets" / name).write_text("placeholder\n")
    (tmp_path / "samples" / "video").mkdir(parents=True)
    result = subprocess.run(
        [docker, "compose", "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
