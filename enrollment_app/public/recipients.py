"""Public: the third parties a person may agree to have their data given to.

Nothing goes to any of them without that person's own consent for that recipient (given in the
portal, ``POST /api/v1/portal/provision-consents``); the list is public so anyone can see, before
enrolling, who could ever receive what and why.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from enrollment_app.state import DbSession
from optin.services.provisions import PROVIDABLE, list_recipients


class RecipientsController(Controller):
    tags = ["public"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/api/v1/provision-recipients", summary="Recipients people may consent to provision to")
    async def recipients(self, db_session: DbSession) -> list[dict[str, Any]]:
        return [
            {
                "id": str(r.id),
                "name": r.name,
                "purpose": r.purpose,
                "items": [{"name": i, "what": PROVIDABLE.get(i, i)} for i in r.items],
                "contact": r.contact,
            }
            for r in await list_recipients(db_session, include_retired=False)
        ]
