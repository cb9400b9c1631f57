"""What the gate does with a decision: a Protocol and a registry of actuators.

- ``log``: one line per decision ("granted" or "denied: ..."), with the person's venue pseudonym;
- ``http``: POSTs ``{"open": bool, "outcome", "purpose"}`` to a relay URL (a turnstile
  controller), from a thread of its own so a slow relay never holds up the camera. The relay gets
  no identifier: it only needs to know whether to open.

In payment mode both also show each purchase's result (``show_payment``): a log line with the
outcome, the amount and the charge id, or a POST ``{"open": approved, "purpose": "payment",
"outcome", "amount_minor", "currency"}`` (a light or a display at the till). Never the person.

Decisions are for enrolled people only. Anyone else (a failed match), and everyone while the
gate is in fallback mode (no gallery, offline too long, revoked), is only told to use the
conventional lane (``direct_to_lane``): a log line or ``{"open": false, "lane": true,
"reason"}`` to the relay, with nothing about the person or their face, and no event.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol, runtime_checkable

import httpx

from gate_agent.decisions import Decision
from gate_agent.payment import PaymentResult

log = logging.getLogger(__name__)

LANE_MESSAGE: Final = "please use the conventional lane"
#: Why the person is sent to the lane: not recognised, or face recognition is unavailable.
LANE_REASONS: Final = {
    "no-match": "not recognised",
    "fallback": "face recognition unavailable",
}


class Actuator(Protocol):
    def actuate(self, decision: Decision) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class LaneDisplay(Protocol):
    """An actuator that can tell a person to use the conventional lane."""

    def direct_to_lane(self, reason: str) -> None: ...


def direct_to_lane(actuator: Actuator, reason: str) -> None:
    """Send the person to the lane, through the actuator if it can show it, else a log line."""
    if reason not in LANE_REASONS:
        raise ValueError(f"unknown lane reason {reason!r}")
    if isinstance(actuator, LaneDisplay):
        actuator.direct_to_lane(reason)
    else:
        log.info("%s (%s)", LANE_MESSAGE, LANE_REASONS[reason])


class LogActuator:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("gate_agent.gate")

    def actuate(self, decision: Decision) -> None:
        self._log.info("%s (%s, %s)", decision.message, decision.purpose, decision.ref)

    def direct_to_lane(self, reason: str) -> None:
        self._log.info("%s (%s)", LANE_MESSAGE, LANE_REASONS[reason])

    def show_payment(self, result: PaymentResult) -> None:
        self._log.info(
            "payment %s: %s %s%s",
            result.outcome,
            result.amount_minor,
            result.currency,
            f" (charge {result.charge_id})" if result.charge_id else "",
        )

    def close(self) -> None:
        pass


class HttpRelayActuator:
    """POSTs each decision to a relay; failures are logged, never raised into the pipeline."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=100)
        self._thread = threading.Thread(target=self._run, name="gate-relay", daemon=True)
        self._thread.start()

    def actuate(self, decision: Decision) -> None:
        body = {"open": decision.granted, "outcome": decision.outcome, "purpose": decision.purpose}
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            log.warning("relay queue full: a decision was not relayed")

    def direct_to_lane(self, reason: str) -> None:
        try:
            self._queue.put_nowait({"open": False, "lane": True, "reason": reason})
        except queue.Full:
            log.warning("relay queue full: a lane message was not relayed")

    def show_payment(self, result: PaymentResult) -> None:
        body = {
            "open": result.approved,
            "purpose": "payment",
            "outcome": result.outcome,
            "amount_minor": result.amount_minor,
            "currency": result.currency,
        }
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            log.warning("relay queue full: a payment result was not relayed")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5.0)
        self._http.close()

    def _run(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self._http.post(self._url, json=body).raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("relay did not take a decision: %s", type(exc).__name__)


ActuatorFactory = Callable[..., Actuator]

_FACTORIES: dict[str, ActuatorFactory] = {}


def register_actuator(name: str, factory: ActuatorFactory) -> None:
    _FACTORIES[name] = factory


def actuator_names() -> list[str]:
    return sorted(_FACTORIES)


def make_actuator(name: str, **options: Any) -> Actuator:
    """An actuator by name; ``http`` needs ``url``."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"unknown actuator {name!r} (known: {', '.join(actuator_names())})"
        ) from None
    return factory(**options)


def _http(url: str | None = None, **options: Any) -> Actuator:
    if not url:
        raise ValueError("the http actuator needs a relay URL")
    return HttpRelayActuator(url, **options)


register_actuator("log", lambda **_options: LogActuator())
register_actuator("http", _http)
