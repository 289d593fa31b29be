"""django-q2 tasks: thin, idempotent, primitive ids in; the service functions do the work (see
config/schedules.py for the recurring ones)."""

import fcntl
import hashlib
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from incidents import escalation, heartbeats, intake, webhooks


def deliver_webhook(delivery_id: int) -> str:
    return webhooks.deliver(delivery_id)


def retry_webhooks() -> int:
    return webhooks.retry_due()


def process_pending_alerts() -> int:
    return intake.process_pending()


def close_stale_alerts() -> int:
    return intake.close_stale_alerts()


def check_heartbeats() -> int:
    return heartbeats.check_missed()


TICKER_LOCK = 0x52454C4159  # the advisory lock key of the ticker chain ("RELAY")
TICKER_SECONDS = 45  # below Q_CLUSTER["timeout"] (60 s), so the task is never killed by it
MAX_SLEEP = 0.5


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    escalation.deliver(page_id)


def tick() -> None:
    escalation.tick()


@contextmanager
def ticker_lock():
    """Yield whether this worker holds the one ticker lock. PostgreSQL: a session advisory lock.
    SQLite (one machine by nature): an OS file lock beside the database file. Either is released
    when its holder dies, so the recurring schedule can start a new chain."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [TICKER_LOCK])
            held = cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [TICKER_LOCK])
        return
    with open(_lock_file(), "a+") as handle:  # closing the file releases the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True


def _lock_file() -> Path:
    name = str(connection.settings_dict["NAME"])
    if "memory" in name or not Path(name).parent.is_dir():  # in-memory test databases
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"relay-{digest}.ticker-lock"
    return Path(f"{name}.ticker-lock")


def run_ticker(seconds: float = TICKER_SECONDS) -> None:
    """Do due escalation work every half second for `seconds`, then hand over to a fresh task.
    django-q2's scheduler only looks every ~30 s; this chain keeps timers within a second, and
    the recurring schedule (every minute) restarts it if a worker died holding it. A second
    chain finds the lock taken and ends, so there is never more than one."""
    with ticker_lock() as held:
        if not held:
            return
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            escalation.tick()
            due = escalation.next_due(timezone.now())
            wait = (due - timezone.now()).total_seconds() if due else MAX_SLEEP
            time.sleep(min(max(wait, 0.05), MAX_SLEEP))
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")
