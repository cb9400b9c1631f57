"""Response shapes of the public, unauthenticated API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class NoticeOut(msgspec.Struct):
    id: UUID
    version: int
    language: str
    purposes: list[str]
    venues: list[str]
    title: str
    body: str
    text_sha256: str
    effective_at: datetime


class VenueOut(msgspec.Struct):
    slug: str
    name: str
    timezone: str


class ReceiptVerification(msgspec.Struct):
    valid: bool
    reason: str
    kid: str | None


class Jwks(msgspec.Struct):
    keys: list[dict[str, Any]]
