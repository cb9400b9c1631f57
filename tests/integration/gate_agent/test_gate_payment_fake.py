"""Payment mode on the sample video against the fake charges API: the command as a kiosk runs it,
and strangers at the till leave no trace (every log record, request and file checked)."""

from __future__ import annotations

import io
import json
import logging
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_gate_privacy import Sandbox, _check_no_trace

from gate_agent.agent import Agent
from gate_agent.cli import run
from gate_agent.config import AgentConfig, PaymentSettings
from gate_agent.till import ScriptedCharge

from support.fake_agent_api import LIN_MANUEL, OTHERS, VIDEO, sample_embedding
from support.fake_charges import FakeChargeApi

PIN = "2468"


def _token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def _cli(api: FakeChargeApi, tmp_path: Path, base_url: str, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        run,
        [
            "--server", base_url,
            "--token-file", str(_token_file(tmp_path, api.token)),
            "--source", str(VIDEO),
            "--fast",
            "--stride", "2",
            "--state-dir", str(tmp_path / "state"),
            "--long-poll", "1",
            *options,
        ],
        env={"OPTIN_GATE_TOKEN": ""},
        input=f"{PIN}\n",
    )  # fmt: skip
    return result.exit_code, result.stdout


def test_a_kiosk_charges_lin_manuel_from_the_command_line(tmp_path: Path) -> None:
    api = FakeChargeApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)], purposes=("entry", "payment"))
    api.add_payer("v_lin", pin=PIN)
    with api.serve() as base_url:
        code, out = _cli(
            api, tmp_path, base_url,
            "--charge", "4500", "--item", "Onsen towel set", "--pin-file", "-", "--json",
        )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert result["outcome"] == "approved"
    assert (result["amount_minor"], result["currency"], result["item"]) == (
        4500,
        "JPY",
        "Onsen towel set",
    )
    assert result["summary"]["matches"] >= 1
    # Above the limit: asked for the PIN (read from stdin when asked), sent with the same key.
    first, second = api.charge_requests
    assert (first["ref"], first["pin"], second["pin"]) == ("v_lin", None, PIN)
    assert first["idempotency_key"] == second["idempotency_key"] == result["purchase_id"]
    assert not re.search(rf"\b{PIN}\b", out)  # (a UUID could hold the digits by chance)
    assert set(api.paths()) == {"/config", "/gallery", "/charges"}  # no visit events
    assert not (tmp_path / "state" / "purchase.pending").exists()


def test_cancel_pending_drops_an_unfinished_purchase_without_the_server(tmp_path: Path) -> None:
    api = FakeChargeApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)], purposes=("payment",))
    api.add_payer("v_lin", pin=PIN)
    api.fail_next(*["payment-provider-unavailable"] * 20)
    # The provider stays down through every try (quick ones here: the CLI's take ~20 s).
    quick = PaymentSettings(attempts=3, retry_base=0.01, retry_cap=0.02)
    config = AgentConfig(
        server_url="http://gate-api.test",
        token=api.token,
        state_dir=tmp_path / "state",
        source=str(VIDEO),
        realtime=False,
        stride=2,
        long_poll_seconds=1,
        purpose="payment",
        mode="payment",
        payment=quick,
    )
    till = ScriptedCharge(amount="900", item="Tea", progress=io.StringIO())
    Agent(config, transport=api.transport(), till=till).run()
    assert till.result is not None
    assert till.result.outcome == "pending"
    assert till.result.message.startswith("NOT CONFIRMED (the payment provider is unavailable)")
    assert len(api.keys()) == 3
    assert len(set(api.keys())) == 1
    with api.serve() as base_url:
        # The next purchase is held back until this one is resolved.
        code, out = _cli(api, tmp_path, base_url, "--charge", "300")
        assert code == 7
        assert "NOT STARTED: the earlier purchase of 900 JPY for Tea" in out
    code, out = _cli(api, tmp_path, "http://127.0.0.1:9", "--cancel-pending")
    assert code == 0
    assert "purchase of 900 JPY dropped; its outcome was unknown" in out
    assert not (tmp_path / "state" / "purchase.pending").exists()
    code, out = _cli(api, tmp_path, "http://127.0.0.1:9", "--cancel-pending")
    assert (code, out.strip()) == (0, "no unfinished purchase")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    root = tmp_path / "sandbox"
    for name in ("home", "tmp", "cwd"):
        (root / name).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("TMPDIR", str(root / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    monkeypatch.chdir(root / "cwd")
    return Sandbox(root, root / "state")


def test_strangers_at_the_till_are_never_charged_and_leave_no_trace(
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    api = FakeChargeApi()
    for index, photo in enumerate(OTHERS):  # enrolled payers, none of them in the video
        api.enroll(f"v_{index}", [sample_embedding(photo)], purposes=("payment",))
        api.add_payer(f"v_{index}", pin=PIN)
    config = AgentConfig(
        server_url="http://gate-api.test",
        token=api.token,
        state_dir=sandbox.state_dir,
        source=str(VIDEO),
        realtime=False,
        stride=3,
        long_poll_seconds=1,
        purpose="payment",
        mode="payment",
        payment=PaymentSettings(wait_seconds=30.0),
    )
    till = ScriptedCharge(amount="1200", item="Lunch set", progress=io.StringIO())
    summary = Agent(config, transport=api.transport(), till=till).run()

    assert till.result is not None
    assert till.result.outcome == "no-customer"  # at the end of the clip, not after 30 s
    assert summary["encodings"] >= 2
    assert summary["unmatched_tracks"] >= 1
    assert summary["matches"] == 0
    assert api.charge_requests == []
    _check_no_trace(sandbox, api, caplog, capfd)
