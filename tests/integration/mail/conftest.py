"""Mail tests run against a real SMTP server (tests/support/smtp.py)."""

from support.smtp import smtp_server  # noqa: F401  (a pytest fixture)
