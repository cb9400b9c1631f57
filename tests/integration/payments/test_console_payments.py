"""Console payments: venue settings (administrators), charges and refunds (venue staff too)."""

from __future__ import annotations

from sqlalchemy import select

from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChargeStatus, LedgerKind, OperatorRole
from optin.db.models import AuditEntry

from support.console_world import ConsoleWorld
from support.payment_world import HOTEL, PaymentWorld

C = "/api/v1/console"


async def _audit(payment_world: PaymentWorld, action: str) -> list[AuditEntry]:
    engine = create_engine(payment_world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
            return list(rows.all())
    finally:
        await engine.dispose()


async def test_administrators_set_currency_and_pin_limit(payment_world: PaymentWorld) -> None:
    console = ConsoleWorld(payment_world.world)
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(admin) as operator:
        shown = (await operator.get(f"{C}/venues/{HOTEL}/payment-settings")).json()
        assert shown == {"venue": HOTEL, "currency": "JPY", "pin_above_minor": 3000}
        bad = await operator.patch(f"{C}/venues/{HOTEL}/payment-settings", {"currency": "XXQ"})
        assert bad.status_code == 400
        changed = await operator.patch(
            f"{C}/venues/{HOTEL}/payment-settings", {"pin_above_minor": 10000}
        )
        assert changed.json()["pin_above_minor"] == 10000
    (entry,) = await _audit(payment_world, "venue.payment_settings_changed")
    assert entry.details["pin_above_minor"] == 10000

    payer = await payment_world.payer()
    # Below the new limit: no PIN asked.
    assert (await payment_world.charge(payer.ref, 5000)).json()["status"] == "captured"


async def test_venue_staff_list_and_refund_their_venues_charges(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    captured = (await payment_world.charge(payer.ref, 1200, "k-refund")).json()
    console = ConsoleWorld(payment_world.world)
    staff = await console.account(OperatorRole.VENUE_STAFF, "hotel-staff", venue=HOTEL)
    other = await console.account(OperatorRole.VENUE_STAFF, "park-staff", venue="adventure-park")

    async with console.signed_in(other) as operator:
        assert (await operator.get(f"{C}/venues/{HOTEL}/charges")).status_code == 403
        refused = await operator.post(
            f"{C}/venues/{HOTEL}/charges/{captured['charge_id']}/refund",
            {"reason": "not my venue"},
        )
        assert refused.status_code == 403

    async with console.signed_in(staff) as operator:
        listing = await operator.get(f"{C}/venues/{HOTEL}/charges")
        assert listing.status_code == 200
        (row,) = listing.json()
        assert (row["id"], row["amount_minor"], row["status"], row["gate"]) == (
            captured["charge_id"],
            1200,
            "captured",
            "Till",
        )
        # Never who paid.
        assert str(payer.subject_id) not in listing.text
        assert payer.ref not in listing.text

        refund_url = f"{C}/venues/{HOTEL}/charges/{captured['charge_id']}/refund"
        assert (await operator.post(refund_url, {"amount_minor": 500})).status_code == 400
        no_reason = await operator.post(refund_url, {"amount_minor": 500, "reason": ""})
        assert no_reason.status_code == 400
        partial = await operator.post(
            refund_url, {"amount_minor": 500, "reason": "towel returned unused"}
        )
        assert partial.status_code == 200, partial.text
        assert (partial.json()["status"], partial.json()["refunded_minor"]) == (
            "partially_refunded",
            500,
        )
        too_much = await operator.post(refund_url, {"amount_minor": 701, "reason": "again"})
        assert too_much.status_code == 400

        # An outage leaves the books as they were; the same refund then goes through once.
        payment_world.sandbox.control(fail_next=1)
        outage = await operator.post(refund_url, {"reason": "the rest, guest left early"})
        assert outage.status_code == 503
        rest = await operator.post(refund_url, {"reason": "the rest, guest left early"})
        assert rest.status_code == 200, rest.text
        assert (rest.json()["status"], rest.json()["refunded_minor"]) == ("refunded", 1200)
        done = await operator.post(refund_url, {"reason": "once more"})
        assert done.status_code == 409

    (paid,) = payment_world.sandbox.payments()
    assert paid["refunded_minor"] == 1200
    assert [r["amount_minor"] for r in paid["refunds"]] == [500, 700]
    (charge,), ledger = await payment_world.rows()
    assert (charge.status, charge.refunded_minor) == (ChargeStatus.REFUNDED, 1200)
    assert [(e.kind, e.amount_minor) for e in ledger] == [
        (LedgerKind.AUTHORIZATION, 1200),
        (LedgerKind.CAPTURE, 1200),
        (LedgerKind.REFUND, 500),
        (LedgerKind.FAILURE, 700),
        (LedgerKind.REFUND, 700),
    ]
    audited = await _audit(payment_world, "charge.refunded")
    assert [(a.reason, a.details["amount_minor"]) for a in audited] == [
        ("towel returned unused", 500),
        ("the rest, guest left early", 700),
    ]
    assert {a.subject_ref for a in audited} == {str(payer.subject_id)}

    # The person sees the refund and who made it.
    await payment_world.sign_in(payer.recovery_code)
    me = (await payment_world.portal("GET", "me")).json()
    (seen,) = me["payments"]["charges"]
    assert (seen["status"], seen["refunded_minor"]) == ("refunded", 1200)
    assert [a["action"] for a in me["operator_accesses"]].count("charge.refunded") == 2
