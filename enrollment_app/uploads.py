"""multipart/form-data parsed entirely in memory, with hard limits.

Litestar's own form parsing spools any file over 1 MB to a temporary file on disk. A selfie must
never touch disk, so the enrollment endpoint reads the raw body itself, refusing it once it is
larger than allowed, and keeps every part as bytes in memory; they are dropped with the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from optin.errors import InvalidInput, PayloadTooLarge

MAX_PARTS = 64


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class MemoryForm:
    fields: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    files: dict[str, list[UploadedFile]] = field(default_factory=lambda: defaultdict(list))

    def first(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


async def read_memory_form(request: Request[Any, Any, Any], max_bytes: int) -> MemoryForm:
    content_type, params = request.content_type
    if content_type != "multipart/form-data" or "boundary" not in params:
        raise InvalidInput("send the enrollment as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the upload is larger than {max_bytes // (1024 * 1024)} MB")
    form = MemoryForm()
    received = 0
    segment: MultipartSegment | None = None
    buffer = bytearray()
    try:
        with PushMultipartParser(
            params["boundary"], max_segment_count=MAX_PARTS, max_segment_size=max_bytes
        ) as parser:
            async for chunk in _with_end(request):
                received += len(chunk)
                if received > max_bytes:
                    raise PayloadTooLarge(
                        f"the upload is larger than {max_bytes // (1024 * 1024)} MB"
                    )
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment, buffer = part, bytearray()
                    elif part:
                        buffer.extend(part)
                    elif segment is not None:
                        _store(form, segment, bytes(buffer))
                        segment, buffer = None, bytearray()
            if not parser.closed:
                raise InvalidInput("the multipart form ended early")
    except (ParserError, ParserLimitReached):
        raise InvalidInput("the multipart form is malformed or has too many parts") from None
    return form


async def _with_end(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The body's chunks, then an empty one: the parser's signal that the input ended."""
    async for chunk in request.stream():
        if chunk:
            yield chunk
    yield b""


def _store(form: MemoryForm, segment: MultipartSegment, data: bytes) -> None:
    if segment.filename is not None:
        form.files[segment.name].append(
            UploadedFile(segment.filename, segment.content_type or "application/octet-stream", data)
        )
    else:
        form.fields[segment.name].append(data.decode(segment.charset or "utf-8", "replace"))
