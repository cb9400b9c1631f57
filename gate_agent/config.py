"""The gate agent's settings, from command-line options or ``OPTIN_GATE_*`` variables, in one place.

The click command (``gate_agent.cli``) reads the variables through click's ``envvar``, so no
other module of the agent reads the environment. The bearer token comes from a private file
(``OPTIN_GATE_TOKEN_FILE``, mode 0600) or from ``OPTIN_GATE_TOKEN``; it is never an option,
where ``ps`` would show it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args

from optin.crypto.files import read_private_file
from optin.errors import ConfigurationError

ENV_SERVER: Final = "OPTIN_GATE_SERVER"
ENV_TOKEN: Final = "OPTIN_GATE_TOKEN"  # noqa: S105 - a variable name
ENV_TOKEN_FILE: Final = "OPTIN_GATE_TOKEN_FILE"  # noqa: S105 - a variable name
ENV_STATE_DIR: Final = "OPTIN_GATE_STATE_DIR"
ENV_SOURCE: Final = "OPTIN_GATE_SOURCE"
ENV_ACTUATOR: Final = "OPTIN_GATE_ACTUATOR"
ENV_RELAY_URL: Final = "OPTIN_GATE_RELAY_URL"
ENV_PURPOSE: Final = "OPTIN_GATE_PURPOSE"
ENV_MODE: Final = "OPTIN_GATE_MODE"
ENV_CURRENCY: Final = "OPTIN_GATE_CURRENCY"

DEFAULT_STATE_DIR: Final = ".optin-gate"
DEFAULT_WAIT_SECONDS: Final = 15.0
DEFAULT_SOURCE: Final = "webcam:0"

Purpose = Literal["entry", "payment"]
PURPOSES: Final[tuple[str, ...]] = get_args(Purpose)
#: ``gate``: decide about everyone enrolled who passes; ``payment``: a till charges the one
#: customer recognised when a purchase is rung up.
Mode = Literal["gate", "payment"]
MODES: Final[tuple[str, ...]] = get_args(Mode)

_TOKEN = re.compile(r"optin_gate_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How frames become decisions. Defaults measured on the sample clip (see the README)."""

    #: Detection runs on a copy shrunk by this factor: 20 ms instead of 76 ms a 640x360 frame;
    #: with one upsampling step it still finds faces from about 80 px in the full frame.
    detect_scale: float = 0.5
    detect_upsample: int = 1
    #: Quality gate before encoding: the face's size in full-frame pixels, its gap to the frame
    #: edge in face widths, the blur score of ``optin.faces.quality``, and the sideways offset
    #: of the nose in eye distances (``optin.faces.frames.yaw_ratio``).
    min_face_pixels: int = 60
    min_border_margin: float = 0.05
    min_blur: float = 30.0
    max_yaw: float = 0.3
    #: Best of N: a track is encoded at most this many times, at least this far apart (seconds
    #: of video), before it counts as nobody enrolled.
    max_attempts: int = 3
    attempt_interval: float = 0.1
    #: Tracking: boxes overlapping by this IoU continue a track; a track unseen for this long
    #: (seconds of video) is forgotten.
    track_iou: float = 0.3
    track_ttl: float = 0.5
    #: The same person is not decided again within this many seconds (one event per passage).
    decision_cooldown: float = 10.0
    #: Frames waiting for the worker; live sources drop the oldest when it is full.
    queue_size: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.detect_scale <= 1.0:
            raise ConfigurationError(f"detect scale must be in (0, 1], got {self.detect_scale}")
        if self.max_attempts < 1 or self.queue_size < 1:
            raise ConfigurationError("max attempts and queue size must be at least 1")


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    """Payment mode: how a purchase finds its customer and how a charge is retried."""

    #: How long a purchase waits for one customer enrolled for payment to be recognised.
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    #: Recognised within this many seconds counts as standing at the till now.
    presence_seconds: float = 2.0
    #: Only people without payment consent here recognised for this long into the wait: the
    #: till says so rather than keep the queue waiting for the whole ``wait_seconds``.
    not_allowed_after: float = 3.0
    #: Tries of one charge while its outcome is unknown (provider down, charge in progress,
    #: server unreachable), with exponential backoff from ``retry_base`` up to ``retry_cap``
    #: seconds between them: about half a minute in all with the defaults.
    attempts: int = 6
    retry_base: float = 1.0
    retry_cap: float = 8.0
    #: ISO 4217 code; None: the venue's, from the server (JPY if it does not say).
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.wait_seconds < 0 or self.presence_seconds <= 0 or self.attempts < 1:
            raise ConfigurationError("payment wait, presence and attempts must be positive")
        if self.currency is not None and not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ConfigurationError(
                f"currency must be an ISO 4217 code such as JPY, got {self.currency!r}"
            )


@dataclass(frozen=True, slots=True)
class AgentConfig:
    server_url: str
    token: str = field(repr=False)
    state_dir: Path
    source: str = DEFAULT_SOURCE
    realtime: bool = True
    stride: int = 1
    actuator: str = "log"
    relay_url: str | None = None
    purpose: Purpose = "entry"
    mode: Mode = "gate"
    payment: PaymentSettings = field(default_factory=PaymentSettings)
    #: Lowers the server's maximum offline age for this gate (it can never raise it).
    max_offline_seconds: int | None = None
    max_frames: int | None = None
    duration: float | None = None
    long_poll_seconds: int = 25
    #: Where the "face recognition in operation" indicator's state is written (JSON), if set.
    indicator_path: Path | None = None
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)

    @property
    def cache_path(self) -> Path:
        return self.state_dir / "gallery.cache"

    @property
    def events_path(self) -> Path:
        return self.state_dir / "events.db"

    @property
    def purchase_path(self) -> Path:
        """Payment mode: the purchase whose charge has no final answer yet (sealed)."""
        return self.state_dir / "purchase.pending"

    def __post_init__(self) -> None:
        if self.mode == "payment" and self.purpose != "payment":
            raise ConfigurationError("payment mode needs the payment purpose")


def read_token(token_file: Path | None, env: Mapping[str, str]) -> str:
    """The gate token from a private file (preferred) or ``OPTIN_GATE_TOKEN`` in ``env``.

    Only its shape is checked here; the server is the judge of whether it is valid.
    """
    token = env.get(ENV_TOKEN, "")
    if token_file is not None:
        try:
            raw = read_private_file(token_file, what="gate token file")
        except FileNotFoundError:
            raise ConfigurationError(f"gate token file {token_file} does not exist") from None
        token = raw.decode("utf-8", errors="replace").strip()
    if not token:
        raise ConfigurationError(
            f"no gate token: set {ENV_TOKEN_FILE} (a file only you can read) or {ENV_TOKEN}"
        )
    if not _TOKEN.fullmatch(token):
        # Never echo the value: it may be a real token with a typo.
        raise ConfigurationError("the gate token is malformed (expected optin_gate_<43 chars>)")
    return token
