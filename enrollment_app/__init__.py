"""The optin web application (Litestar): enrollment, portal, console and the gate agent API."""
