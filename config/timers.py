"""The timer engine: one ticker for every kind of due work, and a registry of its sources.

Due times live in each app's own rows (a run's `next_action_at`, a page's `due_at`); nothing
lives only in a task queue. django-q2's scheduler looks only about every 30 s and a task waits in
the queue behind page deliveries, so the ticker is neither: it is a thread in every django-q2
worker process (started by django-q2's `post_spawn`). One thread at a time holds a PostgreSQL
advisory lock (an OS file lock on SQLite) and ticks: every TICK seconds it asks each registered
Source for its due ids and runs each one itself (database work only) or hands it to the worker
pool. The other threads only try the lock every TAKEOVER seconds; the lock dies with its holder,
so another worker takes over within seconds. A recurring schedule (config/schedules.py) restarts
a thread that ended.

Apps register their sources in their AppConfig.ready(); this module imports no app, so every
layer (incidents, comms, postmortems) can add timers without touching it.
"""

import fcntl
import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

TICKER_LOCK = 0x52454C4159  # the advisory lock key of the ticker ("RELAY")
TAKEOVER = 2.0  # seconds between a waiting ticker thread's tries for the lock
TICK = 0.25  # seconds between looks at the due times

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One kind of due work.

    `due(now)` returns the ids due at `now`, most overdue first, in bounded batches. Each is
    either run here, `run(id, now)`, in the ticker thread (database work only: one thread must
    keep up with bursts), or, when `dispatch` is given, handed to the worker pool with
    `dispatch(id)` (work that leaves the machine), at most once per `redispatch` seconds: under
    load the queue is long, and handing the same id again every tick would only lengthen it.
    `lateness(since)`, when given, returns how many seconds late each piece of work done since
    `since` was, read from the rows the work wrote (bench/escalation.py reports it per source).
    """

    name: str
    due: Callable[[datetime], Iterable[int]]
    run: Callable[[int, datetime], object]
    dispatch: Callable[[int], object] | None = None
    redispatch: float = 30.0
    lateness: Callable[[datetime], list[float]] | None = None


_sources: dict[str, Source] = {}


def register(source: Source) -> None:
    """Add a source (or replace the one of the same name). Call it from AppConfig.ready()."""
    _sources[source.name] = source


def sources() -> list[Source]:
    """The registered sources, in registration order (the order they are ticked)."""
    return list(_sources.values())


# --- The lock -----------------------------------------------------------------------------------

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


# --- Ticking ------------------------------------------------------------------------------------

class Dispatcher:
    """Hands due ids of dispatching sources to the pool, each at most once per the source's
    `redispatch` seconds."""

    def __init__(self):
        self.sent: dict[tuple[str, int], float] = {}

    def __call__(self, source: Source, item_id: int) -> None:
        now = time.monotonic()
        key = (source.name, item_id)
        if now - self.sent.get(key, -source.redispatch) >= source.redispatch:
            self.sent[key] = now
            source.dispatch(item_id)

    def forget_old(self) -> None:
        longest = max((s.redispatch for s in sources() if s.dispatch), default=0.0)
        cutoff = time.monotonic() - longest
        self.sent = {k: t for k, t in self.sent.items() if t > cutoff}


class ConnectionLost(Exception):
    """The database connection died under a source: the ticker starts over (its advisory lock
    died with the connection, so it must not go on ticking as if it still held it)."""


def tick_once(dispatch: Dispatcher) -> None:
    """One look at every source. A failure in one source (or one id) is logged and the others
    go on: one broken timer must not stop every other timer."""
    for source in sources():
        try:
            ids = list(source.due(timezone.now()))
        except Exception:
            _failed(f"Timer source {source.name} could not list its due work")
            continue
        for item_id in ids:
            try:
                if source.dispatch is not None:
                    dispatch(source, item_id)
                else:
                    source.run(item_id, timezone.now())  # its own now: lateness is measured
            except Exception:
                _failed(f"Timer source {source.name} failed on {item_id}")
    dispatch.forget_old()


def _failed(message: str) -> None:
    log.exception(message)
    if not connection.is_usable():
        raise ConnectionLost(message)


def tick_for(seconds: float | None = None, stop: threading.Event | None = None) -> bool:
    """Every TICK seconds, while holding the ticker lock, run or hand on every source's due work.
    Runs for `seconds` (None: until `stop` is set). Returns False at once when another ticker
    holds the lock, so there is never more than one."""
    stop = stop or threading.Event()
    with ticker_lock() as held:
        if not held:
            return False
        dispatch = Dispatcher()
        end = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and (end is None or time.monotonic() < end):
            tick_once(dispatch)
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
            log.exception("The timer ticker failed; it starts again")
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
