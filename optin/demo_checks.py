"""What ``optin demo --once`` verifies: each step of the story records whether it behaved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoChecks:
    steps: list[dict[str, Any]] = field(default_factory=list)

    def expect(self, name: str, ok: bool, detail: str = "") -> None:
        self.steps.append({"step": name, "ok": bool(ok), "detail": detail})

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step["ok"] for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": self.steps}
