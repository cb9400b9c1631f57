"""What the gate does for an identified person: grant, or deny for a stated reason.

Only enrolled people get a decision. Someone who matches nobody gets none at all: the gate stays
closed and they use the conventional lane, which is never a refusal. Outcomes:
- ``no_consent``: the person did not consent to this gate's purpose at this venue (nothing is
  done for that purpose);
- ``no_entitlement``: an entry gate, and the person has no entry entitlement now;
- ``granted``: otherwise. Payment needs consent only; charging is the payment service's job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gate_agent.config import Purpose
from gate_agent.gallery import Entry

Outcome = Literal["granted", "no_consent", "no_entitlement"]

MESSAGES: dict[Outcome, str] = {
    "granted": "granted",
    "no_consent": "denied: no consent for this purpose (conventional lane)",
    "no_entitlement": "denied: no entitlement (conventional lane)",
}


def decide(entry: Entry, purpose: Purpose, now: datetime) -> Outcome:
    if purpose not in entry.purposes:
        return "no_consent"
    if purpose == "entry" and (entry.entry_until is None or entry.entry_until <= now):
        return "no_entitlement"
    return "granted"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision about an enrolled person; ``id`` is the event's idempotency key."""

    ref: str
    purpose: Purpose
    outcome: Outcome
    distance: float
    occurred_at: datetime
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", str(uuid.uuid4()))

    @property
    def granted(self) -> bool:
        return self.outcome == "granted"

    @property
    def message(self) -> str:
        return MESSAGES[self.outcome]

    def as_event(self) -> dict[str, Any]:
        """The body of one event in ``POST /agent/events``."""
        return {
            "id": self.id,
            "ref": self.ref,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "distance": round(self.distance, 4),
            "occurred_at": self.occurred_at.isoformat(),
        }
