"""`python manage.py recover_runs`: one recovery sweep now (workers run it on a timer anyway)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from studio.runs.recovery import sweep


class Command(BaseCommand):
    help = ("Queue again the running runs whose worker stopped sending heartbeats (or fail them after "
            "PARLEY_RUN_MAX_RECOVERIES). Every worker does this every PARLEY_RUN_SWEEP_SECONDS by itself.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--queued", action="store_true",
                            help="Also dispatch every queued run's task again (after losing an in-memory broker).")

    def handle(self, *args, queued: bool, **options) -> None:
        self.stdout.write(str(sweep(redispatch_queued=queued)))
