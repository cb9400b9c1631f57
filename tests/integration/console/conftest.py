from __future__ import annotations

import pytest

from support.console_world import ConsoleWorld
from support.enrollment_world import EnrollmentWorld, world  # noqa: F401 - a pytest fixture
from support.smtp import smtp_server  # noqa: F401 - a pytest fixture


@pytest.fixture
def console(world: EnrollmentWorld) -> ConsoleWorld:  # noqa: F811
    return ConsoleWorld(world)
