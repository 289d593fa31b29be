"""django-q2 tasks: thin, idempotent, primitive ids in; the service functions do the work (see
config/schedules.py for the recurring ones). The escalation ticker, a thread in each worker
process, wakes timers on time."""

import fcntl
import hashlib
import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from incidents.intake import heartbeats, pipeline
from incidents.paging import delivery, escalation
from incidents.webhooks import outbox

TICKER_LOCK = 0x52454C4159  # the advisory lock key of the ticker ("RELAY")
TAKEOVER = 2.0  # seconds between a waiting ticker thread's tries for the lock
TICK = 0.25  # seconds between looks at the due times
# An orphaned page handed to the pool is not handed again for this long: under load the queue
# is long, and handing the same page again every tick would only lengthen it.
REDISPATCH = 30.0
# A page younger than this has its own delivery task (enqueued when it was created).
PAGE_GRACE = timedelta(seconds=3)

log = logging.getLogger(__name__)


def deliver_webhook(delivery_id: int) -> str:
    return outbox.deliver(delivery_id)


def retry_webhooks() -> int:
    return outbox.retry_due()


def process_pending_alerts() -> int:
    return pipeline.process_pending()


def close_stale_alerts() -> int:
    return pipeline.close_stale_alerts()


def check_heartbeats() -> int:
    return heartbeats.check_missed()


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    delivery.deliver(page_id)


def tick() -> None:
    """Everything due, done in this task (for a deployment whose workers run no ticker thread)."""
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


def tick_for(seconds: float | None = None, stop: threading.Event | None = None) -> bool:
    """Four times a second, while holding the ticker lock: advance every due run here, in due
    order (database work only, so one thread keeps up with bursts), and hand pages nobody is
    delivering to the pool. Runs for `seconds` (None: until `stop` is set). Returns False at
    once when another ticker holds the lock, so there is never more than one."""
    stop = stop or threading.Event()
    with ticker_lock() as held:
        if not held:
            return False
        dispatch = _Dispatcher()
        end = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and (end is None or time.monotonic() < end):
            for run_id in escalation.due_runs(timezone.now()):
                escalation.advance(run_id)
            for page_id in delivery.due_methods(timezone.now(), grace=PAGE_GRACE):
                dispatch(page_id)
            dispatch.forget_old()
            stop.wait(TICK)
    return True


def _ticker_thread(stop: threading.Event) -> None:
    """The life of a worker process's ticker thread: wait for the lock, tick while holding it,
    and start over after any error (a lost database connection, say), so a ticker that fails
    never stops the timers for good. The lock's holder dying releases it: another worker's
    thread takes over within TAKEOVER seconds."""
    while not stop.is_set():
        try:
            tick_for(None, stop)
        except Exception:
            log.exception("The escalation ticker failed; it starts again")
        finally:
            connection.close()  # this thread's own connection: a fresh one next time
        stop.wait(TAKEOVER)


_thread: threading.Thread | None = None
_stop = threading.Event()


def ensure_ticker() -> bool:
    """Start this process's ticker thread unless it is running; True when it was started.

    The ticker is a thread in every django-q2 worker process, not a task: a task would wait in
    the queue behind page deliveries, and its timers with it. All threads but the lock's holder
    only wait for the lock."""
    global _thread
    if Conf.SYNC or (_thread is not None and _thread.is_alive()):
        return False
    _thread = threading.Thread(target=_ticker_thread, args=(_stop,), name="relay-ticker",
                               daemon=True)
    _thread.start()
    return True


def run_ticker() -> bool:
    """The recurring task (config/schedules.py): restarts the ticker thread of the worker that
    runs it if that thread ever ended. Returns at once."""
    return ensure_ticker()


def start_ticker(**kwargs) -> None:
    """django-q2's post_spawn, sent in every new worker process: timers resume as soon as a
    worker starts instead of waiting for the recurring schedule."""
    ensure_ticker()
