"""Privacy notice texts as data: one template per language, filled in and fingerprinted.

The Guidebook asks a notice to name the responsible operator and one contact point, the purposes,
the places of capture, whether people are identified, what is kept and for how long (also what
is kept, unlinked from the person, after deletion), what
happens to people who have not joined, how to see, withdraw and delete, the alternative that
stays available, third-party provision and the security measures. Each language's template in
``texts/`` covers all of them; ``render_notice`` refuses to produce a notice with any of its
fields empty, and a notice is published in all four languages or not at all.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from optin.config import Settings
from optin.db.enums import Language, Purpose
from optin.errors import InvalidInput

TEXTS: Final = Path(__file__).parent / "texts"
LANGUAGES: Final = tuple(Language)

PURPOSE_NAMES: Final[Mapping[Language, Mapping[Purpose, str]]] = {
    Language.JA: {Purpose.ENTRY: "チケット不要の入場", Purpose.PAYMENT: "顔認証によるお支払い"},
    Language.EN: {Purpose.ENTRY: "entry without a ticket", Purpose.PAYMENT: "payment by face"},
    Language.ZH: {Purpose.ENTRY: "无需门票入场", Purpose.PAYMENT: "刷脸支付"},
    Language.KO: {Purpose.ENTRY: "티켓 없는 입장", Purpose.PAYMENT: "얼굴 인식 결제"},
}
_LIST_SEPARATOR: Final = {
    Language.JA: "、",
    Language.EN: ", ",
    Language.ZH: "、",
    Language.KO: ", ",
}
#: The section a version that changes purposes opens with: heading, then text. ``{changed}`` is
#: the purposes changed, ``{portal_url}`` where to agree again. Not part of the per-language
#: templates, which stay the same for every version.
_CHANGE_SECTION: Final[Mapping[Language, tuple[str, str]]] = {
    Language.JA: (
        "この版での変更点",
        "この版では「{changed}」の内容を変更します。以前の版でこの目的に同意された方の同意は、"
        "この版の適用開始から、ポータル（{portal_url}）で改めて同意いただくまでゲートで使われま"
        "せん。代わりに撤回することもできます。そのほかの内容は変わりません。",
    ),
    Language.EN: (
        "What changes in this version",
        "This version changes what {changed} means. If you agreed to it on an earlier version, "
        "the gates stop using that consent once this version applies, until you agree again in "
        "the portal ({portal_url}). You can also withdraw it instead. Nothing else changes.",
    ),
    Language.ZH: (
        "本版本的变更",
        "本版本变更了“{changed}”的含义。如您曾在以前的版本中同意此用途，自本版本生效起，闸机将停止"
        "使用该同意，直到您在门户（{portal_url}）中重新同意。您也可以改为撤回该同意。其他内容不变。",
    ),
    Language.KO: (
        "이번 버전의 변경 사항",
        "이번 버전에서 '{changed}'의 의미가 바뀝니다. 이전 버전에서 이 목적에 동의하셨다면, 이번 "
        "버전이 적용되는 때부터 포털({portal_url})에서 다시 동의하실 때까지 게이트는 그 동의를 "
        "사용하지 않습니다. 대신 동의를 철회하실 수도 있습니다. 그 밖의 내용은 바뀌지 않습니다.",
    ),
}
#: The ``RetentionSettings`` periods the notice states for what is kept after deletion, filled
#: in from the settings like ``grace_days`` so the text cannot drift from what the sweep does.
RETENTION_FIELDS: Final = (
    "event_days",
    "venue_change_days",
    "provision_years",
    "bookkeeping_years",
    "privacy_request_years",
)
_REQUIRED: Final = frozenset(
    {
        *RETENTION_FIELDS,
        "operator_name",
        "contact_email",
        "contact_phone",
        "contact_address",
        "purposes",
        "venue_list",
        "grace_days",
        "portal_url",
    }
)


@dataclass(frozen=True)
class NoticeVenue:
    name: str
    slug: str


@dataclass(frozen=True)
class RenderedNotice:
    language: Language
    title: str
    body: str

    @property
    def sha256(self) -> str:
        return notice_sha256(self.title, self.body)


def notice_sha256(title: str, body: str) -> str:
    """The fingerprint a consent cites: SHA-256 of the title, a blank line and the body."""
    return hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()


@cache
def _template(language: Language) -> tuple[str, str]:
    raw = (TEXTS / f"{language.value}.txt").read_text(encoding="utf-8")
    title, _, body = raw.partition("\n---\n")
    fields = {name for _, name, _, _ in string.Formatter().parse(raw) if name}
    if fields != _REQUIRED:
        raise InvalidInput(
            f"notice template {language.value} has fields {sorted(fields)}, "
            f"expected {sorted(_REQUIRED)}"
        )
    return title.strip(), body.strip()


def render_notice(
    language: Language,
    settings: Settings,
    purposes: Sequence[Purpose],
    venues: Sequence[NoticeVenue],
    changed: Sequence[Purpose] = (),
) -> RenderedNotice:
    """Fill one language's template; refuse if any required field would be empty.

    A version that changes purposes (``changed``) opens with a section saying which, and that
    consent given on an earlier version for them has to be given again.
    """
    operator = settings.operator
    values = {
        "operator_name": operator.legal_name,
        "contact_email": operator.contact_email,
        "contact_phone": operator.contact_phone,
        "contact_address": operator.contact_address,
        "purposes": _LIST_SEPARATOR[language].join(
            PURPOSE_NAMES[language][purpose] for purpose in purposes
        ),
        "venue_list": "\n".join(f"- {venue.name} ({venue.slug})" for venue in venues),
        "grace_days": str(settings.enrollment.retention_grace_days),
        "portal_url": f"{settings.base_url}/portal",
        **{name: str(getattr(settings.retention, name)) for name in RETENTION_FIELDS},
    }
    empty = sorted(name for name, value in values.items() if not value.strip())
    if empty:
        raise InvalidInput(
            f"a notice cannot be published with empty fields: {', '.join(empty)}", fields=empty
        )
    title, body = _template(language)
    text = body.format_map(values)
    if changed:
        heading, template = _CHANGE_SECTION[language]
        names = _LIST_SEPARATOR[language].join(PURPOSE_NAMES[language][p] for p in changed)
        section = template.format(changed=names, portal_url=values["portal_url"])
        text = f"{heading}\n{section}\n\n{text}"
    return RenderedNotice(language, title.format_map(values), text)
