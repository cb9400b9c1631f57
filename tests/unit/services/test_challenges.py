"""Liveness challenge tokens: genuine, unexpired, and good for one capture only."""

from __future__ import annotations

import pytest

from optin.crypto.keys import InMemoryKeyProvider
from optin.errors import LivenessFailed
from optin.services.challenges import ChallengeSigner


def test_a_token_answers_one_capture() -> None:
    signer = ChallengeSigner(InMemoryKeyProvider())
    issued = signer.issue()
    assert signer.action_of(issued.token) == issued.action
    with pytest.raises(LivenessFailed, match="used already"):
        signer.action_of(issued.token)


def test_forged_or_foreign_tokens_fail() -> None:
    signer = ChallengeSigner(InMemoryKeyProvider())
    other = ChallengeSigner(InMemoryKeyProvider())
    issued = signer.issue()
    payload, _, mac = issued.token.partition(".")
    with pytest.raises(LivenessFailed):
        other.action_of(issued.token)
    with pytest.raises(LivenessFailed):
        signer.action_of(f"{payload}x.{mac}")
    with pytest.raises(LivenessFailed):
        signer.action_of("garbage")
