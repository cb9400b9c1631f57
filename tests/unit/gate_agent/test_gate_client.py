"""The agent API client: bearer token, retries with backoff, problem details, no token in logs."""

from __future__ import annotations

import logging

import httpx
import pytest

from gate_agent.client import AgentClient, ApiError, Unauthorized, Unreachable, backoff_delay

from support.fake_agent_api import FakeAgentApi

TOKEN = "optin_gate_" + "t" * 43


def _client(handler: object, **kwargs: object) -> AgentClient:
    return AgentClient(
        "http://server.test/",
        TOKEN,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_sends_the_bearer_token_and_parses_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    assert _client(handler).get_gallery(since=7, wait=99) == {"ok": True}
    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.url.path == "/api/v1/agent/gallery"
    assert dict(request.url.params) == {"since": "7", "wait": "30"}  # wait is capped
    assert request.extensions["timeout"]["read"] == 40.0  # the long-poll's own read timeout


def test_retries_server_errors_then_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gate_agent.client.backoff_delay", lambda attempt: 0.0)
    answers = iter(
        [
            httpx.Response(503, json={"title": "Unavailable"}),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(200, json={"accepted": 1, "duplicates": 0}),
        ]
    )
    client = _client(lambda request: next(answers), retries=2)
    assert client.post_events([{"id": "x"}]) == {"accepted": 1, "duplicates": 0}


def test_gives_up_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gate_agent.client.backoff_delay", lambda attempt: 0.0)
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unreachable):
        _client(handler, retries=2).get_config()
    assert len(calls) == 3


def test_problem_details_and_no_retry_for_client_errors() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status = 401 if request.url.path.endswith("config") else 403
        return httpx.Response(
            status,
            json={"title": "Forbidden", "detail": "notice lead time", "status": status},
            headers={"content-type": "application/problem+json"},
        )

    client = _client(handler)
    with pytest.raises(Unauthorized):
        client.get_config()
    with pytest.raises(ApiError) as error:
        client.get_gallery(0)
    assert (error.value.status, error.value.detail) == (403, "notice lead time")
    assert len(calls) == 2


def test_the_token_never_reaches_logs_or_messages(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gate_agent.client.backoff_delay", lambda attempt: 0.0)
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers}", request=request)

    client = _client(handler, retries=1)
    with pytest.raises(Unreachable) as error:
        client.get_config()
    assert TOKEN not in str(error.value)
    assert TOKEN not in repr(client)
    assert TOKEN not in caplog.text


def test_against_the_fake_server() -> None:
    api = FakeAgentApi()
    client = AgentClient("http://fake", api.token, transport=api.transport())
    assert client.get_config()["venue"]["slug"] == api.venue_slug
    wrong = AgentClient("http://fake", "optin_gate_" + "w" * 43, transport=api.transport())
    with pytest.raises(Unauthorized):
        wrong.get_config()


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= backoff_delay(0) <= 0.5 for _ in range(50))
    assert all(0 <= backoff_delay(20) <= 60 for _ in range(50))
