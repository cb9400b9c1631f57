from __future__ import annotations

from support.enrollment_world import world  # noqa: F401 - a pytest fixture
from support.sandbox_provider import sandbox_provider  # noqa: F401 - a pytest fixture
from support.smtp import smtp_server  # noqa: F401 - a pytest fixture
