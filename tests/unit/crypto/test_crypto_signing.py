"""Ed25519 signing: raw signatures, JWK export/import, signed canonical-JSON documents."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from optin.crypto import Signer, Verifier, canonical_json, verify_document
from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.errors import ConfigurationError, CryptoError

RECEIPT: dict[str, Any] = {
    "type": "consent-receipt",
    "subject": "0190f7a4-0000-7000-8000-000000000001",
    "purposes": ["entry", "payments"],
    "notice": {"version": 3, "language": "de", "sha256": "ab" * 32},
    "granted_at": "2025-01-01T12:00:00Z",
    "withdrawn": False,
    "venue": "Café Zürich",
}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


# RFC 8037, appendix A: a known Ed25519 key, its JWK thumbprint and a known signature.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def test_rfc8037_known_answers() -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_D)))
    jwk = signer.public_jwk()
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "kid": RFC8037_THUMBPRINT,
        "use": "sig",
        "alg": "EdDSA",
    }
    assert b64url_encode(signer.sign(RFC8037_INPUT)) == RFC8037_SIGNATURE
    assert Verifier.from_jwk(jwk).verify(RFC8037_INPUT, b64url_decode(RFC8037_SIGNATURE))


def test_sign_and_verify_bytes(signer: Signer) -> None:
    signature = signer.sign(b"hello")
    assert len(signature) == 64
    assert signer.verify(b"hello", signature)
    assert not signer.verify(b"hellO", signature)
    assert not signer.verify(b"hello", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not Signer.generate().verify(b"hello", signature)


def test_signed_document_verifies(signer: Signer) -> None:
    signed = signer.sign_document(RECEIPT)
    assert signed["signature"]["alg"] == "EdDSA"
    assert signed["signature"]["kid"] == signer.kid
    assert "signature" not in RECEIPT  # the input is not modified
    assert verify_document(signed, signer.verifier)
    assert verify_document(signed, signer.public_jwk())


def test_signature_covers_canonical_json_of_the_rest(signer: Signer) -> None:
    signed = signer.sign_document(RECEIPT)
    value = b64url_decode(signed["signature"]["value"])
    canonical = json.dumps(
        RECEIPT, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert canonical_json(RECEIPT) == canonical
    assert signer.verify(canonical, value)


def test_key_order_and_json_round_trip_do_not_matter(signer: Signer) -> None:
    signed = signer.sign_document(RECEIPT)
    shuffled = dict(reversed(list(json.loads(json.dumps(signed)).items())))
    assert verify_document(shuffled, signer.public_jwk())


def _tamper(path: tuple[str, ...], value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> None:
        target = doc
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return apply


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_tamper(("withdrawn",), True), id="changed-field"),
        pytest.param(_tamper(("notice", "version"), 4), id="changed-nested-field"),
        pytest.param(_tamper(("extra",), "x"), id="added-field"),
        pytest.param(lambda d: d.pop("venue"), id="removed-field"),
        pytest.param(lambda d: d["purposes"].reverse(), id="reordered-list"),
        pytest.param(_tamper(("signature", "alg"), "none"), id="alg-none"),
        pytest.param(_tamper(("signature", "kid"), "another"), id="other-kid"),
        pytest.param(_tamper(("signature", "value"), "!!"), id="garbage-value"),
        pytest.param(_tamper(("signature", "value"), b64url_encode(bytes(64))), id="zero-sig"),
        pytest.param(_tamper(("signature", "value"), 5), id="non-string-value"),
        pytest.param(lambda d: d.pop("signature"), id="no-signature"),
        pytest.param(_tamper(("signature",), "abc"), id="signature-not-object"),
        pytest.param(_tamper(("nan",), float("nan")), id="not-canonicalisable"),
    ],
)
def test_tampered_document_fails(signer: Signer, tamper: Any) -> None:
    signed = copy.deepcopy(signer.sign_document(RECEIPT))
    tamper(signed)
    assert verify_document(signed, signer.public_jwk()) is False


def test_flipping_one_signature_bit_fails(signer: Signer) -> None:
    signed = signer.sign_document(RECEIPT)
    raw = bytearray(b64url_decode(signed["signature"]["value"]))
    raw[10] ^= 0x04
    signed["signature"]["value"] = b64url_encode(bytes(raw))
    assert not verify_document(signed, signer.verifier)


def test_another_key_does_not_verify(signer: Signer) -> None:
    signed = signer.sign_document(RECEIPT)
    other = Signer.generate()
    assert not verify_document(signed, other.public_jwk())
    # Even with the kid forged to match, the signature itself fails.
    signed["signature"] = {**signed["signature"], "kid": other.kid}
    assert not verify_document(signed, other.verifier)


@given(
    doc=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k != "signature"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=10,
        ),
        max_size=6,
    )
)
def test_any_json_document_round_trips(doc: dict[str, Any]) -> None:
    signer = _HYPOTHESIS_SIGNER
    signed = json.loads(json.dumps(signer.sign_document(doc)))
    assert verify_document(signed, signer.public_jwk())


_HYPOTHESIS_SIGNER = Signer.generate()


def test_canonical_json_is_compact_sorted_utf8() -> None:
    expected = '{"a":["é",null,true],"b":1}'.encode()
    assert canonical_json({"b": 1, "a": ["é", None, True]}) == expected


def test_sign_document_refuses_nan_and_existing_signature(signer: Signer) -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        signer.sign_document({"x": float("nan")})
    with pytest.raises(ValueError, match="already has"):
        signer.sign_document({"signature": "x"})


def test_jwk_round_trip(signer: Signer) -> None:
    jwk = json.loads(json.dumps(signer.public_jwk()))
    verifier = Verifier.from_jwk(jwk)
    assert verifier.kid == signer.kid
    assert verifier.public_jwk() == signer.public_jwk()
    assert verifier.verify(b"data", signer.sign(b"data"))


def test_minimal_jwk_without_optional_members_is_accepted(signer: Signer) -> None:
    jwk = signer.public_jwk()
    minimal = {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"]}
    assert Verifier.from_jwk(minimal).kid == signer.kid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kty": "EC"}, "not an Ed25519 key"),
        ({"crv": "Ed448"}, "not an Ed25519 key"),
        ({"alg": "ES256"}, "EdDSA"),
        ({"use": "enc"}, "EdDSA"),
        ({"x": "AAAA"}, "32-byte"),
        ({"x": "not base64!"}, "32-byte"),
        ({"x": 12}, "32-byte"),
        ({"kid": "forged"}, "does not match"),
        ({"d": RFC8037_D}, "private key"),
    ],
)
def test_bad_jwk_is_refused(signer: Signer, change: dict[str, Any], message: str) -> None:
    with pytest.raises(CryptoError, match=message):
        Verifier.from_jwk({**signer.public_jwk(), **change})
    with pytest.raises(CryptoError, match=message):
        verify_document(signer.sign_document(RECEIPT), {**signer.public_jwk(), **change})


def test_key_file_is_created_private_and_reloads_with_the_same_kid(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    first = Signer.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = Signer.load_or_create(path)
    assert second.kid == first.kid
    assert verify_document(first.sign_document(RECEIPT), second.public_jwk())
    assert Signer.load(path).kid == first.kid


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o660])
def test_signing_key_readable_by_others_is_refused(tmp_path: Path, file_mode: int) -> None:
    path = tmp_path / "signing.key"
    Signer.load_or_create(path)
    path.chmod(file_mode)
    with pytest.raises(ConfigurationError, match=f"chmod 600 {path}"):
        Signer.load_or_create(path)


def _write_private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_non_ed25519_key_file_is_refused(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _write_private(tmp_path / "signing.key", pem)
    with pytest.raises(ConfigurationError, match="does not hold an Ed25519 key"):
        Signer.load(path)


def test_garbage_key_file_is_refused(tmp_path: Path) -> None:
    path = _write_private(tmp_path / "signing.key", b"not a pem")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        Signer.load_or_create(path)
    assert path.read_bytes() == b"not a pem"  # never replaced by a new key


def test_repr_shows_only_the_kid(signer: Signer) -> None:
    assert repr(signer) == f"Signer(kid={signer.kid!r})"
