from support.sandbox_provider import sandbox_provider  # noqa: F401 - a pytest fixture
