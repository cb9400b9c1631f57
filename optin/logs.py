"""Logging for ``optin serve`` and the gate agent: one JSON object a line, or plain text.

A JSON line carries ``time``, ``level``, ``logger``, ``message`` and, inside a request,
``request_id``; request logs add ``method``, ``route`` (the route template, never the raw path:
paths carry ids and one-time tokens), ``status`` and ``duration_ms``. Query strings, bodies,
cookies and headers are never logged.

The code never puts personal data, templates or secrets in a log message; ``RedactionFilter`` is
the safety net in case one slips through: it replaces what looks like a bearer token
(``optin_...``), an email address, a recovery code, a long base64 or base32 run (photos, TOTP
secrets, session cookies) or a run of floats (a face template) before the line is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any, Final, Literal

LogFormat = Literal["json", "text"]
LOG_FORMATS: Final = ("json", "text")

#: The id of the request being handled, set by the app's request middleware.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "optin_request_id", default=None
)

#: Extra attributes a request log carries; anything else passed in ``extra`` is not written.
REQUEST_FIELDS: Final = ("method", "route", "status", "duration_ms")

_NUMBER: Final = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_REDACTIONS: Final = (
    # Bearer tokens: <prefix>_<43 chars base64url>, e.g. optin_gate_...
    (re.compile(r"\boptin_[A-Za-z0-9_-]{8,}"), "[token]"),
    # Payment provider card tokens (the sandbox's tok_...; real providers use similar prefixes).
    (re.compile(r"\b(?:tok|pm|card)_[A-Za-z0-9_-]{8,}"), "[token]"),
    # Card numbers, grouped or not: never written, even by mistake.
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[card]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Recovery codes: XXXXX-XXXXX-XXXXX-XXXXX (also typed without dashes: a base32-ish run).
    (re.compile(r"\b[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){3}\b"), "[code]"),
    # Five or more numbers in a row: a template (or a fragment of one).
    (re.compile(rf"{_NUMBER}(?:\s*[,;]\s*{_NUMBER}){{4,}}"), "[numbers]"),
    # Long base64/base64url/base32/hex runs: photos, cookies, secrets, digests.
    (re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}"), "[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """Formats the message and replaces anything that looks like a secret or personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop the log
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # A traceback's frames can hold values: keep the exception's type and message only.
            exc = record.exc_info[1]
            record.msg = f"{record.msg} [{type(exc).__name__}: {redact(str(exc))}]"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id and request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = type(record.exc_info[1]).__name__
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time level logger: message`` plus the request id and fields when there are some."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        extras = [
            f"{name}={getattr(record, name)}"
            for name in REQUEST_FIELDS
            if getattr(record, name, None) is not None
        ]
        if request_id:
            extras.insert(0, f"request_id={request_id}")
        return f"{line} {' '.join(extras)}" if extras else line


def logging_config(log_format: LogFormat, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary (uvicorn applies it in every worker)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactionFilter}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers would print plain text: send everything to the root.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Off: the request middleware logs requests by route template, never raw paths.
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            # httpx logs every request URL at INFO (the gate's long-poll would flood the log).
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: LogFormat, level: str = "info") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
    logging.captureWarnings(True)
