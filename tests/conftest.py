"""Shared test wiring. Fixtures live in tests/plugins/ so each area owns its own file."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.fakellm",
    "tests.plugins.channels",
    "tests.plugins.browser",
    "tests.plugins.processes",
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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file, like embedded mode's.

    Tests read the database while worker threads write it. pytest-django's default SQLite test
    database is in memory with a shared cache, where a reader meets a writer's table lock at once
    ("database table is locked") instead of waiting; a WAL file never does that.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
