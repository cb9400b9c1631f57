"""What every frame source gives: RGB frames with timestamps, behind one Protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from optin.faces.images import RGBImage


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture from a source.

    ``timestamp`` is the position on the source's own clock in seconds (video time for a file,
    seconds since opening for a camera), so tracking behaves the same whether a file plays in
    real time or as fast as possible. ``captured_at`` is ``time.monotonic()`` when it was read,
    the start of the decision latency.
    """

    index: int
    timestamp: float
    captured_at: float
    image: RGBImage = field(repr=False)  # never in logs or reprs: it shows people


class FrameSource(Protocol):
    """An iterable of frames, opened when created and released by ``close``.

    ``live`` tells whether frames arrive in real time whatever the reader does (a camera, or a
    file paced at its frame rate): then a late frame is useless and the pipeline drops the
    oldest. A non-live source (a file read as fast as possible, a folder) waits for the reader,
    so every frame is processed.
    """

    @property
    def live(self) -> bool: ...

    @property
    def description(self) -> str:
        """What the source is, for logs: never a password from a camera URL."""
        ...

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class SourceError(Exception):
    """A source could not be opened or read."""
