"""Deliveries of published messages over real SMTP on loopback, with the outbox's retries."""

from datetime import timedelta

from django.utils import timezone

from comms.messages import delivery, services
from comms.models import DeliveryStatus, MessageDelivery
from incidents.models import EntryKind


def _publish(incident, csm, capture, execute=True):
    message = services.draft(incident, by=csm, phase="investigating",
                             subject="Checkout is slow for some customers",
                             body="We are investigating slow checkouts.\nNext update soon.")
    with capture(execute=execute):
        services.publish(message, by=csm)
    return message


def test_publication_emails_each_contact(incident, csm, customer, smtp_server,
                                         django_capture_on_commit_callbacks):
    message = _publish(incident, csm, django_capture_on_commit_callbacks)
    assert sorted(m["To"] for m in smtp_server) == ["Contact 1 <ops@acme.test>",
                                                    "Contact 2 <cto@acme.test>"]
    email = smtp_server[0]
    assert email["Subject"] == "Checkout is slow for some customers"
    assert email.get_content().replace("\r\n", "\n").strip() == message.body
    assert "Checkout returns 502" not in email.as_string()  # the internal title stays inside
    rows = MessageDelivery.objects.filter(message=message)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.DELIVERED, 1)}


def test_failing_recipient_is_retried_then_delivered(incident, csm, customer, smtp_server,
                                                     django_capture_on_commit_callbacks):
    smtp_server.refuse["cto@acme.test"] = 451
    message = _publish(incident, csm, django_capture_on_commit_callbacks)
    row = MessageDelivery.objects.get(message=message, email="cto@acme.test")
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert "451" in row.last_error
    assert [m["To"] for m in smtp_server] == ["Contact 1 <ops@acme.test>"]
    # Not due before its backoff; due after it.
    assert delivery.deliver(row.pk, timezone.now()) is None
    later = row.due_at + timedelta(seconds=1)
    assert row.pk in delivery.due_deliveries(later + delivery.GRACE)
    del smtp_server.refuse["cto@acme.test"]
    assert delivery.deliver(row.pk, later) == DeliveryStatus.DELIVERED
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert sorted(m["To"] for m in smtp_server)[0] == "Contact 1 <ops@acme.test>"
    assert len(smtp_server) == 2


def test_recipient_failing_for_good_is_on_the_timeline(incident, csm, customer, smtp_server,
                                                       django_capture_on_commit_callbacks):
    smtp_server.refuse["cto@acme.test"] = 550
    message = _publish(incident, csm, django_capture_on_commit_callbacks)
    row = MessageDelivery.objects.get(message=message, email="cto@acme.test")
    now = timezone.now()
    while row.status == DeliveryStatus.PENDING:
        now = row.due_at + timedelta(seconds=1)
        delivery.deliver(row.pk, now)
        row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, delivery.MESSAGES.max_attempts)
    assert "550" in row.last_error
    entry = incident.timeline.get(kind=EntryKind.MESSAGE, data__action="delivery_failed")
    assert "cto@acme.test" in entry.note and entry.data["delivery"] == row.pk


def test_ticker_hands_on_orphaned_deliveries_only(incident, csm, customer, smtp_server,
                                                  django_capture_on_commit_callbacks):
    message = _publish(incident, csm, django_capture_on_commit_callbacks, execute=False)
    rows = list(MessageDelivery.objects.filter(message=message).values_list("pk", flat=True))
    now = timezone.now()
    assert delivery.due_deliveries(now) == []  # their own tasks are on the way
    assert sorted(delivery.due_deliveries(now + delivery.GRACE * 2)) == sorted(rows)
    for pk in rows:
        delivery.DELIVERIES.run(pk, now + delivery.GRACE * 2)
    assert len(smtp_server) == 2
