"""Operator roles and what each may do: least privilege, written down in one table.

Administrators run the system but never see a person's data; privacy officers handle requests
and subject data, and are the only ones who hand data to third parties (law-enforcement releases
included); venue staff see their own venue's gates, events and suppressed statistics, never
biometric or contact data; auditors read the audit log and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from optin.db.enums import OperatorRole


class Permission(StrEnum):
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_VENUES = "manage_venues"  # venues, gates, entry products, notices
    MANAGE_KEYS = "manage_keys"
    VIEW_GATES = "view_gates"  # venue staff: their own venue only
    REVOKE_GATES = "revoke_gates"  # venue staff: their own venue only
    VIEW_EVENTS = "view_events"  # venue staff: their own venue only
    HANDLE_REQUESTS = "handle_requests"
    VIEW_SUBJECTS = "view_subjects"
    EXPORT_SUBJECTS = "export_subjects"
    CHANGE_SUBJECTS = "change_subjects"  # withdraw or erase on a person's behalf
    READ_AUDIT = "read_audit"
    VIEW_SESSIONS = "view_sessions"  # who is signed in, from which device, for how long
    VIEW_CHARGES = "view_charges"  # a venue's charges, never who paid; venue staff: their own
    REFUND_CHARGES = "refund_charges"  # venue staff: their own venue only
    VIEW_STATISTICS = "view_statistics"  # suppressed counts; venue staff: their own venue only
    MANAGE_RECIPIENTS = "manage_recipients"  # third parties people may consent to
    PROVIDE_DATA = "provide_data"  # to a recipient the person consented to; the record of it
    RELEASE_TO_LAW_ENFORCEMENT = "release_to_law_enforcement"  # privacy officers only


P = Permission

ROLE_PERMISSIONS: Final[Mapping[OperatorRole, frozenset[Permission]]] = {
    OperatorRole.ADMINISTRATOR: frozenset(
        {
            P.MANAGE_OPERATORS,
            P.MANAGE_VENUES,
            P.MANAGE_KEYS,
            P.VIEW_GATES,
            P.REVOKE_GATES,
            P.VIEW_SESSIONS,
            P.VIEW_CHARGES,
            P.REFUND_CHARGES,
            P.VIEW_STATISTICS,
            P.MANAGE_RECIPIENTS,
        }
    ),
    OperatorRole.PRIVACY_OFFICER: frozenset(
        {
            P.HANDLE_REQUESTS,
            P.VIEW_SUBJECTS,
            P.EXPORT_SUBJECTS,
            P.CHANGE_SUBJECTS,
            P.PROVIDE_DATA,
            P.RELEASE_TO_LAW_ENFORCEMENT,
        }
    ),
    OperatorRole.VENUE_STAFF: frozenset(
        {
            P.VIEW_GATES,
            P.REVOKE_GATES,
            P.VIEW_EVENTS,
            P.VIEW_CHARGES,
            P.REFUND_CHARGES,
            P.VIEW_STATISTICS,
        }
    ),
    OperatorRole.AUDITOR: frozenset({P.READ_AUDIT, P.VIEW_SESSIONS}),
}

#: Permissions a venue_staff account holds only for its own venue.
VENUE_SCOPED: Final = frozenset(
    {
        P.VIEW_GATES,
        P.REVOKE_GATES,
        P.VIEW_EVENTS,
        P.VIEW_CHARGES,
        P.REFUND_CHARGES,
        P.VIEW_STATISTICS,
    }
)


def allows(role: OperatorRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
