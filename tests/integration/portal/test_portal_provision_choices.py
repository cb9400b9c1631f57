"""The portal page's third-party choices, served by the app over HTTP: offered recipients with an
unticked box each; a recipient retired after the person agreed stays on the page, only to be
withdrawn from; once withdrawn, a retired recipient is no longer offered."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from optin.i18n import messages, translator
from optin.services.provisions import register_recipient, retire_recipient

from support.enrollment_world import EnrollmentWorld


async def _recipient(world: EnrollmentWorld, name: str) -> str:
    async def work(session: Any) -> str:
        recipient = await register_recipient(
            session, name=name, purpose=f"{name} purpose", items=["events"], contact="x@y.example"
        )
        return str(recipient.id)

    result: str = await world.in_db(work)
    return result


async def _page(world: EnrollmentWorld) -> str:
    response = await world.client.get("/ko/portal")
    assert response.status_code == 200, response.text
    return response.text


async def test_a_retired_recipient_stays_only_while_agreed_to(world: EnrollmentWorld) -> None:
    t = translator("ko")
    enrolled = await world.enroll()
    signed = await world.client.post(
        "/api/v1/portal/sign-in", json={"recovery_code": enrolled["recovery_code"]}
    )
    csrf = {"x-csrf-token": signed.json()["csrf_token"]}
    insurer = await _recipient(world, "Insurer")
    clinic = await _recipient(world, "Clinic")

    page = await _page(world)
    assert page.count('class="recipient-form"') == 2
    assert t.gettext(messages.PROVISION_ITEMS["events"]) in page
    assert "checked" not in page.replace("aria-invalid", "")

    agreed = await world.client.post(
        "/api/v1/portal/provision-consents",
        json={"recipient_id": insurer, "consent": True},
        headers=csrf,
    )
    assert agreed.status_code == 200, agreed.text
    await world.in_db(lambda session: retire_recipient(session, UUID(insurer)))
    await world.in_db(lambda session: retire_recipient(session, UUID(clinic)))

    # The retired insurer is still agreed to: shown, with its withdraw button and a note.
    page = await _page(world)
    assert 'class="recipient-form"' not in page
    assert page.count('data-action="recipient-withdraw"') == 1
    assert t.gettext(messages.RECIPIENT_WITHDRAW_BUTTON, recipient="Insurer") in page
    assert t.gettext(messages.RECIPIENT_RETIRED) in page
    assert "Clinic purpose" not in page

    withdrawn = await world.client.post(
        "/api/v1/portal/provision-consents",
        json={"recipient_id": insurer, "consent": False},
        headers=csrf,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    page = await _page(world)
    assert 'data-action="recipient-withdraw"' not in page
    assert t.gettext(messages.NO_RECIPIENTS) in page
