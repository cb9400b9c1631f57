"""The self-service portal pages: sign-in, the disclosure page, and the signed-out page.

``GET /portal`` and ``GET /portal/sign-in`` (the mailed link) send the browser to its language,
keeping the link's token. ``GET /{lang}/portal/sign-in`` never consumes the token (mail scanners
fetch links): it shows a Sign-in button, and ``static/portal.js`` posts the token (or a recovery
code) to ``POST /api/v1/portal/sign-in``. ``GET /{lang}/portal`` renders, for a live session,
everything ``build_disclosure`` returns (the same document as ``GET /api/v1/portal/me`` and the
export) in plain language; without one, a page that links to sign-in. Every change goes through
the JSON API (enrollment_app/portal/controllers.py) with the CSRF header. When a notice changed
what a purpose means, the page also offers the current notice to read and renew consent on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location
from babel.numbers import format_currency, get_currency_precision
from litestar import Controller, MediaType, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND

from enrollment_app.portal.controllers import SESSION_COOKIE
from enrollment_app.state import DbSession, Services
from enrollment_app.web.controllers import base_context, notice_blocks
from optin.config import OperatorSettings, PaymentSettings
from optin.db.base import utcnow
from optin.db.enums import Language
from optin.errors import Unauthorized
from optin.i18n import HTML_LANG, LANGUAGE_NAMES, SUPPORTED, Translator, messages, negotiate
from optin.i18n import translator as translator_for
from optin.services.disclosure import build_disclosure
from optin.services.notices import current_notices
from optin.services.portal_sessions import current_session
from optin.services.provisions import describe_recipient, list_recipients
from optin.services.venues import venues_by_id, venues_by_slug

#: Link tokens are ``optin_signin_`` plus 43 base64url characters; anything else is not ours.
TOKEN_SHAPE: Final = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
DEFAULT_ZONE: Final = "Asia/Tokyo"

PURPOSES: Final = messages.PURPOSE_NAMES
METHODS: Final = {
    "camera_liveness": messages.METHOD_CAMERA,
    "photo_upload": messages.METHOD_UPLOAD,
}
OUTCOMES: Final = {
    "granted": messages.OUTCOME_GRANTED,
    "no_consent": messages.OUTCOME_NO_CONSENT,
    "no_entitlement": messages.OUTCOME_NO_ENTITLEMENT,
    "refused": messages.OUTCOME_REFUSED,
}
REQUEST_KINDS: Final = {
    "access": messages.REQUEST_KIND_ACCESS,
    "deletion": messages.REQUEST_KIND_DELETION,
    "correction": messages.REQUEST_KIND_CORRECTION,
    "withdrawal": messages.REQUEST_KIND_WITHDRAWAL,
    "objection": messages.REQUEST_KIND_OBJECTION,
}
REQUEST_STATES: Final = {
    "received": messages.REQUEST_RECEIVED,
    "verified": messages.REQUEST_VERIFIED,
    "in_progress": messages.REQUEST_IN_PROGRESS,
    "completed": messages.REQUEST_COMPLETED,
    "rejected": messages.REQUEST_REJECTED,
}
#: What a person can ask the privacy team for from the portal (the rest is self-service).
REQUEST_CHOICES: Final = (
    ("correction", messages.REQUEST_CHOICE_CORRECTION),
    ("objection", messages.REQUEST_CHOICE_OBJECTION),
    ("access", messages.REQUEST_CHOICE_ACCESS),
)
ACTORS: Final = {
    "operator": messages.ACTOR_OPERATOR,
    "system": messages.ACTOR_SYSTEM,
    "gate": messages.ACTOR_GATE,
    "subject": messages.ACTOR_SUBJECT,
}
GALLERY_ACTIONS: Final = {"add": messages.GATES_ADD, "revoke": messages.GATES_REVOKE}
# Strings portal.js shows itself; the server's refusals arrive translated in ``detail``.
_SCRIPT_MESSAGES: Final = {
    "signing-in": messages.SIGNING_IN,
    "link-used": messages.LINK_USED,
    "code-missing": messages.RECOVERY_MISSING,
    "code-wrong": messages.RECOVERY_WRONG,
    "withdrawn": messages.WITHDRAWN_DONE,
    "retention-changed": messages.RETENTION_CHANGED,
    "date-missing": messages.DATE_MISSING,
    "request-missing": messages.REQUEST_MISSING,
    "request-filed": messages.REQUEST_FILED,
    "withdrawal-receipt": messages.DOWNLOAD_WITHDRAWAL_RECEIPT,
    "withdrawal-receipt-note": messages.WITHDRAWAL_RECEIPT_NOTE,
    "renewal-tick": messages.RENEWAL_TICK,
    "renewed": messages.RENEWED_DONE,
    "renewal-receipt": messages.DOWNLOAD_RENEWAL_RECEIPT,
    "renewal-receipt-note": messages.RENEWAL_RECEIPT_NOTE,
    "card-missing": messages.CARD_MISSING,
    "card-refused": messages.CARD_REFUSED,
    "card-saved": messages.CARD_SAVED,
    "card-removed": messages.CARD_REMOVED,
    "pin-missing": messages.PIN_MISSING,
    "pin-mismatch": messages.PIN_MISMATCH,
    "pin-saved": messages.PIN_SAVED,
    "recipient-tick": messages.RECIPIENT_TICK,
    "recipient-agreed": messages.RECIPIENT_AGREED_DONE,
    "recipient-withdrawn": messages.RECIPIENT_WITHDRAWN_DONE,
    "provision-receipt": messages.DOWNLOAD_PROVISION_RECEIPT,
    "provision-receipt-note": messages.PROVISION_RECEIPT_NOTE,
    "error": messages.ERROR_MESSAGES["error"],
}
CHARGE_STATES: Final = {
    "captured": messages.CHARGE_CAPTURED,
    "declined": messages.CHARGE_DECLINED,
    "refused": messages.CHARGE_REFUSED,
    "refunded": messages.REFUNDED,
    "partially_refunded": messages.CHARGE_PARTLY_REFUNDED,
    "pending": messages.CHARGE_OPEN,
    "awaiting_pin": messages.CHARGE_OPEN,
    "processing": messages.CHARGE_OPEN,
}


@dataclass(frozen=True)
class RenewalNotice:
    """The current notice in the page's language, offered to renew consents on."""

    id: str
    version: int
    language: str
    title: str
    body: str
    sha256: str
    purposes: frozenset[str]
    venues: frozenset[str]  # slugs of the venues it names


@dataclass(frozen=True)
class When:
    """A moment shown to the person: ISO 8601 for ``<time datetime>``, and in words."""

    iso: str
    text: str


class Formatter:
    """Dates and times in the page's language, in the time zone of the person's venues."""

    def __init__(self, t: Translator, zone: ZoneInfo) -> None:
        self.t = t
        self.zone = zone

    def when(self, value: str | None) -> When | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value)
        return When(moment.isoformat(), self.t.format_datetime(moment.astimezone(self.zone)))

    def day(self, value: date) -> When:
        return When(value.isoformat(), self.t.format_date(value))


def page_context(lang: str, operator: OperatorSettings, page: str) -> dict[str, Any]:
    """What base.html and portal.js need: language, switcher links (``/{code}/{page}``), the
    contact point, the script's strings and paths."""
    return {**base_context(lang, operator, page), "script_config": _script_config(lang)}


def _script_config(lang: str) -> dict[str, Any]:
    raw = translator_for(lang).as_dict(_SCRIPT_MESSAGES.values())  # unformatted: JS fills in
    return {
        "lang": lang,
        "htmlLang": HTML_LANG[lang],
        "messages": {key: raw[msgid] for key, msgid in _SCRIPT_MESSAGES.items()},
        "pages": {"portal": f"/{lang}/portal", "signedOut": f"/{lang}/portal?signed-out=1"},
        "api": {
            "signIn": "/api/v1/portal/sign-in",
            "signOut": "/api/v1/portal/sign-out",
            "withdraw": "/api/v1/portal/withdraw",
            "renew": "/api/v1/portal/renew",
            "retention": "/api/v1/portal/retention",
            "requests": "/api/v1/portal/requests",
            "delete": "/api/v1/portal/delete",
            "pin": "/api/v1/portal/pin",
            "paymentMethod": "/api/v1/portal/payment-method",
            "removePaymentMethod": "/api/v1/portal/payment-method/remove",
            "provisionConsents": "/api/v1/portal/provision-consents",
        },
    }


def card_tokens_url(payments: PaymentSettings) -> str | None:
    """Where the page sends card details to be tokenised: the provider, never this server."""
    if payments.provider == "sandbox":
        return payments.sandbox_url.rstrip("/") + "/v1/tokens"
    return None


def _headers(lang: str) -> dict[str, str]:
    # Personal data and one-time tokens: never cached, never sent on as a referrer.
    return {
        "Content-Language": HTML_LANG[lang],
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }


def _check_lang(lang: str) -> None:
    if lang not in SUPPORTED:
        raise NotFoundException(f"no portal page in {lang!r}")


def _redirect(path: str) -> Redirect:
    return Redirect(
        path=path,
        status_code=HTTP_302_FOUND,
        headers={"Vary": "Accept-Language", "Cache-Control": "no-store"},
    )


def _language(request: Request[Any, Any, Any]) -> str:
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


class PortalPages(Controller):
    include_in_schema = False

    @get("/portal", status_code=HTTP_302_FOUND, sync_to_thread=False)
    def choose_language(self, request: Request[Any, Any, Any]) -> Redirect:
        """To the portal in the browser's language (``?lang=`` wins), e.g. ``/ja/portal``."""
        return _redirect(f"/{_language(request)}/portal")

    @get("/portal/sign-in", status_code=HTTP_302_FOUND, sync_to_thread=False)
    def sign_in_link(self, request: Request[Any, Any, Any]) -> Redirect:
        """The mailed link: to the sign-in page in the browser's language, token kept."""
        token = request.query_params.get("token")
        query = f"?{urlencode({'token': token})}" if token else ""
        return _redirect(f"/{_language(request)}/portal/sign-in{query}")

    @get("/{lang:str}/portal/sign-in", media_type=MediaType.HTML)
    async def sign_in_page(
        self, lang: FromPath[str], request: Request[Any, Any, Any], services: Services
    ) -> Template:
        _check_lang(lang)
        token = request.query_params.get("token")
        valid = token is not None and TOKEN_SHAPE.fullmatch(token) is not None
        # The switcher keeps the token, so changing language does not lose the link.
        page = f"portal/sign-in?{urlencode({'token': token})}" if valid else "portal/sign-in"
        context = page_context(lang, services.settings.operator, page)
        context.update(token=token if valid else None, link_invalid=token is not None and not valid)
        return Template(
            template_name="portal_sign_in.html",
            context=context,
            status_code=HTTP_200_OK,
            headers=_headers(lang),
        )

    @get("/{lang:str}/portal", media_type=MediaType.HTML)
    async def portal_page(
        self,
        lang: FromPath[str],
        request: Request[Any, Any, Any],
        db_session: DbSession,
        services: Services,
    ) -> Template:
        _check_lang(lang)
        context = page_context(lang, services.settings.operator, "portal")
        try:
            portal = await current_session(
                db_session, services.keys.tokens, request.cookies.get(SESSION_COOKIE)
            )
        except Unauthorized:
            context["signed_out"] = request.query_params.get("signed-out") == "1"
            return Template(
                template_name="portal_signed_out.html",
                context=context,
                status_code=HTTP_200_OK,
                headers=_headers(lang),
            )
        document = await build_disclosure(
            db_session, services.keys, services.settings, portal.subject_id
        )
        slugs = [c["venue"]["slug"] for c in document["consents"]]
        zones = Counter(v.timezone for v in await venues_by_slug(db_session, slugs))
        zone = ZoneInfo(zones.most_common(1)[0][0] if zones else DEFAULT_ZONE)
        renewal = None
        if any(c["renewal_required_at"] and not c["withdrawn_at"] for c in document["consents"]):
            renewal = await _renewal_notice(db_session, lang)
        recipients = [
            describe_recipient(r) for r in await list_recipients(db_session, include_retired=False)
        ]
        context.update(disclosure_view(document, translator_for(lang), zone, renewal, recipients))
        context["script_config"]["payments"] = {
            "tokens": card_tokens_url(services.settings.payments)
        }
        # What we promise on the page is our own target, shorter than the legal deadline.
        context["request_days"] = services.settings.console.request_target_days
        return Template(
            template_name="portal.html",
            context=context,
            status_code=HTTP_200_OK,
            headers=_headers(lang),
        )


async def _renewal_notice(db_session: DbSession, lang: str) -> RenewalNotice | None:
    """The notice in effect now, in the page's language (None before any is published)."""
    current = await current_notices(db_session, Language(lang))
    if not current:
        return None
    notice = current[0]
    named = await venues_by_id(db_session, [UUID(venue_id) for venue_id in notice.venue_ids])
    return RenewalNotice(
        id=str(notice.id),
        version=notice.version,
        language=str(notice.language),
        title=notice.title,
        body=notice.body,
        sha256=notice.text_sha256,
        purposes=frozenset(notice.purposes),
        venues=frozenset(venue.slug for venue in named),
    )


def disclosure_view(
    document: dict[str, Any],
    t: Translator,
    zone: ZoneInfo,
    renewal: RenewalNotice | None = None,
    recipients: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The disclosure document in the page's words: labels translated, times formatted.

    ``renewal`` is the current notice, for consents a change of purpose set aside: each one it
    covers gets a renewal form, the others can only be withdrawn. ``recipients`` are the third
    parties one may agree to provision to (``describe_recipient``), each offered with a form.
    """
    f = Formatter(t, zone)
    subject = document["subject"]
    venue_names = {c["venue"]["slug"]: c["venue"]["name"] for c in document["consents"]}

    def venue(slug: str) -> str:
        return str(venue_names.get(slug, slug))

    def label(table: Mapping[str, str], value: str | None) -> str:
        return _label(t, table, value)

    consents = []
    for number, consent in enumerate(document["consents"], start=1):
        notice = consent["notice"]
        purpose = label(PURPOSES, consent["purpose"])
        # Set aside by a change of purpose, and not withdrawn since.
        waiting = consent["withdrawn_at"] is None and consent["renewal_required_at"] is not None
        consents.append(
            {
                "number": number,
                "purpose": consent["purpose"],
                "venue": consent["venue"]["slug"],
                "title": t.gettext(
                    messages.CONSENT_AT, purpose=purpose, venue=consent["venue"]["name"]
                ),
                "granted": f.when(consent["granted_at"]),
                "withdrawn": f.when(consent["withdrawn_at"]),
                "renewal_required": f.when(consent["renewal_required_at"]) if waiting else None,
                "renewable": waiting
                and renewal is not None
                and consent["purpose"] in renewal.purposes
                and consent["venue"]["slug"] in renewal.venues,
                "notice": {
                    "title": notice["title"],
                    "version": notice["version"],
                    "language": LANGUAGE_NAMES.get(notice["language"], notice["language"]),
                    "tag": HTML_LANG.get(notice["language"], notice["language"]),
                    "sha256": notice["sha256"],
                    "blocks": notice_blocks(notice["text"]),
                },
            }
        )
    deadline = datetime.fromisoformat(subject["retention_until"]).date()
    today = utcnow().date()
    latest = deadline - timedelta(days=1)
    return {
        "zone_name": get_timezone_location(zone, locale=t.locale),
        "subject": {
            "email": subject["contact"]["email"],
            "language": LANGUAGE_NAMES.get(subject["locale"], subject["locale"]),
            "enrolled": f.when(subject["enrolled_at"]),
            "method": label(METHODS, subject["enrollment_method"]),
            "pseudonym": subject["receipt_pseudonym"],
        },
        "consents": consents,
        "live_consents": sum(1 for c in consents if c["withdrawn"] is None),
        "renewal": _renewal_view(renewal, [c for c in consents if c["renewable"]]),
        "retention": {
            "deadline": f.day(deadline),
            # A date strictly earlier than the deadline, from today on (the API's rule).
            "min": today.isoformat(),
            "max": latest.isoformat() if latest >= today else None,
        },
        "templates": [
            {"model": tpl["model"], "created": f.when(tpl["created_at"])}
            for tpl in document["face_templates"]
        ],
        "entitlements": [
            {
                "product": e["product"],
                "venue": venue(e["venue"]),
                "valid_from": f.when(e["valid_from"]),
                "valid_until": f.when(e["valid_until"]),
            }
            for e in document["entitlements"]
        ],
        "events": [
            {
                "when": f.when(e["occurred_at"]),
                "venue": venue(e["venue"]),
                "gate": e["gate"],
                "purpose": label(PURPOSES, e["purpose"]),
                "outcome": label(OUTCOMES, e["outcome"]),
            }
            for e in document["events"]
        ],
        "requests": [
            {
                "kind": label(REQUEST_KINDS, r["kind"]),
                "status": label(REQUEST_STATES, r["status"]),
                "received": f.when(r["received_at"]),
                "due": f.when(r["due_at"]),
                "closed": f.when(r["closed_at"]),
                "outcome": r["outcome"],
            }
            for r in document["privacy_requests"]
        ],
        "request_choices": [(value, t.gettext(msgid)) for value, msgid in REQUEST_CHOICES],
        "accesses": [
            {
                "when": f.when(a["when"]),
                "who": label(ACTORS, a["who"]),
                "action": a["action"],
                "reason": a["reason"],
            }
            for a in document["operator_accesses"]
        ],
        "venue_records": [
            {
                "venue": venue(r["venue"]),
                "pseudonym": r["pseudonym"],
                "changes": [
                    {"action": label(GALLERY_ACTIONS, c["action"]), "at": f.when(c["at"])}
                    for c in r["gallery_changes"]
                ],
            }
            for r in document["venue_records"]
        ],
        "provisions": [
            {
                "when": f.when(given["provided_at"]),
                "recipient": given["recipient"],
                "basis": t.gettext(messages.PROVISION_BY_CONSENT)
                if given["basis"] == "consent"
                else t.gettext(
                    messages.PROVISION_BY_LAW, reference=given["basis_reference"] or "—"
                ),
                "what": _items(t, given["items"]),
            }
            for given in document["third_party_provisions"]
        ],
        "recipients": _recipients_view(recipients, document["provision_consents"], t, f),
        "payment": _payment_view(document, t, f, venue),
    }


def _items(t: Translator, names: Sequence[str]) -> list[str]:
    """Register items in the person's words (an unknown one as its register name)."""
    return [_label(t, messages.PROVISION_ITEMS, name) for name in names]


def _label(t: Translator, table: Mapping[str, str], value: str | None) -> str:
    """A stored code in the page's words; an unknown code as it is."""
    return t.gettext(table[value]) if value is not None and value in table else (value or "")


def _recipients_view(
    recipients: Sequence[Mapping[str, Any]],
    consents: Sequence[Mapping[str, Any]],
    t: Translator,
    f: Formatter,
) -> list[dict[str, Any]]:
    """One card per recipient one may agree to, plus any retired one still agreed to (so the
    agreement can be withdrawn): who, what, why, the live agreement and earlier ones."""
    history: dict[str, list[Mapping[str, Any]]] = {}
    for consent in consents:
        history.setdefault(consent["recipient_id"], []).append(consent)
    offered = {r["id"]: r for r in recipients}
    retired = {
        c["recipient_id"]: {
            "id": c["recipient_id"],
            "name": c["recipient"],
            "purpose": c["purpose"],
            "items": c["items"],
            "contact": None,
        }
        for c in consents
        if c["withdrawn_at"] is None and c["recipient_id"] not in offered
    }
    cards = []
    for number, recipient in enumerate([*recipients, *retired.values()], start=1):
        mine = history.get(recipient["id"], [])
        live = next((c for c in mine if c["withdrawn_at"] is None), None)
        cards.append(
            {
                "number": number,
                "id": recipient["id"],
                "name": recipient["name"],
                "purpose": recipient["purpose"],
                "contact": recipient["contact"],
                "receives": _items(t, recipient["items"]),
                "retired": recipient["id"] in retired,
                "agreed": f.when(live["granted_at"]) if live else None,
                "earlier": [
                    {"granted": f.when(c["granted_at"]), "withdrawn": f.when(c["withdrawn_at"])}
                    for c in mine
                    if c["withdrawn_at"] is not None
                ],
            }
        )
    return cards


def _money(t: Translator, amount_minor: int, currency: str) -> str:
    """An amount in minor units, as the page's language writes it (JPY has no minor unit)."""
    digits = get_currency_precision(currency)
    return format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=t.locale)


def _payment_view(
    document: dict[str, Any], t: Translator, f: Formatter, venue: Callable[[str], str]
) -> dict[str, Any]:
    """Payment consent, the card on file, the PIN's state and the person's payments."""
    live = [
        c for c in document["consents"] if c["purpose"] == "payment" and c["withdrawn_at"] is None
    ]
    usable = sorted({c["venue"]["name"] for c in live if c["renewal_required_at"] is None})
    payments = document["payments"]
    card = next((m for m in payments["methods"] if m["removed_at"] is None), None)
    pin = payments["pin"]
    locked = f.when(pin["locked_until"])
    if locked is not None and datetime.fromisoformat(pin["locked_until"]) <= utcnow():
        locked = None
    return {
        "consent": "active" if usable else ("renewal" if live else "none"),
        "venues": ", ".join(usable),
        "card": {"label": card["label"], "added": f.when(card["added_at"])} if card else None,
        "pin_set": pin["set"],
        "pin_locked_until": locked,
        "charges": [
            {
                "when": f.when(c["at"]),
                "venue": venue(c["venue"]),
                "item": c["item"],
                "amount": _money(t, c["amount_minor"], c["currency"]),
                "status": t.gettext(CHARGE_STATES.get(c["status"], messages.CHARGE_OPEN)),
                "refunded": _money(t, c["refunded_minor"], c["currency"])
                if c["refunded_minor"]
                else None,
            }
            for c in reversed(payments["charges"])  # newest first
        ],
    }


def _renewal_view(
    renewal: RenewalNotice | None, renewable: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The current notice, in full, above the consents to renew on it (None: nothing to renew)."""
    if renewal is None or not renewable:
        return None
    return {
        "notice": {
            "id": renewal.id,
            "title": renewal.title,
            "version": renewal.version,
            "language": LANGUAGE_NAMES.get(renewal.language, renewal.language),
            "tag": HTML_LANG.get(renewal.language, renewal.language),
            "sha256": renewal.sha256,
            "blocks": notice_blocks(renewal.body),
        },
        "consents": renewable,
    }
