"""Actuators, frame sources, metrics and the face functions for frames."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from gate_agent.actuators import HttpRelayActuator, LogActuator, make_actuator
from gate_agent.decisions import Decision
from gate_agent.metrics import Metrics
from gate_agent.sources import (
    CaptureDeviceSource,
    ImageFolderSource,
    SourceError,
    SourceOptions,
    VideoFileSource,
    open_source,
)
from gate_agent.sources.opencv import redact
from optin.faces import frames

from support.fake_agent_api import LIN_MANUEL, SAMPLES, VIDEO

NOW = datetime(2030, 1, 1, tzinfo=UTC)


# --- actuators ---------------------------------------------------------------------------------


def test_log_actuator_says_granted_or_denied(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    actuator = make_actuator("log")
    assert isinstance(actuator, LogActuator)
    actuator.actuate(Decision("v_a", "entry", "granted", 0.3, NOW))
    actuator.actuate(Decision("v_b", "entry", "no_entitlement", 0.3, NOW))
    assert caplog.messages == [
        "granted (entry, v_a)",
        "denied: no entitlement (conventional lane) (entry, v_b)",
    ]


def test_http_relay_posts_open_or_not_and_no_identifier() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(204)

    relay = HttpRelayActuator("http://relay.test/open", transport=httpx.MockTransport(handler))
    relay.actuate(Decision("v_a", "entry", "granted", 0.3, NOW))
    relay.actuate(Decision("v_a", "payment", "no_consent", 0.3, NOW))
    relay.close()
    assert bodies == [
        {"open": True, "outcome": "granted", "purpose": "entry"},
        {"open": False, "outcome": "no_consent", "purpose": "payment"},
    ]


def test_a_failing_relay_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    relay = HttpRelayActuator("http://relay.test/", transport=httpx.MockTransport(handler))
    relay.actuate(Decision("v_a", "entry", "granted", 0.3, NOW))
    relay.close()
    assert "relay did not take a decision: ConnectError" in caplog.text


def test_unknown_actuators_and_missing_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown actuator"):
        make_actuator("gpio")
    with pytest.raises(ValueError, match="relay URL"):
        make_actuator("http")


# --- sources -----------------------------------------------------------------------------------


def test_video_file_frames_are_rgb_contiguous_with_video_timestamps() -> None:
    source = open_source(str(VIDEO), SourceOptions(realtime=False, stride=50))
    assert isinstance(source, VideoFileSource)
    assert not source.live
    try:
        got = list(source.frames())
    finally:
        source.close()
    assert [frame.index for frame in got] == [0, 50, 100, 150, 200, 250]
    assert got[2].timestamp == pytest.approx(100 / 29.97, abs=1e-3)
    image = got[0].image
    assert image.shape == (360, 640, 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous
    assert "array" not in repr(got[0])  # a frame never shows its pixels in a log


def test_realtime_video_is_paced_and_live() -> None:
    source = open_source(f"file:{VIDEO}", SourceOptions(realtime=True, stride=1))
    assert source.live
    started = time.monotonic()
    for frame in source.frames():
        if frame.index >= 15:
            break
    source.close()
    assert time.monotonic() - started >= 15 / 29.97 - 0.05


def test_folder_source(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes((SAMPLES / "faces" / LIN_MANUEL).read_bytes())
    (tmp_path / "a.jpg").write_bytes((SAMPLES / "faces" / "obama" / "obama_small.jpg").read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    for uri in (str(tmp_path), f"folder:{tmp_path}", f"file:{tmp_path}"):
        source = open_source(uri)
        assert isinstance(source, ImageFolderSource)
        got = list(source.frames())
        assert [frame.index for frame in got] == [0, 1]  # c.jpg is unreadable: skipped
        assert [frame.timestamp for frame in got] == [0.0, 1.0]
        assert got[0].image.shape == (240, 320, 3)


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError):
        open_source("webcam:front")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "bad.mp4"))


def test_stream_urls_lose_their_password_in_logs() -> None:
    assert redact("rtsp://admin:secret@10.0.0.5:554/stream1") == "rtsp://10.0.0.5:554/stream1"
    assert redact("rtsp://camera.local/live") == "rtsp://camera.local/live"
    source = CaptureDeviceSource.__new__(CaptureDeviceSource)
    source._target = "rtsp://admin:secret@camera.local/live"
    assert "secret" not in source.description


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_snapshot() -> None:
    metrics = Metrics()
    assert metrics.snapshot()["latency_ms"] == {"p50": None, "p95": None, "count": 0}
    metrics.add("frames", 10)
    metrics.add("decision_granted")
    for ms in range(1, 101):
        metrics.observe_latency(ms / 1000)
    snap = metrics.snapshot()
    assert snap["frames"] == 10
    assert snap["faces"] == 0
    assert snap["decisions"] == {"granted": 1}
    assert snap["latency_ms"]["p50"] == pytest.approx(50.5)
    assert snap["latency_ms"]["p95"] == pytest.approx(95.05, abs=0.1)


# --- optin.faces.frames ------------------------------------------------------------------------


def test_as_rgb_flips_and_makes_contiguous() -> None:
    bgr = np.zeros((2, 3, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order
    rgb = frames.as_rgb(bgr, bgr=True)
    assert rgb.flags.c_contiguous
    assert rgb[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(ValueError):
        frames.as_rgb(np.zeros((2, 3), dtype=np.uint8))


def test_detect_on_a_shrunken_copy_maps_boxes_back() -> None:
    from optin.faces import load_image

    image = load_image(SAMPLES / "faces" / LIN_MANUEL)
    (full,) = frames.detect(image, scale=1.0)
    (half,) = frames.detect(image, scale=0.5)
    assert abs(half.left - full.left) < 0.1 * full.width
    assert abs(half.width - full.width) < 0.2 * full.width
    (aligned,) = frames.align(image, [half])
    assert aligned.points.shape == (5, 2)
    assert frames.yaw_ratio(aligned.points) < 0.2  # a frontal portrait
    embedding = frames.encode(image, aligned)
    assert embedding.shape == (128,)
    assert not embedding.flags.writeable
    with pytest.raises(ValueError):
        frames.detect(image, scale=0)


def test_yaw_ratio_grows_as_the_nose_moves_sideways() -> None:
    eyes = [[0.0, 0.0], [20.0, 0.0], [60.0, 0.0], [40.0, 0.0]]
    frontal = np.array([*eyes, [30.0, 30.0]])
    turned = np.array([*eyes, [50.0, 30.0]])  # the nose under one eye: half the eye span
    assert frames.yaw_ratio(frontal) == pytest.approx(0.0)
    assert frames.yaw_ratio(turned) == pytest.approx(0.5)
    # Rolling the whole face does not change it.
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert frames.yaw_ratio(turned @ rotation.T) == pytest.approx(0.5)
