"""Strangers leave no trace (BRIEF checks 5, 6, 8, 32): no file, no log line, no request.

The gate runs on the sample video with galleries in which nobody in the video is enrolled, and
on photos of people who are not enrolled, with HOME, TMPDIR and the working directory pointed at
empty folders, every log record captured at DEBUG, stdout/stderr captured at the file-descriptor
level and every HTTP request recorded by the fake server. Faces are found, encoded and compared
(the counters prove the whole path ran) and then nothing about them may appear anywhere.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gate_run import run_agent

from gate_agent.sources import Frame
from gate_agent.tracker import Track
from optin.faces.results import FaceBox

from support.fake_agent_api import LIN_MANUEL, OTHERS, SAMPLES, FakeAgentApi, sample_embedding

#: What would give a face away in a log line: a box (four numbers in a row), a vector of
#: floats, a track, a face's geometry or its distance.
LEAKS = [
    re.compile(r"-?\d+\s*,\s*-?\d+\s*,\s*-?\d+\s*,\s*-?\d+"),
    re.compile(r"\[\s*-?\d+\.\d+(\s*,?\s*-?\d+\.\d+){3,}"),
    re.compile(r"track|box|embedding|encoding|landmark|distance|yaw|blur", re.IGNORECASE),
    re.compile(r"top=|left=|right=|bottom="),
]


@dataclass
class Sandbox:
    root: Path
    state_dir: Path

    def files(self) -> set[Path]:
        return {path for path in self.root.rglob("*") if path.is_file()}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    root = tmp_path / "sandbox"
    for name in ("home", "tmp", "cwd"):
        (root / name).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("TMPDIR", str(root / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    monkeypatch.chdir(root / "cwd")
    return Sandbox(root, root / "state")


def _check_no_trace(
    sandbox: Sandbox,
    api: FakeAgentApi,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Network: only the gate's own configuration and gallery, never an event.
    assert set(api.paths()) <= {"/config", "/gallery"}
    assert api.events == {}
    assert all(request.method == "GET" for request in api.requests)
    # Disk: at most the encrypted cache of the venue's (enrolled) gallery; no event store.
    assert sandbox.files() <= {sandbox.state_dir / "gallery.cache"}
    # Logs and output.
    out, err = capfd.readouterr()
    lines = [record.getMessage() for record in caplog.records] + (out + err).splitlines()
    assert lines, "the gate logged nothing at all: the capture is broken"
    for line in lines:
        for pattern in LEAKS:
            assert not pattern.search(line), f"log line gives a face away: {line!r}"
    for record in caplog.records:
        for arg in record.args if isinstance(record.args, tuple) else ():
            assert not isinstance(arg, np.ndarray | FaceBox | Track | Frame), record.msg


@pytest.fixture
def capture_everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    return caplog


def test_nobody_in_the_video_is_enrolled(
    sandbox: Sandbox,
    capture_everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api = FakeAgentApi()
    for index, photo in enumerate(OTHERS):
        api.enroll(f"v_{index}", [sample_embedding(photo)])
    summary, _ = run_agent(api, sandbox.state_dir, stride=3)

    # The whole path ran on the strangers: found, tracked, encoded, compared, dropped.
    assert summary["faces"] > 30  # every third frame of the clip
    assert summary["encodings"] >= 2
    assert summary["unmatched_tracks"] >= 1
    assert summary["matches"] == 0
    assert summary["decisions"] == {}
    assert summary["latency_ms"]["count"] == 0
    _check_no_trace(sandbox, api, capture_everything, capfd)


def test_an_empty_gallery_does_no_face_work_at_all(
    sandbox: Sandbox,
    capture_everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api = FakeAgentApi()
    summary, _ = run_agent(api, sandbox.state_dir, stride=5)
    assert summary["frames"] == 55
    assert summary["faces"] == 0  # nobody to recognise: not even detection runs
    assert summary["encodings"] == 0
    _check_no_trace(sandbox, api, capture_everything, capfd)


def test_photos_of_people_who_are_not_enrolled(
    sandbox: Sandbox,
    capture_everything: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    photos = tmp_path / "camera"
    photos.mkdir()
    for photo in [
        "obama/obama_4.jpg",
        "obama/obama_240p.jpg",
        "kit_harington/kit_harington_2.jpg",
        "rose_leslie/rose_leslie_1.jpg",
        "alex_lacamoire/alex_lacamoire_1.png",
        "group/kit_harington_and_rose_leslie.jpg",
        "edge/obama_partial_face_1.jpg",
    ]:
        shutil.copy(SAMPLES / "faces" / photo, photos / photo.replace("/", "_"))
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    summary, _ = run_agent(api, sandbox.state_dir, source=photos)

    assert summary["frames"] == 7
    assert summary["faces"] >= 8
    assert summary["encodings"] >= 5
    assert summary["matches"] == 0
    assert summary["decisions"] == {}
    _check_no_trace(sandbox, api, capture_everything, capfd)
