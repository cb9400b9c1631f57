"""A plain landing page that says what runs here and where to go."""

from __future__ import annotations

from litestar import MediaType, get

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>optin</title></head>
<body>
<main>
<h1>optin</h1>
<p>Consent-based, opt-in face recognition. Only people who join are recognised;
every other face is discarded in memory at the gate.</p>
<ul>
<li><a href="/enroll">Join: enrol with your face</a> (日本語 / English / 中文 / 한국어)</li>
<li><a href="/portal">See, export, withdraw or delete your data</a></li>
<li><a href="/console">Operator console</a> (staff: privacy officers, venue staff, auditors)</li>
<li><a href="/api/docs">API documentation (OpenAPI)</a></li>
<li><a href="/healthz">Liveness</a> and <a href="/readyz">readiness</a></li>
</ul>
</main>
</body></html>
"""


@get("/", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def home() -> str:
    return _PAGE
