"""Hand-off notices as outbox rows: written once per shift and kind, emailed by the minute's
sweep through a real SMTP server on loopback, retried with backoff when the server is down."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from oncall import services
from oncall.channels.email import message_id
from oncall.models import HandoffNotice, NoticeStatus, Override
from tests.conftest import make_user
from tests.oncall.conftest import add_contact, make_schedule
from tests.receivers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dan():
    """Dan goes on call in 30 minutes (an override on a schedule with no layers)."""
    dan = make_user("dan", "Responders")
    add_contact(dan)
    now = timezone.now()
    Override.objects.create(schedule=make_schedule(), user=dan, start=now + timedelta(minutes=30),
                            end=now + timedelta(hours=2))
    return dan


def _to_dan(inbox) -> list[str]:
    return [m["Subject"] for m in inbox if m["To"] == "dan@example.test"]


def test_a_notice_the_smtp_server_refused_is_sent_by_a_later_sweep(dan, smtp_server, settings):
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # nothing listens there
    now = timezone.now()
    assert services.send_handoff_notices(now) == 0
    notice = HandoffNotice.objects.get(user=dan)
    assert (notice.status, notice.attempts, notice.sent_at) == (NoticeStatus.PENDING, 1, None)
    assert notice.last_error.startswith("SMTP") and notice.claimed_at is None
    assert notice.due_at == now + timedelta(minutes=1)
    settings.EMAIL_PORT = port
    assert services.send_handoff_notices(now + timedelta(seconds=30)) == 0  # not due yet
    assert smtp_server == []
    assert services.send_handoff_notices(now + timedelta(minutes=1)) == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.SENT, 2)
    assert notice.sent_at == now + timedelta(minutes=1)
    assert len(_to_dan(smtp_server)) == 1
    assert _to_dan(smtp_server)[0].startswith("You are on call for Checkout primary from ")


def test_a_notice_that_keeps_failing_gives_up_with_the_error_on_the_row(dan, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    now = timezone.now()
    services.send_handoff_notices(now)
    for minutes in (1, 3, 7, 15, 31):
        services.send_handoff_notices(now + timedelta(minutes=minutes))
    notice = HandoffNotice.objects.get(user=dan, kind="upcoming")
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, services.NOTICES.max_attempts)
    assert notice.last_error.startswith("SMTP")


def test_a_notice_is_sent_once_when_two_sweeps_run(dan, smtp_server):
    now = timezone.now()
    assert services.send_handoff_notices(now) == 1
    assert services.send_handoff_notices(now) == 0
    notice = HandoffNotice.objects.get(user=dan)
    assert services.deliver_notice(notice.pk, now + timedelta(hours=1)) is False
    assert len(_to_dan(smtp_server)) == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_sweeps_send_a_notice_once(dan, smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on both)")
    now, start = timezone.now(), threading.Barrier(2)

    def sweep():
        start.wait()
        try:
            services.send_handoff_notices(now)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert HandoffNotice.objects.get(user=dan).status == NoticeStatus.SENT
    assert len(_to_dan(smtp_server)) == 1


def test_a_stale_claim_is_released_and_the_notice_sent(dan, smtp_server):
    now = timezone.now()
    notice = _claimed_notice(dan, now - services.NOTICES.stale_after - timedelta(seconds=1))
    assert services.send_handoff_notices(now) == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.SENT, 2)
    assert len(_to_dan(smtp_server)) == 1
    # The worker that claimed it may have sent it before dying: the same Message-ID, so a mail
    # client shows one notice.
    assert smtp_server[-1]["Message-ID"] == message_id(f"relay-handoff-{notice.pk}")


def test_a_fresh_claim_is_left_to_its_worker(dan, smtp_server):
    now = timezone.now()
    notice = _claimed_notice(dan, now - timedelta(seconds=10))
    assert services.send_handoff_notices(now) == 0
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
    assert smtp_server == []


def _claimed_notice(dan, claimed_at) -> HandoffNotice:
    """The notice as a worker left it when it died after claiming it."""
    override = Override.objects.get(user=dan)
    return HandoffNotice.objects.create(schedule=override.schedule, user=dan, kind="upcoming",
                                        shift_start=override.start, shift_end=override.end,
                                        due_at=claimed_at, claimed_at=claimed_at, attempts=1)
