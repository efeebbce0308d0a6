"""Everything that runs conversations: the Celery app and tasks, the relay, and the engine.

Kept import-light on purpose: `import workers.agents` must not pull in Celery or Django. The
Celery app is reachable as `workers.celery_app` (loaded on first access), and
`celery -A workers worker` finds it in `workers.celery`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from workers.celery import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
