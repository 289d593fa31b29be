"""Exactness with real processes: bench/escalation.py runs `qcluster` processes on the Redis
broker against its own PostgreSQL database, declares incidents, and counts at a real HTTP
receiver what arrives. These tests hold it to exactly-once paging and to redelivery after a
SIGKILL; the timer figures it measures go to the README, not into assertions."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def bench(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on both)")
    if not _redis_up():
        pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it).")
    server = os.environ["DATABASE_URL"]

    def run(*args: str) -> dict:
        result = subprocess.run([sys.executable, "bench/escalation.py", *args], cwd=ROOT,
                                env={**os.environ, "DATABASE_URL": server},
                                capture_output=True, text=True, timeout=900, check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


def test_every_page_is_sent_exactly_once_over_a_thousand_incidents(bench):
    # Four processes race harder than two; one run (about 4 min, mostly waiting on throttles)
    # keeps CI inside its time budget. `bench/escalation.py --processes 2` measures the other.
    figures = bench("--incidents", "1000", "--processes", "4")
    assert figures["steps_paged"] == 2000  # two steps of every incident, each paged once
    assert figures["duplicate_pages"] == 0
    assert figures["missing_pages"] == 0


def test_page_in_flight_when_its_worker_is_killed_is_still_delivered(bench):
    figures = bench("--scenario", "sigkill")
    assert figures["held_page_received"] == 2  # the ambiguous send, then the resend
    assert figures["redelivered_after_restart_s"] <= 30
    assert figures["other_duplicate_pages"] == 0
    assert figures["missing_pages"] == 0
