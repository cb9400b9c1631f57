"""error_message: a human message for every error code and reason, in every language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optin import errors
from optin.errors import FaceQualityRejected, ImageRejected, OptinError
from optin.faces import BLURRY, CUT_OFF, NO_FACE, SEVERAL_FACES, TOO_SMALL
from optin.i18n import SUPPORTED, describe_error, error_message, translator
from optin.i18n.messages import ERROR_MESSAGES, REASON_MESSAGES

# What the enrollment API needs besides the codes in optin/errors.py (the brief's list).
REQUIRED_CODES = {
    "consent-required",
    "notice-outdated",
    "unknown-venue",
    "invalid-email",
    "already-enrolled",
    "liveness-failed",
    "upload-too-large",
    "invalid-trip-dates",
    "mail-failed",
}
REQUIRED_REASONS = {
    # optin/faces: reading the image, then the quality gate
    "unreadable",
    "not-an-image",
    "too-large",
    NO_FACE,
    SEVERAL_FACES,
    TOO_SMALL,
    CUT_OFF,
    BLURRY,
    # liveness
    "no-movement",
    "wrong-direction",
    "different-people",
    "too-few-frames",
}


def _subclasses(cls: type[OptinError]) -> Iterator[type[OptinError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def domain_codes() -> set[str]:
    assert errors.OptinError is OptinError
    return {OptinError.code} | {cls.code for cls in _subclasses(OptinError)}


def test_every_domain_error_code_has_a_message() -> None:
    missing = domain_codes() - set(ERROR_MESSAGES)
    assert not missing, f"add to ERROR_MESSAGES in optin/i18n/messages.py: {sorted(missing)}"


def test_required_codes_and_reasons_have_messages() -> None:
    assert not REQUIRED_CODES - set(ERROR_MESSAGES)
    assert not REQUIRED_REASONS - set(REASON_MESSAGES)


def test_liveness_reasons_have_messages() -> None:
    liveness = pytest.importorskip("optin.faces.liveness")
    reasons = set(getattr(liveness, "MESSAGES", {})) - {"ok"}
    assert reasons <= set(REASON_MESSAGES), sorted(reasons - set(REASON_MESSAGES))


@pytest.mark.parametrize("lang", SUPPORTED)
def test_error_message_for_every_code_and_reason(lang: str) -> None:
    t = translator(lang)
    for code in sorted(domain_codes() | set(ERROR_MESSAGES)):
        message = error_message(code, lang)
        assert message.strip()
        assert message == t.gettext(ERROR_MESSAGES[code])
        if lang != "en":
            assert message != ERROR_MESSAGES[code], f"{lang}/{code} is not translated"
    for reason, msgid in REASON_MESSAGES.items():
        message = error_message("face-quality", lang, reason=reason)
        assert message == t.gettext(msgid)
        if lang != "en":
            assert message != msgid, f"{lang}/{reason} is not translated"


def test_reason_wins_over_code_and_unknowns_fall_back() -> None:
    assert (
        error_message("liveness-failed", "en", reason="no-movement")
        == (REASON_MESSAGES["no-movement"])
    )
    # A reason without its own message falls back to its code's message.
    assert (
        error_message("invalid-input", "en", reason="unknown-field")
        == (ERROR_MESSAGES["invalid-input"])
    )
    # A reason code asked for directly.
    assert error_message("face-blurry", "ja") == translator("ja").gettext(
        REASON_MESSAGES["face-blurry"]
    )
    # Never raises while an error is being reported.
    assert error_message("no-such-code", "ko") == translator("ko").gettext(ERROR_MESSAGES["error"])
    assert error_message("no-such-code", "xx") == ERROR_MESSAGES["error"]


def test_describe_error_uses_the_reason_it_carries() -> None:
    blurry = FaceQualityRejected("the face is too blurred", reason=BLURRY)
    assert describe_error(blurry, "zh") == translator("zh").gettext(REASON_MESSAGES[BLURRY])
    rejected = ImageRejected("unreadable image (truncated)", reason="unreadable")
    assert describe_error(rejected, "ko") == translator("ko").gettext(REASON_MESSAGES["unreadable"])
    plain = errors.NotFound("no such subject")
    assert describe_error(plain, "ja") == translator("ja").gettext(ERROR_MESSAGES["not-found"])


def test_already_enrolled_reveals_nothing_else() -> None:
    for lang in SUPPORTED:
        message = error_message("already-enrolled", lang)
        assert "@" not in message
        assert "%(" not in message
