"""``python -m gate_agent run`` in a subprocess stops cleanly on SIGTERM and SIGINT.

The agent talks over real HTTP to the fake agent API served on 127.0.0.1, plays the sample video
in real time (as a camera would deliver it), and is signalled while running: it must exit 0,
print its JSON summary, and have delivered the decision it made before the signal.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.fake_agent_api import LIN_MANUEL, VIDEO, FakeAgentApi, sample_embedding


def _start(base_url: str, api: FakeAgentApi, tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    env["OPTIN_GATE_TOKEN"] = api.token
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gate_agent",
            "run",
            "--server",
            base_url,
            "--source",
            str(VIDEO),
            "--realtime",
            "--state-dir",
            str(tmp_path / "state"),
            "--long-poll",
            "1",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(stream: object) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], text: str, seen: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    pytest.fail(f"no {text!r} in the agent's log:\n{''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_gate_cleanly(sig: signal.Signals, tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    with api.serve() as base_url:
        process = _start(base_url, api, tmp_path)
        try:
            assert process.stderr is not None
            seen: list[str] = []
            lines = _lines(process.stderr)
            _wait_for_line(lines, "FACE RECOGNITION IN OPERATION", seen, 30)
            _wait_for_line(lines, "status: face recognition in operation", seen, 10)
            if sig == signal.SIGTERM:
                # Let him walk in (about 3 s into the clip) and be let through first.
                _wait_for_line(lines, "granted (entry, v_lin)", seen, 20)
            started = time.monotonic()
            process.send_signal(sig)
            out, _ = process.communicate(timeout=15)
            stopped_in = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, "".join(seen)
    assert stopped_in < 5, f"took {stopped_in:.1f} s to stop"
    summary = json.loads(out)
    assert 0 < summary["frames"] < 275  # stopped before the clip ended
    assert summary["status"] == "face recognition in operation"
    if sig == signal.SIGTERM:
        assert summary["decisions"] == {"granted": 1}
        assert [e["ref"] for e in api.events.values()] == ["v_lin"]
        assert summary["events_pending"] == 0
    # Nothing left behind but the encrypted gallery cache.
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["gallery.cache"]
