"""Records sealed under a subject's data key are bound to their kind, subject and record id."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optin.crypto import DataKey, RecordKind, RecordRef, open_record, record_aad, seal_record
from optin.crypto.envelope import peek_key_id
from optin.errors import CryptoError

TEMPLATE = bytes(range(256)) * 4  # stands in for 128 float64s


def test_round_trip(dek: DataKey, template_ref: RecordRef) -> None:
    blob = seal_record(dek, template_ref, TEMPLATE)
    assert open_record(dek, template_ref, blob) == TEMPLATE


def test_envelope_names_the_data_key(dek: DataKey, template_ref: RecordRef) -> None:
    assert peek_key_id(seal_record(dek, template_ref, TEMPLATE)) == dek.key_id


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"record_id": uuid.uuid4()}, id="another-record"),
        pytest.param({"subject_id": uuid.uuid4()}, id="another-subject"),
        pytest.param({"kind": RecordKind.SUBJECT_CONTACT}, id="another-kind"),
    ],
)
def test_ciphertext_moved_to_another_row_fails(
    dek: DataKey, template_ref: RecordRef, change: dict[str, object]
) -> None:
    blob = seal_record(dek, template_ref, TEMPLATE)
    moved_to = dataclasses.replace(template_ref, **change)  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match="failed authentication"):
        open_record(dek, moved_to, blob)


def test_ciphertext_of_another_subject_is_refused_before_decrypting(
    dek: DataKey, template_ref: RecordRef
) -> None:
    """A template copied from subject A to subject B: B's key is not the one that sealed it."""
    blob = seal_record(dek, template_ref, TEMPLATE)
    with pytest.raises(CryptoError, match="different data key"):
        open_record(DataKey.generate(), template_ref, blob)


def test_tampered_record_fails(dek: DataKey, template_ref: RecordRef) -> None:
    blob = bytearray(seal_record(dek, template_ref, TEMPLATE))
    blob[-20] ^= 0x80
    with pytest.raises(CryptoError, match="failed authentication"):
        open_record(dek, template_ref, bytes(blob))


def test_record_aad_layout() -> None:
    subject, record = uuid.uuid4(), uuid.uuid4()
    aad = record_aad("face_template", subject, record)
    assert aad == (
        b"optin/record/v1\x00" + bytes([13]) + b"face_template" + subject.bytes + record.bytes
    )
    assert RecordRef(RecordKind.FACE_TEMPLATE, subject, record).aad() == aad


_KINDS = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
_REFS = st.builds(RecordRef, kind=_KINDS, subject_id=st.uuids(), record_id=st.uuids())


@given(first=_REFS, second=_REFS)
def test_distinct_refs_never_share_an_aad(first: RecordRef, second: RecordRef) -> None:
    assert (first.aad() == second.aad()) == (first == second)


def test_swapping_subject_and_record_ids_changes_the_aad() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert record_aad("face_template", a, b) != record_aad("face_template", b, a)


def test_kind_enum_member_is_stored_as_plain_string() -> None:
    ref = RecordRef(RecordKind.FACE_TEMPLATE, uuid.uuid4(), uuid.uuid4())
    assert type(ref.kind) is str
    assert ref.kind == "face_template"


@pytest.mark.parametrize("kind", ["", "Face", "face-template", "1face", "face template", "x" * 65])
def test_invalid_kind_is_refused(kind: str) -> None:
    with pytest.raises(ValueError, match="invalid record kind"):
        RecordRef(kind, uuid.uuid4(), uuid.uuid4())


def test_ids_must_be_uuids() -> None:
    with pytest.raises(TypeError, match="UUIDs"):
        RecordRef("face_template", str(uuid.uuid4()), uuid.uuid4())  # type: ignore[arg-type]
