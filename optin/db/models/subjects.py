"""Subjects (enrolled people), their consents and their encrypted face templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optin.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import EnrollmentMethod, Language, Purpose, SubjectStatus

if TYPE_CHECKING:
    from optin.db.models.notices import Notice
    from optin.db.models.venues import Venue


class Subject(UUIDPrimaryKey, Timestamps, Base):
    """An enrolled person, known centrally only by a UUIDv7.

    Everything personal about them is encrypted under their own data key (DEK). The DEK is not
    in this database: it lives in the subject key store held apart from it (see
    optin/crypto/subject_keys.py), so that destroying it on deletion makes every copy of their
    ciphertexts unreadable, including the ones in a restored database backup (crypto-shredding).
    """

    __tablename__ = "subjects"
    __table_args__ = (
        # A deleted subject keeps no key and no contact: the shredding cannot be half-done.
        CheckConstraint(
            "status <> 'deleted' OR contact_ciphertext IS NULL",
            name="deleted_is_shredded",
        ),
    )

    locale: Mapped[Language] = mapped_column(str_enum(Language, "locale"))
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[SubjectStatus] = mapped_column(
        str_enum(SubjectStatus, "status"), default=SubjectStatus.ACTIVE
    )
    retention_until: Mapped[datetime] = mapped_column(index=True)
    deleted_at: Mapped[datetime | None]
    enrollment_method: Mapped[EnrollmentMethod | None] = mapped_column(
        str_enum(EnrollmentMethod, "enrollment_method")
    )
    # HMAC of the recovery code shown once at enrollment; the code itself is never stored.
    recovery_code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)

    consents: Mapped[list[Consent]] = relationship(back_populates="subject", lazy="raise")
    face_templates: Mapped[list[FaceTemplate]] = relationship(
        back_populates="subject", lazy="raise"
    )


class Consent(UUIDPrimaryKey, Timestamps, Base):
    """One purpose at one venue, agreed to under one exact notice text.

    The notice's version, language and SHA-256 are copied in so the record (and the signed
    receipt built from it) stands on its own. Withdrawal sets ``withdrawn_at``; a new consent is a
    new row, so the history is kept.
    """

    __tablename__ = "consents"
    __table_args__ = (
        # At most one live consent per subject, purpose and venue.
        Index(
            "uq_consents_active",
            "subject_id",
            "purpose",
            "venue_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        CheckConstraint("length(notice_sha256) = 64", name="notice_sha256_hex"),
        CheckConstraint(
            "withdrawn_at IS NULL OR withdrawn_at >= granted_at", name="withdrawn_after_granted"
        ),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose, "purpose"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"), index=True)
    notice_version: Mapped[int]
    notice_language: Mapped[Language] = mapped_column(str_enum(Language, "notice_language"))
    notice_sha256: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    method: Mapped[str] = mapped_column(String(32))
    # Set when a later notice changed this purpose: gates stop using the consent until the
    # person consents again on the new text.
    renewal_required_at: Mapped[datetime | None]

    subject: Mapped[Subject] = relationship(back_populates="consents", lazy="raise")
    venue: Mapped[Venue] = relationship(lazy="raise")
    notice: Mapped[Notice] = relationship(lazy="raise")


class FaceTemplate(UUIDPrimaryKey, Timestamps, Base):
    """A 128-d face encoding, only ever stored encrypted under the subject's data key.

    There is deliberately no plaintext vector column; the envelope in ``ciphertext`` carries its
    own format version and key id, and its AAD binds subject id, record id and kind.
    """

    __tablename__ = "face_templates"

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    subject: Mapped[Subject] = relationship(back_populates="face_templates", lazy="raise")
