"""benchmarks/load.py end to end, in a tiny configuration: its own PostgreSQL, the served app,
every phase with answers and no errors; and Ctrl-C stops what it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.load import GRANT, WITHDRAWAL

from support.postgres import PostgresBinariesNotFoundError, find_bin_dir

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(240)]

#: One enrollment at a time: two at once in one worker run dlib from two threads, which corrupts
#: its detector and crashes the worker (the benchmark then stops with exit code 4).
TINY = [
    "--duration", "2", "--warmup", "0", "--workers", "1", "--clients", "3",
    "--enroll-clients", "1", "--gates", "4", "--venues", "2", "--people", "8",
    "--change-interval", "0.4", "--long-poll", "5",
]  # fmt: skip


def _command(*args: str) -> list[str]:
    external = os.environ.get("OPTIN_TEST_POSTGRES_URL")
    if not external:
        try:
            find_bin_dir()
        except PostgresBinariesNotFoundError as exc:
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
            pytest.skip(f"the load benchmark needs the PostgreSQL server binaries: {exc}")
    extra = ["--postgres-url", external] if external else []
    return [sys.executable, "-m", "benchmarks.load", *TINY, *extra, *args]


def test_a_tiny_run_measures_every_phase() -> None:
    completed = subprocess.run(
        _command("--json", "--time-limit", "150"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(completed.stdout)
    phases = {phase["name"].split(":")[0].strip(): phase for phase in result["phases"]}
    assert set(phases) == {"baseline", "portal", "enrollment", "then sign-in + delete", "gallery"}
    for name, phase in phases.items():
        assert phase["requests"] > 0, name
        assert phase["errors"] == 0, (name, phase)
        assert not phase["notes"].get("worker_crashes"), (name, phase)
    assert phases["baseline"]["rps_vs_baseline"] == 1.0
    assert phases["portal"]["p95_vs_baseline"] is not None
    assert phases["enrollment"]["notes"]["refused_as_duplicates"] == 0
    assert result["encoding_alone"]["count"] == 2  # the one photo, twice

    gallery = result["gallery"]
    assert gallery["changes"] >= 3
    assert gallery["writer_errors"] == 0
    # Two gates per venue: every change reached both, and each kind of change was made.
    assert gallery["missed"] == 0
    assert gallery["deliveries"] == 2 * gallery["changes"]
    assert set(gallery["by_kind"]) == {WITHDRAWAL, GRANT}
    assert gallery["change_to_delivery"]["p95_ms"] is not None
    assert gallery["snapshots"]["count"] == 4
    assert gallery["gates_not_stopped"] == 0
    assert result["server_log_errors"] == {}


def test_ctrl_c_stops_the_server_and_postgres() -> None:
    process = subprocess.Popen(
        _command("--time-limit", "150"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "baseline:" in line:
                break
        else:
            pytest.fail("the benchmark ended before its first phase:\n" + "".join(lines))
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130, rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "interrupted" in rest
    text = "".join(lines)
    served = re.search(r"serving at (\S+) \(pid (\d+)\)", text)
    assert served, text
    pids = [int(served.group(2))]
    postgres = re.search(r"PostgreSQL on port \d+ \(pid (\d+)\)", text)
    if postgres:  # not when the suite points at an existing server
        pids.append(int(postgres.group(1)))
    for pid in pids:
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), f"process {pid} outlived the benchmark"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.group(1)}/healthz", timeout=2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has stopped; only its parent has not collected it yet.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))
