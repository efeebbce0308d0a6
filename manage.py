#!/usr/bin/env python
"""Parley's command-line entry point (Django's manage.py)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from django.core.management import execute_from_command_line

    from studio.env import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:
        # Configuration mistakes get one readable line, not a traceback.
        print(exc.start_failure_line(), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
