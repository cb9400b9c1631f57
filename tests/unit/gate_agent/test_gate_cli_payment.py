"""Payment mode's options: documented in --help, and refused clearly when they do not fit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gate_agent.cli import main, run

TOKEN = "optin_gate_" + "a" * 43


def test_help_documents_payment_mode() -> None:
    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=100)
    assert result.exit_code == 0
    for text in (
        "--mode",
        "--charge",
        "--item",
        "--purchase-id",
        "--pin-file",
        "--resume",
        "--cancel-pending",
        "--wait",
        "--currency",
        "OPTIN_GATE_MODE",
        "charge 1200 Lunch set",
        "0 approved, 3 declined",
    ):
        assert text in result.output, text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--charge", "1200", "--mode", "gate"], "payment mode's"),
        (["--mode", "payment", "--purpose", "entry"], "drop --purpose entry"),
        (["--charge", "1200", "--resume"], "--resume finishes one"),
        (["--item", "Tea"], "go with --charge"),
        (["--mode", "payment", "--pin-file", "-"], "go with --charge"),
        (["--charge", "12.345"], "cannot be charged"),
        (["--charge", "0"], "more than zero"),
        (["--charge", "lots"], "not an amount"),
        (["--charge", "12.5", "--currency", "JPY"], "JPY has no decimal places"),
        (["--charge", "100", "--currency", "yen!"], "ISO 4217"),
        (["--charge", "100", "--purchase-id", "x" * 129], "1 to 128 characters"),
    ],
)
def test_payment_options_that_do_not_fit_exit_2_in_one_line(args: list[str], says: str) -> None:
    result = CliRunner().invoke(
        run,
        ["--server", "http://127.0.0.1:9", *args],
        env={"OPTIN_GATE_TOKEN": TOKEN, "OPTIN_GATE_MODE": ""},
    )
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_pin_file_others_can_read_is_refused_before_the_camera_opens(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("2468\n")
    pin_file.chmod(0o644)
    result = CliRunner().invoke(
        run,
        ["--server", "http://127.0.0.1:9", "--charge", "5000", "--pin-file", str(pin_file)],
        env={"OPTIN_GATE_TOKEN": TOKEN},
    )
    assert result.exit_code == 2
    assert "readable by others: chmod 600" in result.output
    assert "2468" not in result.output
    missing = CliRunner().invoke(
        run,
        ["--server", "http://127.0.0.1:9", "--charge", "5000", "--pin-file", str(tmp_path / "x")],
        env={"OPTIN_GATE_TOKEN": TOKEN},
    )
    assert missing.exit_code == 2
    assert "cannot be opened" in missing.output
