"""Outgoing webhooks: incident events POSTed as JSON to subscribed automation endpoints.

timeline.record() calls enqueue() for every entry, in the transaction of the change, so each event
is an outbox row (WebhookDelivery) before anything leaves the process. A task claims the row
(config.outbox, policy DELIVERIES), signs the body (HMAC-SHA256 over "<timestamp>.<body>") and
retries with exponential backoff.
The POST itself goes through config.outbound, which refuses private addresses and redirects.
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from config import outbound
from config.outbox import Outbox, doubling
from incidents.models import (
    EntryKind,
    Incident,
    Status,
    TimelineEntry,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

# 6 attempts, retried after 30 s, 1, 2, 4 and 8 minutes; a worker killed mid-delivery releases
# its claim after the stale timeout (5 minutes by default) and the event is POSTed again.
DELIVERIES = Outbox(
    name="webhook delivery",
    stale_after=timedelta(seconds=settings.RELAY_WEBHOOK_CLAIM_STALE_SECONDS),
    retry_delays=doubling(timedelta(seconds=30), 5),
    due_field="next_attempt_at",
    done_field="delivered_at",
)
MAX_ATTEMPTS = DELIVERIES.max_attempts
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
    if not DELIVERIES.claim(WebhookDelivery, delivery_id, timezone.now()):
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
    if not error and code is not None and 200 <= code < 300:
        DELIVERIES.record_success(delivery, now, response_code=code, last_error="")
    else:
        DELIVERIES.record_failure(delivery, error, now, response_code=code)


def retry_due() -> int:
    """Every minute: release expired claims and attempt every pending delivery that is due."""
    now = timezone.now()
    DELIVERIES.release_stale(WebhookDelivery, now)
    ids = DELIVERIES.due_ids(WebhookDelivery, now)
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)
