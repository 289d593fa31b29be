"""django-q2 tasks: thin, idempotent, primitive ids in; the service functions do the work (see
config/schedules.py for the recurring ones). The escalation ticker wakes timers on time."""

import fcntl
import hashlib
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from incidents import delivery, escalation, heartbeats, intake, webhooks

TICKER_LOCK = 0x52454C4159  # the advisory lock key of the ticker ("RELAY")
TICKER_SECONDS = 45  # below Q_CLUSTER["timeout"] (60 s), so django-q2 never kills it
TICK = 0.25  # seconds between looks at the due times
# An orphaned page handed to the pool is not handed again for this long: under load the queue
# is long, and handing the same page again every tick would only lengthen it.
REDISPATCH = 30.0
# A page younger than this has its own delivery task (enqueued when it was created).
PAGE_GRACE = timedelta(seconds=3)


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


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    delivery.deliver(page_id)


def tick() -> None:
    """Everything due, done in this task (for a deployment without the ticker chain)."""
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
    django-q2's scheduler looks only every ~30 s; this keeps timers within about a second.
    A second ticker finds the lock taken and ends, so there is never more than one."""
    with ticker_lock() as held:
        if not held:
            return  # another ticker is alive
        dispatch = _Dispatcher()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = timezone.now()
            for run_id in escalation.due_runs(now):
                escalation.advance(run_id)
            for page_id in delivery.due_methods(timezone.now(), grace=PAGE_GRACE):
                dispatch(page_id)
            dispatch.forget_old()
            time.sleep(TICK)
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")


def start_ticker(**kwargs) -> None:
    """On every worker start (django-q2's post_spawn): a restarted cluster resumes its timers at
    once instead of waiting for the recurring schedule. Extra tickers exit on the lock."""
    if not Conf.SYNC:
        async_task("incidents.tasks.run_ticker")
