"""Domain exception tree.

Every error the core raises for bad input or a broken rule derives from ``OptinError``. The web
layer maps them to RFC 9457 problem details in one handler; the CLI prints ``str(error)`` on one
line. ``code`` is a stable machine-readable slug, ``status`` the HTTP status it maps to.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar


class OptinError(Exception):
    """Base of every expected error."""

    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Request failed"
    status: ClassVar[int] = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


def seconds_until(until: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` until ``until``, at least 1: a lock-out's ``retry_after``
    (the web layer sends it as the Retry-After header)."""
    return max(1, math.ceil((until - now).total_seconds()))


class InvalidInput(OptinError):
    code = "invalid-input"
    title = "Invalid input"
    status = 400


class NotFound(OptinError):
    code = "not-found"
    title = "Not found"
    status = 404


class Conflict(OptinError):
    code = "conflict"
    title = "Conflict"
    status = 409


class ConsentRequired(OptinError):
    code = "consent-required"
    title = "Explicit consent required"
    status = 422


class ImageRejected(InvalidInput):
    """An image could not be read or used (unreadable, too large, not an image)."""

    code = "image-rejected"
    title = "Image rejected"
    status = 422


class FaceQualityRejected(ImageRejected):
    """The image was read but its face fails the quality gate (none, several, small, cut off)."""

    code = "face-quality"
    title = "Face not usable"

    def __init__(self, detail: str, reason: str, **extra: Any) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


class CryptoError(OptinError):
    """Decryption or verification failed: wrong key, tampered data or data moved to another row."""

    code = "crypto-failure"
    title = "Cryptographic check failed"
    status = 500


class KeyDestroyed(CryptoError):
    """The subject's data key was destroyed (crypto-shredded); its ciphertexts are unreadable."""

    code = "key-destroyed"
    title = "Data key destroyed"
    status = 410


class MailDeliveryFailed(OptinError):
    """A mail (sign-in link, receipt) could not be handed to the mail server.

    ``detail`` says what went wrong in general terms (connection, TLS, login, refused); it never
    carries the SMTP password, the recipient or the body, which holds one-time links.
    """

    code = "mail-failed"
    title = "Mail could not be sent"
    status = 502


class ConfigurationError(OptinError):
    """The service cannot start safely with this configuration (e.g. a world-readable key file)."""

    code = "configuration"
    title = "Configuration error"
    status = 500


class NoticeOutdated(OptinError):
    """The person read a notice that is no longer the current one."""

    code = "notice-outdated"
    title = "The notice has changed"
    status = 409


class UnknownVenue(InvalidInput):
    code = "unknown-venue"
    title = "Unknown venue"
    status = 422


class AlreadyEnrolled(Conflict):
    """The face is enrolled already. Says nothing about the other record, to anyone."""

    code = "already-enrolled"
    title = "Already enrolled"
    status = 409


class LivenessFailed(InvalidInput):
    code = "liveness-failed"
    title = "Liveness check failed"
    status = 422

    def __init__(self, detail: str, reason: str, **extra: object) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


class PayloadTooLarge(InvalidInput):
    code = "upload-too-large"
    title = "Upload too large"
    status = 413


class Unauthorized(OptinError):
    code = "unauthorized"
    title = "Not signed in"
    status = 401


class Forbidden(OptinError):
    code = "forbidden"
    title = "Not allowed"
    status = 403
