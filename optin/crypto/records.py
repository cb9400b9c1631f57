"""Encrypting one database record under a subject's data key, bound to where it is stored.

The AAD names the record kind, the subject and the record id, so a ciphertext copied to another
row (another template, another subject, or from a template column into a contact column) fails
to decrypt instead of silently yielding someone else's data.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from uuid import UUID

from optin.crypto.data_keys import DataKey
from optin.crypto.envelope import BytesLike, open_envelope, peek_key_id, seal
from optin.errors import CryptoError

_AAD_DOMAIN: Final = b"optin/record/v1\x00"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")


class RecordKind(StrEnum):
    """The kinds sealed today; any ``[a-z][a-z0-9_]*`` string is accepted for new ones."""

    FACE_TEMPLATE = "face_template"
    SUBJECT_CONTACT = "subject_contact"


@dataclass(frozen=True)
class RecordRef:
    """Where a ciphertext belongs: ``kind`` of record, owning subject, and the record's id."""

    kind: str
    subject_id: UUID
    record_id: UUID

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _KIND.fullmatch(self.kind):
            raise ValueError(f"invalid record kind {self.kind!r}")
        if not isinstance(self.subject_id, UUID) or not isinstance(self.record_id, UUID):
            raise TypeError("subject_id and record_id must be UUIDs")
        object.__setattr__(self, "kind", str(self.kind))  # a plain str, not the enum member

    def aad(self) -> bytes:
        """Domain tag, 1-byte kind length, kind, then the two ids as 16 raw bytes each.

        The only variable-length field is length-prefixed, so no two refs share an encoding.
        """
        kind = self.kind.encode("ascii")
        header = _AAD_DOMAIN + struct.pack("B", len(kind)) + kind
        return header + self.subject_id.bytes + self.record_id.bytes


def record_aad(kind: str, subject_id: UUID, record_id: UUID) -> bytes:
    return RecordRef(kind, subject_id, record_id).aad()


def seal_record(dek: DataKey, ref: RecordRef, plaintext: bytes) -> bytes:
    """Encrypt a record's plaintext under the subject's data key, bound to ``ref``."""
    return seal(dek.key, dek.key_id, plaintext, ref.aad())


def open_record(dek: DataKey, ref: RecordRef, blob: BytesLike) -> bytes:
    """Decrypt a record; ``CryptoError`` if it is under another key, moved, or tampered with."""
    if peek_key_id(blob) != dek.key_id:
        raise CryptoError("record is sealed under a different data key (another subject's?)")
    return open_envelope({dek.key_id: dek.key}, blob, ref.aad())
