"""The timer engine: one ticker at a time on PostgreSQL and on SQLite alike, a thread in every
worker process that takes over when the lock's holder goes away, ticking every registered source
of due work."""

import logging
import threading
import time

import pytest
from django.db import connection

from config import timers
from config.timers import Source


def _in_other_thread(function):
    """Run `function` in another thread (its own database connection, as another worker has)."""
    result = []

    def attempt():
        try:
            result.append(function())
        finally:
            connection.close()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return result[0]


def _try_lock() -> bool:
    with timers.ticker_lock() as held:
        return held


class FakeWork:
    """A source backed by a dict of due ids: running an id takes it off the dict."""

    def __init__(self, name: str, *ids: int, fail_on=()):
        self.due_ids = dict.fromkeys(ids)
        self.ran: list[int] = []
        self.looked = 0
        self.fail_on = set(fail_on)
        self.source = Source(name=name, due=self.due, run=self.run)

    def due(self, now):
        self.looked += 1
        return list(self.due_ids)

    def run(self, item_id, now):
        if item_id in self.fail_on:
            raise RuntimeError(f"{item_id} is broken")
        self.ran.append(item_id)
        self.due_ids.pop(item_id, None)


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test (the apps' own sources are put back afterwards)."""
    monkeypatch.setattr(timers, "_sources", {})
    return timers


def test_the_apps_register_escalation_runs_and_page_deliveries():
    names = [source.name for source in timers.sources()]
    assert names[:2] == ["escalation-runs", "page-deliveries"]


@pytest.mark.django_db(transaction=True)
def test_a_second_ticker_finds_the_lock_taken_until_the_first_lets_go():
    with timers.ticker_lock() as first:
        assert first is True
        assert _in_other_thread(_try_lock) is False
    assert _in_other_thread(_try_lock) is True


@pytest.mark.django_db(transaction=True)
def test_a_ticker_that_cannot_lock_does_no_work(registry):
    work = FakeWork("fake", 1, 2)
    registry.register(work.source)
    with timers.ticker_lock():
        assert _in_other_thread(lambda: timers.tick_for(5)) is False
    assert work.looked == 0 and work.ran == []  # it never looked for due work
    assert timers.tick_for(0.2) is True  # with the lock free it ticks
    assert work.ran == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_each_due_id_runs_once_per_tick(registry):
    ran = []
    registry.register(Source(name="stays", due=lambda now: [1, 2, 3],  # never taken off
                             run=lambda item_id, now: ran.append(item_id)))
    dispatch = timers.Dispatcher()
    timers.tick_once(dispatch)
    assert ran == [1, 2, 3]
    timers.tick_once(dispatch)
    assert ran == [1, 2, 3, 1, 2, 3]


@pytest.mark.django_db
def test_a_failure_that_lost_the_connection_stops_the_tick(registry, monkeypatch):
    """The advisory lock died with the connection: ticking on would make two tickers."""
    work = FakeWork("broken", 1, fail_on={1})
    registry.register(work.source)
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    with pytest.raises(timers.ConnectionLost):
        timers.tick_once(timers.Dispatcher())


@pytest.mark.django_db(transaction=True)
def test_work_done_is_not_run_again_over_many_ticks(registry, monkeypatch):
    monkeypatch.setattr(timers, "TICK", 0.01)
    work = FakeWork("fake", 1, 2, 3)
    registry.register(work.source)
    assert timers.tick_for(0.3) is True
    assert work.ran == [1, 2, 3] and work.looked > 5


@pytest.mark.django_db(transaction=True)
def test_a_failing_source_is_logged_and_the_others_go_on(registry, monkeypatch, caplog):
    monkeypatch.setattr(timers, "TICK", 0.01)
    broken = FakeWork("broken", 1, 2, 3, fail_on={2})
    unlisted = FakeWork("unlisted", 9)
    unlisted.source = Source(name="unlisted", due=lambda now: 1 / 0, run=unlisted.run)
    healthy = FakeWork("healthy", 7, 8)
    for work in (broken, unlisted, healthy):
        registry.register(work.source)
    with caplog.at_level(logging.ERROR, logger="config.timers"):
        assert timers.tick_for(0.2) is True  # the ticker kept going
    assert broken.ran == [1, 3] and healthy.ran == [7, 8]
    messages = [r.getMessage() for r in caplog.records]
    assert "Timer source broken failed on 2" in messages
    assert "Timer source unlisted could not list its due work" in messages


@pytest.mark.django_db(transaction=True)
def test_dispatched_work_is_handed_on_once_per_redispatch_period(registry, monkeypatch):
    monkeypatch.setattr(timers, "TICK", 0.01)
    handed = []
    registry.register(Source(name="sent", due=lambda now: [5, 6], run=lambda i, now: None,
                             dispatch=handed.append, redispatch=60))
    assert timers.tick_for(0.2) is True
    assert handed == [5, 6]  # still due every tick, but handed to the pool only once


@pytest.mark.django_db(transaction=True)
def test_the_ticker_thread_waits_for_the_lock_and_takes_over(registry, monkeypatch):
    """Another process holds the lock; when it lets go, this worker's thread starts ticking."""
    monkeypatch.setattr(timers, "TAKEOVER", 0.05)
    monkeypatch.setattr(timers.Conf, "SYNC", False)
    ticked = threading.Event()
    registry.register(Source(name="watch", due=lambda now: ticked.set() or [],
                             run=lambda i, now: None))
    holder_has_lock, release = threading.Event(), threading.Event()

    def holder():
        with timers.ticker_lock() as held:
            assert held
            holder_has_lock.set()
            release.wait(30)
        return True

    other = threading.Thread(target=lambda: _in_other_thread(holder))
    other.start()
    assert holder_has_lock.wait(30)
    stop = threading.Event()
    thread = threading.Thread(target=timers._ticker_thread, args=(stop,))
    thread.start()
    try:
        time.sleep(0.3)
        assert not ticked.is_set()  # waiting: the lock is taken
        release.set()
        other.join(30)
        assert ticked.wait(10)  # took over
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


def test_in_sync_mode_no_thread_is_started():
    assert timers.Conf.SYNC is True  # the test settings run tasks inline
    assert timers.ensure_ticker() is False


@pytest.mark.django_db(transaction=True)
def test_the_ticker_thread_starts_again_after_an_error(registry, monkeypatch):
    monkeypatch.setattr(timers, "TAKEOVER", 0.05)
    calls, again = [], threading.Event()
    real_tick_once = timers.tick_once

    def tick_once(dispatch):
        calls.append(1)
        if len(calls) == 1:
            raise timers.ConnectionLost("the database went away")
        again.set()
        real_tick_once(dispatch)

    monkeypatch.setattr(timers, "tick_once", tick_once)
    stop = threading.Event()
    thread = threading.Thread(target=timers._ticker_thread, args=(stop,))
    thread.start()
    try:
        assert again.wait(10)
    finally:
        stop.set()
        thread.join(30)
