"""``run`` end to end in-process: options, the fake server over real HTTP, the JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gate_agent.cli import run

from support.fake_agent_api import VIDEO, FakeAgentApi


def test_run_stops_after_max_frames_and_prints_the_summary(tmp_path: Path) -> None:
    api = FakeAgentApi()
    token_file = tmp_path / "token"
    token_file.write_text(api.token + "\n")
    token_file.chmod(0o600)
    with api.serve() as base_url:
        result = CliRunner().invoke(
            run,
            [
                "--server", base_url,
                "--token-file", str(token_file),
                "--source", str(VIDEO),
                "--fast",
                "--max-frames", "12",
                "--state-dir", str(tmp_path / "state"),
                "--long-poll", "1",
                "--json",
            ],
            env={"OPTIN_GATE_TOKEN": ""},
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] == 12
    assert summary["gate"] == {"id": api.gate_id, "name": api.gate_name}
    assert summary["venue"] == api.venue_slug
    assert summary["decisions"] == {}
    assert set(summary["latency_ms"]) == {"p50", "p95", "count"}
    assert api.token not in result.output
