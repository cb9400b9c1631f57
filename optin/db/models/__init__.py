"""Every mapped table. Importing this package registers them all on ``Base.metadata``."""

from optin.db.base import Base
from optin.db.models.access import PortalSession, SignInLink
from optin.db.models.audit import AuditCheckpoint, AuditEntry, AuditHead
from optin.db.models.entitlements import Entitlement, EntryProduct
from optin.db.models.events import Event
from optin.db.models.mail_queue import QueuedMail
from optin.db.models.notices import Notice
from optin.db.models.operators import Operator, OperatorDevice, OperatorSession
from optin.db.models.payments import Charge, LedgerEntry, PaymentMethod, PaymentPin
from optin.db.models.privacy_requests import PrivacyRequest
from optin.db.models.provisions import Provision, ProvisionConsent, ProvisionRecipient
from optin.db.models.subjects import Consent, FaceTemplate, Subject
from optin.db.models.venues import Gate, Venue, VenueChange

__all__ = [
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Charge",
    "Consent",
    "Entitlement",
    "EntryProduct",
    "Event",
    "FaceTemplate",
    "Gate",
    "LedgerEntry",
    "Notice",
    "Operator",
    "OperatorDevice",
    "OperatorSession",
    "PaymentMethod",
    "PaymentPin",
    "PortalSession",
    "PrivacyRequest",
    "Provision",
    "ProvisionConsent",
    "ProvisionRecipient",
    "QueuedMail",
    "SignInLink",
    "Subject",
    "Venue",
    "VenueChange",
]
