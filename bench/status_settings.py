"""Settings of the gunicorn that bench/status_page.py starts: Relay's own, plus the baseline URL."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "status_urls"
