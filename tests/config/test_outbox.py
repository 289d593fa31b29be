"""config.outbox on a real outbox model (HandoffNotice): the atomic claim, stale claims, the
backoff schedule and giving up with the error kept on the row."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.outbox import Outbox, doubling
from oncall.models import HandoffNotice, NoticeStatus
from tests.conftest import make_user
from tests.oncall.conftest import make_schedule

pytestmark = pytest.mark.django_db

POLICY = Outbox(name="test notice", stale_after=timedelta(seconds=30),
                retry_delays=(timedelta(seconds=5), timedelta(seconds=15)),
                done=NoticeStatus.SENT, done_field="sent_at")
NOW = timezone.now()


@pytest.fixture
def row():
    return _notice(NOW)


def _notice(due_at, kind="upcoming") -> HandoffNotice:
    name = f"u{HandoffNotice.objects.count()}"
    return HandoffNotice.objects.create(schedule=make_schedule(name), user=make_user(name),
                                        kind=kind,
                                        shift_start=due_at + timedelta(hours=1), due_at=due_at)


def _fresh(row) -> HandoffNotice:
    return HandoffNotice.objects.get(pk=row.pk)


def test_claim_takes_a_due_row_once_and_counts_the_attempt(row):
    assert POLICY.claim(HandoffNotice, row.pk, NOW) is True
    assert POLICY.claim(HandoffNotice, row.pk, NOW + timedelta(seconds=29)) is False
    row = _fresh(row)
    assert (row.claimed_at, row.attempts) == (NOW, 1)


def test_claim_refuses_a_row_not_yet_due_or_done(row):
    assert POLICY.claim(HandoffNotice, row.pk, NOW - timedelta(seconds=1)) is False
    POLICY.record_success(row, NOW)
    assert POLICY.claim(HandoffNotice, row.pk, NOW + timedelta(hours=1)) is False


def test_a_stale_claim_is_released_and_claimed_again(row):
    POLICY.claim(HandoffNotice, row.pk, NOW)
    assert POLICY.due_ids(HandoffNotice, NOW + timedelta(seconds=30)) == []
    assert POLICY.release_stale(HandoffNotice, NOW + timedelta(seconds=30)) == 0
    assert POLICY.release_stale(HandoffNotice, NOW + timedelta(seconds=31)) == 1
    assert _fresh(row).claimed_at is None
    assert POLICY.due_ids(HandoffNotice, NOW + timedelta(seconds=31)) == [row.pk]
    assert POLICY.claim(HandoffNotice, row.pk, NOW + timedelta(seconds=31)) is True
    assert _fresh(row).attempts == 2


def test_a_stale_claim_can_be_claimed_without_a_release(row):
    POLICY.claim(HandoffNotice, row.pk, NOW)
    assert POLICY.claim(HandoffNotice, row.pk, NOW + timedelta(seconds=31)) is True


def test_failures_back_off_then_give_up_with_the_error_on_the_row(row):
    retries, at = [], NOW
    for attempt in range(POLICY.max_attempts):
        assert POLICY.claim(HandoffNotice, row.pk, at) is True
        retry = POLICY.record_failure(_fresh(row), f"refused {attempt + 1}", at)
        retries.append(retry and retry - at)
        at = retry or at
    assert retries == [timedelta(seconds=5), timedelta(seconds=15), None]
    row = _fresh(row)
    assert (row.status, row.attempts, row.last_error) == (NoticeStatus.FAILED, 3, "refused 3")
    assert (row.claimed_at, row.sent_at) == (None, at)
    assert POLICY.due_ids(HandoffNotice, at + timedelta(days=1)) == []


def test_a_failure_is_recorded_and_due_again(row):
    POLICY.claim(HandoffNotice, row.pk, NOW)
    retry = POLICY.record_failure(_fresh(row), "x" * 900, NOW)
    row = _fresh(row)
    assert (row.status, row.due_at, row.claimed_at) == (NoticeStatus.PENDING, retry, None)
    assert row.last_error == "x" * 500  # trimmed to the column
    assert POLICY.due_ids(HandoffNotice, retry) == [row.pk]


def test_success_is_recorded_on_the_row(row):
    POLICY.claim(HandoffNotice, row.pk, NOW)
    POLICY.record_success(_fresh(row), NOW)
    row = _fresh(row)
    assert (row.status, row.sent_at, row.claimed_at) == (NoticeStatus.SENT, NOW, None)


def test_due_ids_oldest_first_up_to_the_limit():
    later, earlier = _notice(NOW), _notice(NOW - timedelta(minutes=1))
    _notice(NOW + timedelta(minutes=1))  # not due
    assert POLICY.due_ids(HandoffNotice, NOW) == [earlier.pk, later.pk]
    assert POLICY.due_ids(HandoffNotice, NOW, limit=1) == [earlier.pk]


def test_doubling_schedule():
    assert doubling(timedelta(seconds=30), 4) == tuple(
        timedelta(seconds=s) for s in (30, 60, 120, 240))
    assert Outbox("x", timedelta(1), doubling(timedelta(seconds=30), 5)).max_attempts == 6


@pytest.mark.django_db(transaction=True)
def test_two_connections_claiming_one_row_exactly_one_wins():
    """The second UPDATE waits for the first transaction's row lock, then re-checks its WHERE
    against the committed claim and updates nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on both)")
    row = _notice(NOW)
    claimed, results = threading.Event(), {}

    def first():
        with transaction.atomic():
            results["first"] = POLICY.claim(HandoffNotice, row.pk, NOW)
            claimed.set()
            time.sleep(0.3)  # hold the row lock while the second claim arrives

    def second():
        claimed.wait(5)
        results["second"] = POLICY.claim(HandoffNotice, row.pk, NOW)

    _run_in_threads(first, second)
    assert results == {"first": True, "second": False}
    assert _fresh(row).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_many_connections_racing_for_one_row_exactly_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on both)")
    row = _notice(NOW)
    start, wins = threading.Barrier(4), []

    def racer():
        start.wait(5)
        wins.append(POLICY.claim(HandoffNotice, row.pk, NOW))

    _run_in_threads(*[racer] * 4)
    assert sorted(wins) == [False, False, False, True]


def _run_in_threads(*targets):
    def closing(target):
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=closing, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
