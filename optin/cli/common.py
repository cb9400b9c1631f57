"""What every ``optin`` command shares: settings loading and error reporting."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from optin.config import Settings
from optin.errors import OptinError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 2


class CommandFailed(click.ClickException):
    """An expected failure: one line on stderr (``Error: ...``) and exit code 2."""

    exit_code = EXIT_FAILED


def load_settings(**overrides: Any) -> Settings:
    settings = Settings.from_env()
    changes = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(settings, **changes) if changes else settings


def fail_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn expected errors into one readable line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OptinError as exc:
            raise CommandFailed(exc.detail) from None
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise CommandFailed(f"{exc.strerror or exc}{where}") from None

    return wrapper


def echo_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


@contextlib.asynccontextmanager
async def database_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the configured database for one command; the engine is closed after."""
    from optin.db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def run(coroutine: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(coroutine)
