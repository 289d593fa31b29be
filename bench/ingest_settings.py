"""Settings of the gunicorn that bench/ingest.py starts: Relay's own, plus the baseline URL."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "ingest_urls"
