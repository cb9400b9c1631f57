"""The command's options and configuration errors (the runs themselves are integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gate_agent.cli import main, run

TOKEN = "optin_gate_" + "a" * 43


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_names_every_setting(runner: CliRunner) -> None:
    result = runner.invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--server", "--token-file", "--source", "--actuator", "--state-dir", "--json"):
        assert option in result.output
    for variable in ("OPTIN_GATE_SERVER", "OPTIN_GATE_TOKEN_FILE", "OPTIN_GATE_STATE_DIR"):
        assert variable in result.output
    assert run.name == "run"


def _invoke(runner: CliRunner, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    base = {"OPTIN_GATE_SERVER": "http://127.0.0.1:9", "OPTIN_GATE_TOKEN": ""}
    result = runner.invoke(run, args, env={**base, **env})
    return result.exit_code, result.output


def test_configuration_errors_are_one_line_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _invoke(runner, [], {})
    assert code == 2
    assert "no gate token" in output
    assert "Traceback" not in output

    code, output = _invoke(runner, [], {"OPTIN_GATE_TOKEN": "optin_gate_short"})
    assert (code, "malformed" in output) == (2, True)
    assert "optin_gate_short" not in output  # never echoed

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    code, output = _invoke(runner, ["--token-file", str(token_file)], {})
    assert code == 2
    assert "chmod 600" in output
    assert TOKEN not in output

    code, output = _invoke(runner, ["--actuator", "http"], {"OPTIN_GATE_TOKEN": TOKEN})
    assert code == 2
    assert "relay" in output
