"""Outgoing webhooks: incident events POSTed as JSON to subscribed automation endpoints.

timeline.record() calls enqueue() for every entry, in the transaction of the change, so each event
is an outbox row (WebhookDelivery) before anything leaves the process. A task claims the row,
signs the body (HMAC-SHA256 over "<timestamp>.<body>") and retries with exponential backoff.
The POST itself goes through config.outbound, which refuses private addresses and redirects.
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from config import outbound
from incidents.models import (
    DeliveryStatus,
    EntryKind,
    Incident,
    Status,
    TimelineEntry,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
CLAIM_EXPIRY = timedelta(minutes=5)  # a worker killed mid-delivery releases its claim after this
DELIVER_TASK = "incidents.tasks.deliver_webhook"
SIGNATURE_HEADER = "X-Relay-Signature"
TIMESTAMP_HEADER = "X-Relay-Timestamp"


def events_for(entry: TimelineEntry) -> list[str]:
    if entry.kind == EntryKind.DECLARED:
        return [WebhookEvent.DECLARED]
    if entry.kind == EntryKind.SEVERITY:
        return [WebhookEvent.SEVERITY_CHANGED]
    if entry.kind == EntryKind.NOTE:
        return [WebhookEvent.NOTE_ADDED]
    if entry.kind != EntryKind.STATUS:
        return []
    extra = {Status.ACKNOWLEDGED: [WebhookEvent.ACKNOWLEDGED],
             Status.RESOLVED: [WebhookEvent.RESOLVED]}.get(entry.new_value, [])
    return [WebhookEvent.STATUS_CHANGED, *extra]


def enqueue(incident: Incident, entry: TimelineEntry) -> None:
    """Outbox rows for the subscriptions that want this entry's events (inside record())."""
    names = events_for(entry)
    if not names or incident.restricted:  # restricted incidents never leave the portal
        return
    subscriptions = WebhookSubscription.objects.filter(active=True).filter(
        Q(service=None) | Q(service__incidents=incident.pk)).distinct()
    rows = [
        WebhookDelivery(subscription=sub, event=name, incident_id=incident.pk,
                        payload=_payload(name, incident, entry))
        for sub in subscriptions for name in names if not sub.events or name in sub.events
    ]
    if rows:
        created = WebhookDelivery.objects.bulk_create(rows)
        ids = [row.pk for row in created]
        transaction.on_commit(lambda: _start(ids))


def _payload(name: str, incident: Incident, entry: TimelineEntry) -> dict:
    return {
        "event": name,
        "occurred_at": entry.created_at.isoformat(),
        "incident": {
            "number": incident.pk, "reference": incident.reference, "title": incident.title,
            "severity": incident.severity, "status": incident.status,
            "url": settings.SITE_URL + reverse("incidents:detail", args=[incident.pk]),
        },
        "entry": {"seq": entry.seq, "kind": entry.kind, "old_value": entry.old_value,
                  "new_value": entry.new_value, "note": entry.note,
                  "actor": entry.actor.get_username() if entry.actor else entry.actor_label},
    }


def _start(ids: list[int]) -> None:
    for delivery_id in ids:
        async_task(DELIVER_TASK, delivery_id, task_name=f"webhook-{delivery_id}")


def send_test(subscription: WebhookSubscription) -> WebhookDelivery:
    """The test button: a `ping` delivery through the same outbox and task."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            subscription=subscription, event="ping",
            payload={"event": "ping", "subscription": subscription.name,
                     "occurred_at": timezone.now().isoformat()})
        transaction.on_commit(lambda: _start([delivery.pk]))
    return delivery


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def deliver(delivery_id: int) -> str:
    """One attempt. Claiming first: two workers never send the same attempt."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, claimed_at=None,
        next_attempt_at__lte=now).update(claimed_at=now)
    if not claimed:
        return "not due or claimed elsewhere"
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    code, error = _post(delivery)
    _record_attempt(delivery, code, error)
    return delivery.status


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    try:
        response = outbound.post_json(delivery.subscription.url, body, headers={
            "User-Agent": "Relay-Webhooks/1",
            "X-Relay-Event": delivery.event,
            "X-Relay-Delivery": str(delivery.pk),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(delivery.subscription.secret, timestamp, body),
        })
    except outbound.OutboundError as error:
        return error.status, str(error)
    return response.status, ""


def _record_attempt(delivery: WebhookDelivery, code: int | None, error: str) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.response_code, delivery.last_error = code, error[:500]
    delivery.claimed_at = None
    if not error and code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        log.warning("webhook delivery %s failed for good: %s", delivery.pk, error)
    else:
        delivery.next_attempt_at = now + FIRST_RETRY * 2 ** (delivery.attempts - 1)
        log.info("webhook delivery %s failed (attempt %s): %s", delivery.pk, delivery.attempts,
                 error)
    delivery.save(update_fields=["attempts", "response_code", "last_error", "claimed_at",
                                 "status", "delivered_at", "next_attempt_at"])


def retry_due() -> int:
    """Every minute: release expired claims and attempt every pending delivery that is due."""
    now = timezone.now()
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING,
                                   claimed_at__lt=now - CLAIM_EXPIRY).update(claimed_at=None)
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, claimed_at=None,
                                         next_attempt_at__lte=now).values_list("pk", flat=True)
    ids = list(due[:200])
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)
