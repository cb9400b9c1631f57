"""Counters for the gate: frames, faces, tracks, encodings, matches, decisions and latency.

Only numbers: no counter is keyed by a person or a face, so the summary a gate prints or reports
says nothing about anyone who walked past.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:
    from gate_agent.state import GateState

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


class PrometheusCollector:
    """The gate's numbers in Prometheus form, read when scraped. No label names anyone.

    ``frames``, ``faces``, decisions and payments by outcome, events sent, stored and lost, the
    gallery's size, the sync lag (seconds since the server last answered), the offline age (the
    part of it beyond one long-poll: 0 while the server answers) and the unsent events.
    """

    def __init__(
        self,
        metrics: Metrics,
        state: GateState,
        *,
        pending_events: Callable[[], int] | None = None,
        long_poll_seconds: float = 25.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._state = state
        self._pending = pending_events
        self._long_poll = long_poll_seconds
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        snapshot = self._metrics.snapshot()
        for name, help_text in _COUNTERS.items():
            yield CounterMetricFamily(
                f"optin_gate_{name}", help_text, value=int(snapshot.get(name, 0))
            )
        decisions = CounterMetricFamily(
            "optin_gate_decisions", "Decisions by outcome", labels=["outcome"]
        )
        for outcome, value in snapshot["decisions"].items():
            decisions.add_metric([outcome], value)
        yield decisions
        payments = CounterMetricFamily(
            "optin_gate_payments", "Till purchases by outcome (payment mode)", labels=["outcome"]
        )
        for name, value in snapshot.items():
            if name.startswith("payment_"):
                payments.add_metric([name.removeprefix("payment_")], value)
        yield payments
        latency = snapshot["latency_ms"]
        for q in ("p50", "p95"):
            if latency[q] is not None:
                yield GaugeMetricFamily(
                    f"optin_gate_decision_latency_{q}_seconds",
                    f"Decision latency, {q} of the recent decisions",
                    value=latency[q] / 1000,
                )
        gallery = self._state.gallery
        yield GaugeMetricFamily(
            "optin_gate_gallery_people",
            "People in the gate's gallery",
            value=len(gallery.entries) if gallery is not None else 0,
        )
        synced_at = float(self._state.synced_at)
        if math.isfinite(synced_at):
            lag = max(0.0, self._clock() - synced_at)
            yield GaugeMetricFamily(
                "optin_gate_sync_lag_seconds", "Seconds since the last good sync", value=lag
            )
            yield GaugeMetricFamily(
                "optin_gate_offline_age_seconds",
                "Seconds the server has been silent beyond one long-poll (0 while it answers)",
                value=max(0.0, lag - self._long_poll - 5.0),
            )
        yield GaugeMetricFamily(
            "optin_gate_offline_limit_seconds",
            "How long the gate may decide offline",
            value=self._state.max_offline_seconds(),
        )
        yield GaugeMetricFamily(
            "optin_gate_deciding",
            "1 while the gate may decide, 0 when everyone goes to the conventional lane",
            value=0 if isinstance(self._state.view(), str) else 1,
        )
        if self._pending is not None:
            try:
                pending = self._pending()
            except Exception:  # noqa: BLE001 - a scrape never breaks the gate
                pending = -1
            yield GaugeMetricFamily(
                "optin_gate_events_pending", "Events stored, waiting to be sent", value=pending
            )


_COUNTERS: dict[str, str] = {
    "frames": "Frames read from the source",
    "frames_dropped": "Frames dropped because the worker was busy (queue full)",
    "frames_processed": "Frames the worker processed",
    "faces": "Faces detected (a count only: nothing is kept about any face)",
    "tracks": "Face tracks started",
    "encodings": "Faces encoded",
    "matches": "Tracks matched to an enrolled person",
    "events_sent": "Events accepted by the server",
    "events_duplicates": "Events re-sent that the server already had (a lost answer, a crash)",
    "events_stored": "Events written to the on-disk outbox (each one, before it is sent)",
    "events_lost": "Events dropped (neither stored nor sent before the gate stopped)",
    "events_rejected": "Events the server refused",
    "event_store_errors": "Failures of the on-disk event outbox",
}


def serve_metrics(
    collector: PrometheusCollector, port: int, host: str = "127.0.0.1"
) -> Callable[[], None]:
    """Serve ``collector`` at ``http://host:port/metrics``; returns a function that stops it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5.0)

    return stop
