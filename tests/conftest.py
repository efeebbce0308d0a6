"""Shared test wiring. Fixtures live in tests/plugins/ so each area owns its own file."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.fakellm",
    "tests.plugins.channels",
    "tests.plugins.browser",
    "tests.factories",  # the cast: alice, bob, charlie
]


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The test client and live server speak plain HTTP even when the environment is a deployment
    (DATABASE_URL/REDIS_URL set turns HTTPS hardening on); `check --deploy` tests cover that part."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.5 s per hash; tests need many hashes, not strong ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
