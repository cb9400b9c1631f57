"""Jinja for the server-rendered pages: one environment for every language, static asset URLs."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from optin.i18n import install_jinja

PACKAGE: Final = Path(__file__).resolve().parents[1]
TEMPLATES_DIR: Final = PACKAGE / "templates"
STATIC_DIR: Final = PACKAGE / "static"
STATIC_PATH: Final = "/static"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        # A misspelt variable fails the page (and the tests) instead of rendering as nothing.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The language comes from each render's ``lang``, so one environment serves all four.
    install_jinja(env)
    env.globals["static"] = static_url
    return env


def template_config() -> TemplateConfig[Any]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def static_router() -> Router:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        # URLs carry the file's hash (static_url), so a deploy never serves stale JS or CSS.
        cache_control=CacheControlHeader(max_age=86400),
        include_in_schema=False,
    )


def static_url(name: str) -> str:
    return f"{STATIC_PATH}/{name}?v={_digest(name)}"


@cache
def _digest(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
