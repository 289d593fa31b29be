"""django-q2 entry points: thin wrappers that take ids and call incidents.escalation, and the
ticker that wakes them on time."""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from incidents import delivery, escalation

# One ticker at a time: a PostgreSQL session advisory lock, freed by the server when the worker
# holding it dies, so a worker start or the recurring schedule can start a new one.
TICKER_LOCK = 0x52454C4159  # "RELAY"
TICKER_SECONDS = 45  # below Q_CLUSTER["timeout"] (60 s), so django-q2 never kills it
TICK = 0.25  # seconds between looks at the due times
# An orphaned page handed to the pool is not handed again for this long: under load the queue
# is long, and handing the same page again every tick would only lengthen it.
REDISPATCH = 30.0
# A page younger than this has its own delivery task (enqueued when it was created).
PAGE_GRACE = timedelta(seconds=3)


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    delivery.deliver(page_id)


def tick() -> None:
    """Everything due, done in this task (for a deployment without the ticker chain)."""
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


class _Dispatcher:
    """Hands orphaned pages to the worker pool, each at most once per REDISPATCH seconds."""

    def __init__(self):
        self.sent: dict[int, float] = {}

    def __call__(self, page_id: int) -> None:
        now = time.monotonic()
        if now - self.sent.get(page_id, -REDISPATCH) >= REDISPATCH:
            self.sent[page_id] = now
            async_task("incidents.tasks.deliver_page", page_id)

    def forget_old(self) -> None:
        cutoff = time.monotonic() - REDISPATCH
        self.sent = {k: t for k, t in self.sent.items() if t > cutoff}


def run_ticker(seconds: float = TICKER_SECONDS) -> None:
    """Four times a second for `seconds`: advance every due run here, in due order (it is
    database work only, so one process keeps up with bursts, and no queue backlog can delay a
    timer), and hand pages nobody is delivering to the pool. Then enqueue a successor.
    django-q2's scheduler looks only every ~30 s; this keeps timers within about a second."""
    if not _try_lock():
        return  # another ticker is alive
    dispatch = _Dispatcher()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = timezone.now()
            for run_id in escalation.due_runs(now):
                escalation.advance(run_id)
            for page_id in delivery.due_methods(timezone.now(), grace=PAGE_GRACE):
                dispatch(page_id)
            dispatch.forget_old()
            time.sleep(TICK)
    finally:
        _unlock()
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")


def start_ticker(**kwargs) -> None:
    """On every worker start (django-q2's post_spawn): a restarted cluster resumes its timers at
    once instead of waiting for the recurring schedule. Extra tickers exit on the lock."""
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")
