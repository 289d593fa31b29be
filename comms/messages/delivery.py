"""Delivering a published customer message: one MessageDelivery row per recipient, an outbox
(config/outbox.py) with retries and backoff. Publishing enqueues a task per row; the timer
engine hands on rows nobody is delivering (retries, and rows whose task was lost).

The email is plain text: the message's subject and body, to the contact, from
settings.DEFAULT_FROM_EMAIL; nothing internal. A recipient that fails for good is on the
incident's timeline (MESSAGE, action delivery_failed)."""

import smtplib
from datetime import datetime, timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from comms.models import DeliveryStatus, MessageDelivery
from config.outbox import Outbox, doubling
from config.timers import Source
from incidents.models import EntryKind, Incident
from incidents.timeline import record

ROBOT = "Relay customer updates"
MESSAGES = Outbox(
    name="customer message",
    stale_after=timedelta(seconds=settings.RELAY_MESSAGE_CLAIM_STALE_SECONDS),
    retry_delays=doubling(timedelta(minutes=1), 4),  # 1, 2, 4, 8 minutes, then failed
    done_field="finished_at",
)
# A row younger than this has its own task from the publication: the ticker leaves it alone.
GRACE = timedelta(seconds=5)
REDISPATCH = 60.0


def due_deliveries(now: datetime) -> list[int]:
    # message_delivery_due_idx: pending rows only.
    return MESSAGES.due_ids(MessageDelivery, now - GRACE)


def deliver(delivery_id: int, now: datetime | None = None) -> str | None:
    """Send one due delivery; its new status, or None when it was not ours to send."""
    now = now or timezone.now()
    if not MESSAGES.claim(MessageDelivery, delivery_id, now):
        return None
    row = MessageDelivery.objects.select_related("message").get(pk=delivery_id)
    try:
        _send(row)
    except (smtplib.SMTPException, OSError) as error:
        if MESSAGES.record_failure(row, f"SMTP: {error}", now) is None:
            _failed_for_good(row)
        return row.status
    MESSAGES.record_success(row, now)
    return row.status


def _send(row: MessageDelivery) -> None:
    email = EmailMessage(subject=row.message.subject, body=row.message.body,
                         from_email=settings.DEFAULT_FROM_EMAIL,
                         to=[formataddr((" ".join(row.name.split()), row.email))])
    email.send(fail_silently=False)


def _failed_for_good(row: MessageDelivery) -> None:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=row.message.incident_id)
        record(incident, EntryKind.MESSAGE, actor_label=ROBOT, new=DeliveryStatus.FAILED,
               note=f"Customer message #{row.message_id} could not be delivered to "
                    f"{row.name} <{row.email}> after {row.attempts} attempts: {row.last_error}",
               data={"action": "delivery_failed", "message": row.message_id,
                     "delivery": row.pk, "email": row.email})


def _hand_on(delivery_id: int) -> None:
    async_task("comms.messages.tasks.deliver_message", delivery_id)


DELIVERIES = Source(name="customer-message-deliveries", due=due_deliveries, run=deliver,
                    dispatch=_hand_on, redispatch=REDISPATCH)
