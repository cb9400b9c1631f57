"""Persistence: models, engine and sessions, migrations, and the data-lifecycle register.

Import the pieces from their modules (``optin.db.models``, ``optin.db.engine``,
``optin.db.migrate``, ``optin.db.register``, ``optin.db.changelog``); this package itself stays
light so importing a model does not pull in alembic.
"""
