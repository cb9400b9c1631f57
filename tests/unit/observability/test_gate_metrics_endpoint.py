"""The gate's Prometheus endpoint: counts and gauges only, no label that names anyone."""

from __future__ import annotations

import socket

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from gate_agent.gallery import Entry, GalleryState
from gate_agent.metrics import Metrics, PrometheusCollector, serve_metrics
from gate_agent.state import GateState


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gate_metrics_endpoint_serves_counts_and_gauges() -> None:
    now = 1_000_000.0
    state = GateState(clock=lambda: now)
    refs = ["ref-alice-0001", "ref-bob-0002"]
    entries = [
        Entry(ref, frozenset({"entry"}), None, np.zeros((1, 128), dtype=np.float64)) for ref in refs
    ]
    state.set_gallery(GalleryState("demo-venue", 7, entries), synced_at=now - 100.0)
    metrics = Metrics()
    metrics.add("frames", 30)
    metrics.add("frames_dropped", 2)
    metrics.add("faces", 5)
    metrics.add("decision_admit", 2)
    metrics.add("decision_deny", 1)
    metrics.add("payment_approved")
    metrics.add("events_lost", 3)
    metrics.observe_latency(0.05)
    collector = PrometheusCollector(
        metrics, state, pending_events=lambda: 4, long_poll_seconds=25, clock=lambda: now
    )
    port = _free_port()
    stop = serve_metrics(collector, port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        stop()
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values[("optin_gate_frames_total", ())] == 30
    assert values[("optin_gate_frames_dropped_total", ())] == 2
    assert values[("optin_gate_faces_total", ())] == 5
    assert values[("optin_gate_decisions_total", (("outcome", "admit"),))] == 2
    assert values[("optin_gate_decisions_total", (("outcome", "deny"),))] == 1
    assert values[("optin_gate_payments_total", (("outcome", "approved"),))] == 1
    assert values[("optin_gate_events_lost_total", ())] == 3
    assert values[("optin_gate_gallery_people", ())] == 2
    assert values[("optin_gate_sync_lag_seconds", ())] == 100
    assert values[("optin_gate_offline_age_seconds", ())] == 70
    assert values[("optin_gate_events_pending", ())] == 4
    assert values[("optin_gate_decision_latency_p50_seconds", ())] == 0.05
    for ref in refs:
        assert ref not in text
    labels = {name for (_, pairs) in values for name, _ in pairs}
    assert labels <= {"outcome"}
