"""Settings for the ASGI server the run benchmarks start: Parley's own, with the channel layer's
Redis read timeout raised above channels_redis's 5 s BZPOPMIN poll.

Why: redis-py 8 reads with a 5 s socket timeout by default, the same as the layer's blocking pop,
so a websocket consumer that hears nothing for ~5 s dies with redis.exceptions.TimeoutError (and
its browser reconnects). Reported for studio/settings.py; until it carries this, the benchmarks
apply it here so a quiet viewer is not measured as a reconnect.
"""

import os

from studio.settings import *  # noqa: F401,F403
from studio.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            **CHANNEL_LAYERS["default"],
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }

if os.environ.get("PARLEY_BENCH_DB_POOL") == "1":
    # `relay_latency.py --db-pool`: Django's own connection pool (needs the psycopg-pool package)
    # instead of a new PostgreSQL connection for every database_sync_to_async call.
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}),
                                       "pool": {"min_size": 2, "max_size": 16}}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
