"""Shapes of the enrollment API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class ChallengeOut(msgspec.Struct):
    challenge: str
    action: str
    frames: int
    interval_ms: int
    expires_in: int


class EnrollmentOut(msgspec.Struct):
    subject_id: UUID
    receipt: dict[str, Any]
    recovery_code: str
    retention_until: datetime
    method: str
    sign_in_mailed: bool
    portal_url: str
