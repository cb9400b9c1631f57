"""docker-compose.yml read as data, and its services turned into local processes (no Docker).

``ComposeFile`` loads the file with PyYAML (merge keys resolved, as Compose does), interpolates
``${VAR:-default}`` the way Compose does, and gives each service's command and environment.
``Localizer`` rewrites what only exists inside the containers (service host names, volume
mount points, /run/secrets/*) to local addresses and folders, so a test can run the very
commands the compose file runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's ``${NAME}`` and ``${NAME:-default}`` (``$$`` is a literal dollar)."""

    def replace(match: re.Match[str]) -> str:
        given = variables.get(match["name"])
        if given:
            return given
        return match["default"] or ""

    return _VARIABLE.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


@dataclass
class ComposeFile:
    path: Path = COMPOSE_FILE
    document: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.document = yaml.safe_load(self.path.read_text(encoding="utf-8"))

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services: dict[str, dict[str, Any]] = self.document["services"]
        return services

    def command(self, service: str, variables: Mapping[str, str] = {}) -> list[str]:
        command = self.services[service]["command"]
        assert isinstance(command, list), f"{service}: write commands as lists"
        return [interpolate(str(part), variables) for part in command]

    def environment(self, service: str, variables: Mapping[str, str] = {}) -> dict[str, str]:
        raw = self.services[service].get("environment") or {}
        assert isinstance(raw, dict), f"{service}: write environment as a mapping"
        return {
            name: interpolate("" if value is None else str(value), variables)
            for name, value in raw.items()
        }


@dataclass
class Localizer:
    """Container paths and host names → local ones (longest prefix first)."""

    replacements: dict[str, str]

    def __call__(self, value: str) -> str:
        for old in sorted(self.replacements, key=len, reverse=True):
            value = value.replace(old, self.replacements[old])
        return value

    def env(self, environment: Mapping[str, str]) -> dict[str, str]:
        return {name: self(value) for name, value in environment.items()}

    def command(self, command: list[str]) -> list[str]:
        return [self(part) for part in command]
