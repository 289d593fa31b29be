"""The escalation ticker runs as one chain at a time, on PostgreSQL and on SQLite alike."""

import threading

import pytest
from django.db import connection

from incidents import tasks


def _try_in_other_thread() -> bool:
    """Whether another worker (its own thread and database connection) could take the lock."""
    result = []

    def attempt():
        try:
            with tasks.ticker_lock() as held:
                result.append(held)
        finally:
            connection.close()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return result[0]


@pytest.mark.django_db(transaction=True)
def test_a_second_ticker_finds_the_lock_taken_until_the_first_lets_go():
    with tasks.ticker_lock() as first:
        assert first is True
        assert _try_in_other_thread() is False
    assert _try_in_other_thread() is True


@pytest.mark.django_db(transaction=True)
def test_a_ticker_that_cannot_lock_ends_without_chaining(monkeypatch):
    chained = []
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kwargs: chained.append(args))
    monkeypatch.setattr(tasks.Conf, "SYNC", False)
    with tasks.ticker_lock():
        done = threading.Event()

        def run():
            try:
                tasks.run_ticker(seconds=0.2)
            finally:
                connection.close()
                done.set()

        threading.Thread(target=run).start()
        assert done.wait(timeout=30)
    assert chained == []
    tasks.run_ticker(seconds=0.2)  # with the lock free it works and hands over to a new task
    assert chained == [("incidents.tasks.run_ticker",)]
