"""The ``optin`` command: the composition root of the product.

Each sub-command lives in its own module and is attached here; this is the one place in ``optin/``
that may import the web app and the gate agent.
"""

from __future__ import annotations

import click

from optin import __version__
from optin.cli.audit import audit
from optin.cli.backup import backup
from optin.cli.db import migrate
from optin.cli.demo import demo
from optin.cli.faces import faces
from optin.cli.gates import gate
from optin.cli.keys import keys
from optin.cli.mail import mail
from optin.cli.notices import notice
from optin.cli.operators import operator
from optin.cli.payments import payments
from optin.cli.products import entitlement, product
from optin.cli.receipts import receipt
from optin.cli.retention import retention
from optin.cli.serve import serve
from optin.cli.venues import venue


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optin")
def main() -> None:
    """optin: consent-based, opt-in face recognition for venues.

    Settings come from OPTIN_* environment variables (see the README); the data directory
    defaults to ./.optin and the database to a SQLite file inside it.
    """


for command in (
    serve,
    demo,
    migrate,
    venue,
    product,
    entitlement,
    notice,
    operator,
    gate,
    keys,
    receipt,
    retention,
    audit,
    backup,
    payments,
    faces,
    mail,
):
    main.add_command(command)
