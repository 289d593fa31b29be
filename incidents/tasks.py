"""django-q2 tasks: thin, idempotent, primitive ids in; the service functions do the work (see
config/schedules.py for the recurring ones)."""

import time

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


# One ticker chain at a time: a PostgreSQL session advisory lock, freed by the server if the
# worker holding it dies, so the recurring schedule can restart the chain.
TICKER_LOCK = 0x52454C4159  # "RELAY"
TICKER_SECONDS = 45  # below Q_CLUSTER["timeout"] (60 s), so the task is never killed by it
MAX_SLEEP = 0.5


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    escalation.deliver(page_id)


def tick() -> None:
    escalation.tick()


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [TICKER_LOCK])
        return cursor.fetchone()[0]


def _unlock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [TICKER_LOCK])


def run_ticker(seconds: float = TICKER_SECONDS) -> None:
    """Do due escalation work every half second for `seconds`, then hand over to a fresh task.
    django-q2's scheduler only looks every ~30 s; this chain keeps timers within a second, and
    the recurring schedule (every minute) restarts it if a worker died holding it."""
    if not _try_lock():
        return
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            escalation.tick()
            due = escalation.next_due(timezone.now())
            wait = (due - timezone.now()).total_seconds() if due else MAX_SLEEP
            time.sleep(min(max(wait, 0.05), MAX_SLEEP))
    finally:
        _unlock()
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")
