"""Shared test wiring. Fixtures live in tests/plugins/ so each area owns its own file."""

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.fakellm",
    "tests.plugins.channels",
    "tests.plugins.browser",
]
