"""The gate on the sample video: Lin-Manuel Miranda is enrolled, nobody else in it is.

Through the fake agent API (config, snapshot of transformed, sealed templates, events), with the
real face pipeline: detection on half-size frames, tracking, quality gate, best-of-N matching.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gate_run import run_agent, video_frames

from gate_agent.client import AgentClient
from gate_agent.metrics import Metrics
from gate_agent.pipeline import FaceProcessor
from gate_agent.state import GateState
from gate_agent.sync import GallerySync

from support.fake_agent_api import LIN_MANUEL, OTHERS, FakeAgentApi, sample_embedding


@pytest.fixture
def api() -> FakeAgentApi:
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    for index, photo in enumerate(OTHERS):
        api.enroll(f"v_other{index}", [sample_embedding(photo)])
    return api


def test_lin_manuel_is_granted_once_and_nobody_else_is_decided(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    summary, _agent = run_agent(api, tmp_path / "state", stride=2)

    events = list(api.events.values())
    assert [(e["ref"], e["purpose"], e["outcome"]) for e in events] == [
        ("v_lin", "entry", "granted")
    ]
    assert 0 < events[0]["distance"] <= api.match_threshold
    assert summary["decisions"] == {"granted": 1}
    assert summary["matches"] >= 1
    assert summary["frames"] == 138  # 275 frames, every second one
    assert summary["faces"] > 50
    # Encoded once per track (plus best-of-N retries), not once per face.
    assert summary["encodings"] <= 3 * summary["tracks"]
    assert summary["encodings"] < summary["faces"] / 5
    assert summary["events_sent"] == 1
    assert summary["events_pending"] == 0
    assert summary["status"] == "face recognition in operation"
    assert summary["latency_ms"]["count"] == 1
    assert set(api.paths()) == {"/config", "/gallery", "/events"}


def _processor(
    api: FakeAgentApi, tmp_path: Path, **kwargs: object
) -> tuple[FaceProcessor, GallerySync]:
    import threading

    state = GateState()
    client = AgentClient("http://fake", api.token, transport=api.transport(), retries=0)
    sync = GallerySync(client, state, api.key, tmp_path / "gallery.cache", threading.Event())
    sync.poll_once(0)
    return FaceProcessor(state, Metrics(), **kwargs), sync  # type: ignore[arg-type]


def _decide(processor: FaceProcessor, first: int = 86, last: int = 100) -> list[tuple[str, str]]:
    decisions = []
    for frame in video_frames(first, last):
        decisions += processor.process(frame)
    return [(d.ref, d.outcome) for d in decisions]


def test_no_entitlement_and_no_consent(tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.enroll(
        "v_lin", [sample_embedding(LIN_MANUEL)], entry_until=datetime.now(UTC) - timedelta(hours=1)
    )
    processor, _ = _processor(api, tmp_path)
    assert _decide(processor) == [("v_lin", "no_entitlement")]

    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)], purposes=["entry"])
    processor, _ = _processor(api, tmp_path, purpose="payment")
    assert _decide(processor) == [("v_lin", "no_consent")]

    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)], purposes=["entry", "payment"])
    processor, _ = _processor(api, tmp_path, purpose="payment")
    assert _decide(processor) == [("v_lin", "granted")]


def test_two_enrolled_people_equally_close_get_no_decision(tmp_path: Path) -> None:
    """The same face enrolled under two pseudonyms: no margin, so the gate does not guess."""
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    api.enroll("v_twin", [sample_embedding(LIN_MANUEL)])
    metrics = Metrics()
    processor, _ = _processor(api, tmp_path)
    processor._metrics = metrics
    assert _decide(processor) == []
    assert metrics.get("ambiguous") >= 1
    assert metrics.get("matches") == 0


def test_a_revocation_stops_recognition_at_once(tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    api.enroll("v_other", [sample_embedding(OTHERS[0])])
    processor, sync = _processor(api, tmp_path)
    metrics = processor._metrics
    assert _decide(processor, 86, 92) == [("v_lin", "granted")]
    labelled = metrics.get("enrolled_frames")
    assert labelled > 0
    api.revoke("v_lin")
    sync.poll_once(0)
    # Still in view, same track: no longer labelled as him, and no decision.
    assert _decide(processor, 93, 100) == []
    assert metrics.get("enrolled_frames") == labelled
    # A new passage: he is nobody now.
    fresh, _ = _processor(api, tmp_path)
    assert _decide(fresh, 93, 100) == []
    assert fresh._metrics.get("encodings") >= 1
    assert fresh._metrics.get("matches") == 0
