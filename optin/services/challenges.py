"""Liveness challenges: a random action, handed to the browser in a signed, short-lived token.

The token carries the action and its expiry, authenticated with an HMAC under a key derived from
the master keyring, so the server keeps no state between handing out a challenge and judging the
frames; the browser cannot pick an easier action or extend the deadline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final

from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.crypto.keys import KeyProvider
from optin.errors import LivenessFailed
from optin.faces.liveness import Challenge, issue_challenge

CHALLENGE_TTL_SECONDS: Final = 180
FRAMES_REQUESTED: Final = 8
FRAME_INTERVAL_MS: Final = 250
_INFO: Final = b"optin/liveness-challenge/v1"


@dataclass(frozen=True)
class IssuedChallenge:
    token: str
    action: Challenge
    frames: int
    interval_ms: int
    expires_in: int


class SpentChallenges:
    """Nonces of challenges already used, until they would have expired anyway.

    A challenge answers one capture: replaying a recorded answer with the same token fails.
    Kept in memory per process (with several workers, a token could be spent once per worker
    within its three minutes; a shared store would close that).
    """

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def spend(self, nonce: str, expires: float) -> bool:
        """Record the nonce; False if it was spent already."""
        now = time.time()
        with self._lock:
            for old in [n for n, exp in self._spent.items() if exp < now]:
                del self._spent[old]
            if nonce in self._spent:
                return False
            self._spent[nonce] = expires
            return True


spent_challenges = SpentChallenges()


class ChallengeSigner:
    def __init__(self, master_keys: KeyProvider) -> None:
        self._key = master_keys.derive_subkey(_INFO)

    def issue(self) -> IssuedChallenge:
        action = issue_challenge()
        claims = {
            "a": str(action),
            "exp": int(time.time()) + CHALLENGE_TTL_SECONDS,
            "n": secrets.token_urlsafe(12),
        }
        payload = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        token = f"{payload}.{self._mac(payload)}"
        return IssuedChallenge(
            token, action, FRAMES_REQUESTED, FRAME_INTERVAL_MS, CHALLENGE_TTL_SECONDS
        )

    def action_of(self, token: str) -> Challenge:
        """The action a genuine, unexpired, unused token asks for (and spend it);
        ``LivenessFailed`` otherwise."""
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise LivenessFailed("the liveness challenge is not valid", reason="bad-challenge")
        try:
            claims = json.loads(b64url_decode(payload))
            action = Challenge(claims["a"])
            expires = int(claims["exp"])
            nonce = str(claims["n"])
        except (ValueError, KeyError, TypeError):
            raise LivenessFailed(
                "the liveness challenge is not valid", reason="bad-challenge"
            ) from None
        if expires < time.time():
            raise LivenessFailed(
                "the liveness challenge expired; please try again", reason="challenge-expired"
            )
        if not spent_challenges.spend(nonce, expires):
            raise LivenessFailed(
                "this liveness challenge was used already; please try again",
                reason="challenge-expired",
            )
        return action

    def _mac(self, payload: str) -> str:
        return b64url_encode(hmac.digest(self._key, payload.encode(), hashlib.sha256))
