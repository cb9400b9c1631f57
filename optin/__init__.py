"""optin: consent-based, opt-in face recognition (core library, no web framework imports)."""

__version__ = "0.1.0"
