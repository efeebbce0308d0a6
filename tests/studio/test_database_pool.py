"""The PostgreSQL connection pool (studio/settings.py): a closed connection goes back to the pool
and is lent again, and a pooled connection the server dropped is replaced, not handed out."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def pooled(postgres_url):
    if connection.vendor != "postgresql" or connection.pool is None:
        pytest.fail("with DATABASE_URL naming PostgreSQL, studio/settings.py must configure the pool")
    yield connection.pool
    connection.close()


def test_a_closed_connection_goes_back_to_the_pool(pooled):
    backend_pid()
    connection.close()
    opened_before = pooled.get_stats().get("connections_num", 0)
    idle = pooled.get_stats()["pool_available"]
    for _ in range(5):
        backend_pid()
        connection.close()  # what the end of a request, a consumer call or a run step does
    assert pooled.get_stats().get("connections_num", 0) == opened_before  # no new login at all
    assert pooled.get_stats()["pool_available"] == idle  # every session went back


def test_a_connection_the_server_dropped_is_never_lent(pooled):
    dropped = backend_pid()
    connection.close()
    with pooled.connection() as other:  # a second session ends the first, as a server restart would
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    assert backend_pid() != dropped  # the check found it dead and lent a new one; no error
