#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # No secret and no database configured: the embedded local default (SQLite next to the
    # code), so commands run in development mode. A deployment sets both and is unaffected.
    if not os.environ.get("SECRET_KEY") and not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
