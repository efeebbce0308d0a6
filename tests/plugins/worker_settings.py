"""Settings for the Celery worker processes the run tests start: Parley's own, plus a broker that
hands unacknowledged messages out again after 2 s (instead of an hour), so a SIGKILLed worker's
task is redelivered within the test, alongside the heartbeat sweep."""

from studio.settings import *  # noqa: F401,F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 0.5,
    "unacked_restore_throttle": 1,
}
