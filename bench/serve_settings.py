"""Settings for the ASGI server the run benchmarks start: Parley's own, optionally with Django's
PostgreSQL connection pool (`PARLEY_BENCH_DB_POOL=1`) to measure what it would change."""

import os

from studio.settings import *  # noqa: F401,F403
from studio.settings import DATABASES

if os.environ.get("PARLEY_BENCH_DB_POOL") == "1":
    # `relay_latency.py --db-pool`: Django's own connection pool (needs the psycopg-pool package)
    # instead of a new PostgreSQL connection for every database_sync_to_async call.
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}),
                                       "pool": {"min_size": 2, "max_size": 16}}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
