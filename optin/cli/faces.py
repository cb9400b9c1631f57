"""``optin faces``: encode and compare faces from image files."""

from __future__ import annotations

import click


@click.group()
def faces() -> None:
    """Detect, quality-check, encode and compare faces in image files."""
