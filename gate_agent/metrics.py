"""Counters for the gate: frames, faces, tracks, encodings, matches, decisions and latency.

Only numbers: no counter is keyed by a person or a face, so the summary a gate prints or reports
says nothing about anyone who walked past.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

import numpy as np

#: The latency percentiles come from the most recent decisions only.
LATENCY_WINDOW = 10_000


class Metrics:
    """Thread-safe counters and a window of decision latencies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def observe_latency(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def snapshot(self) -> dict[str, Any]:
        """Counters by name, plus decision latency percentiles in milliseconds (None if none)."""
        with self._lock:
            counts = dict(self._counts)
            latencies = np.array(self._latencies, dtype=np.float64)
        decisions = {
            outcome.removeprefix("decision_"): value
            for outcome, value in sorted(counts.items())
            if outcome.startswith("decision_")
        }
        result: dict[str, Any] = {
            name: value
            for name, value in sorted(counts.items())
            if not name.startswith("decision_")
        }
        for name in ("frames", "frames_dropped", "faces", "tracks", "encodings", "matches"):
            result.setdefault(name, 0)
        result["decisions"] = decisions
        result["latency_ms"] = {
            "p50": _percentile(latencies, 50),
            "p95": _percentile(latencies, 95),
            "count": int(latencies.size),
        }
        return result


def _percentile(values: np.ndarray[Any, np.dtype[np.float64]], q: float) -> float | None:
    if values.size == 0:
        return None
    return round(float(np.percentile(values, q)) * 1000, 1)
