"""``optin receipt``: check consent receipts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from optin.cli.common import CommandFailed, echo_json, fail_cleanly, load_settings


@click.group()
def receipt() -> None:
    """Consent receipts: signed JSON documents given to people when they consent."""


@receipt.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--jwk",
    "jwk_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (JWK or JWKS JSON) to check against [default: this service's signing key].",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"valid", "reason", "kid"}.')
@fail_cleanly
def verify(file: Path, jwk_file: Path | None, as_json: bool) -> None:
    """Tell whether the receipt in FILE is genuine and unchanged (exit 0) or not (exit 1)."""
    from optin.crypto.signing import Signer, Verifier
    from optin.services.receipts import check_receipt

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandFailed(f"{file} is not a JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise CommandFailed(f"{file} is not a JSON object")
    if jwk_file is not None:
        key = json.loads(jwk_file.read_text(encoding="utf-8"))
        verifier = Verifier.from_jwk(key["keys"][0] if "keys" in key else key)
    else:
        verifier = Signer.load(load_settings().signing_key_file).verifier
    check = check_receipt(document, verifier)
    if as_json:
        echo_json({"valid": check.valid, "reason": check.reason, "kid": check.kid})
    else:
        click.echo(f"{'genuine' if check.valid else 'NOT genuine'}: {check.reason}")
    if not check.valid:
        raise SystemExit(1)
