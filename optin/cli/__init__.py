"""The ``optin`` command: the composition root of the product.

Each sub-command lives in its own module and is attached here; this is the one place in ``optin/``
that may import the web app and the gate agent.
"""

from __future__ import annotations

import click

from optin import __version__
from optin.cli.faces import faces


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optin")
def main() -> None:
    """optin: consent-based, opt-in face recognition for venues."""


main.add_command(faces)
