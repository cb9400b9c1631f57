"""Running the gate agent in-process against the fake agent API, for the integration tests."""

from __future__ import annotations

import dataclasses
import functools
import threading
from pathlib import Path
from typing import Any

import cv2

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig
from gate_agent.sources import Frame
from optin.faces.frames import as_rgb

from support.fake_agent_api import VIDEO, FakeAgentApi


def run_agent(
    api: FakeAgentApi,
    state_dir: Path,
    source: str | Path = VIDEO,
    *,
    stop: threading.Event | None = None,
    **options: Any,
) -> tuple[dict[str, Any], Agent]:
    config = AgentConfig(
        server_url="http://gate-api.test",
        token=api.token,
        state_dir=state_dir,
        source=str(source),
        realtime=False,
        long_poll_seconds=1,
    )
    config = dataclasses.replace(config, **options)
    agent = Agent(config, transport=api.transport())
    return agent.run(stop), agent


@functools.cache
def video_frames(first: int, last: int) -> tuple[Frame, ...]:
    """Frames ``first..last`` of the sample video, decoded once (about 0.7 MB each)."""
    capture = cv2.VideoCapture(str(VIDEO))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    index = 0
    while index <= last:
        ok, bgr = capture.read()
        if not ok:
            break
        if index >= first:
            frames.append(Frame(index, index / fps, 0.0, as_rgb(bgr, bgr=True)))
        index += 1
    capture.release()
    return tuple(frames)
