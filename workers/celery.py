"""The Celery app. Configuration comes from Django settings (namespace CELERY).

Production: `celery -A workers worker` (Redis broker, thread pool). Embedded mode runs the same
app in a thread inside `manage.py serve` (workers/embedded.py).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Tasks live in workers.tasks and in the studio apps' tasks modules (added by later issues).
app.autodiscover_tasks(["workers"])
app.autodiscover_tasks()
