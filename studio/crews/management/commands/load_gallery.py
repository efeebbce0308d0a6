"""`python manage.py load_gallery`: create or refresh the gallery's ready-made crews (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from studio.crews.gallery import load_gallery


class Command(BaseCommand):
    help = "Load the gallery's ready-made crews; unchanged ones are left alone, so running it again is safe."

    def handle(self, *args, **options) -> None:
        report = load_gallery()
        self.stdout.write(str(report))
