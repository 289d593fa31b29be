"""The escalation ticker: one at a time on PostgreSQL and on SQLite alike, a thread in every
worker process that takes over when the lock's holder goes away."""

import threading
import time

import pytest
from django.db import connection

from incidents import tasks


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
    with tasks.ticker_lock() as held:
        return held


@pytest.mark.django_db(transaction=True)
def test_a_second_ticker_finds_the_lock_taken_until_the_first_lets_go():
    with tasks.ticker_lock() as first:
        assert first is True
        assert _in_other_thread(_try_lock) is False
    assert _in_other_thread(_try_lock) is True


@pytest.mark.django_db(transaction=True)
def test_a_ticker_that_cannot_lock_does_no_work(monkeypatch):
    looked = []
    monkeypatch.setattr(tasks.escalation, "due_runs", lambda now: looked.append(now) or [])
    with tasks.ticker_lock():
        assert _in_other_thread(lambda: tasks.tick_for(5)) is False
    assert looked == []  # it never looked for due runs
    assert tasks.tick_for(0.2) is True  # with the lock free it ticks
    assert looked


@pytest.mark.django_db(transaction=True)
def test_the_ticker_thread_waits_for_the_lock_and_takes_over(monkeypatch):
    """Another process holds the lock; when it lets go, this worker's thread starts ticking."""
    monkeypatch.setattr(tasks, "TAKEOVER", 0.05)
    monkeypatch.setattr(tasks.Conf, "SYNC", False)
    ticked = threading.Event()
    real_due_runs = tasks.escalation.due_runs

    def due_runs(now):
        ticked.set()
        return real_due_runs(now)

    monkeypatch.setattr(tasks.escalation, "due_runs", due_runs)
    holder_has_lock, release = threading.Event(), threading.Event()

    def holder():
        with tasks.ticker_lock() as held:
            assert held
            holder_has_lock.set()
            release.wait(30)
        return True

    other = threading.Thread(target=lambda: _in_other_thread(holder))
    other.start()
    assert holder_has_lock.wait(30)
    stop = threading.Event()
    thread = threading.Thread(target=tasks._ticker_thread, args=(stop,))
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
    assert tasks.Conf.SYNC is True  # the test settings run tasks inline
    assert tasks.ensure_ticker() is False


@pytest.mark.django_db(transaction=True)
def test_the_ticker_thread_starts_again_after_an_error(monkeypatch):
    monkeypatch.setattr(tasks, "TAKEOVER", 0.05)
    calls, again = [], threading.Event()

    def due_runs(now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        again.set()
        return []

    monkeypatch.setattr(tasks.escalation, "due_runs", due_runs)
    stop = threading.Event()
    thread = threading.Thread(target=tasks._ticker_thread, args=(stop,))
    thread.start()
    try:
        assert again.wait(10)
    finally:
        stop.set()
        thread.join(30)
