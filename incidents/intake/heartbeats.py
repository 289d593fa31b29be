"""Heartbeat monitors: a ping records the time; a check raises an alert for each monitor past its
due time, and the next ping resolves that alert."""

from django.db import transaction
from django.utils import timezone

from incidents.intake import keys, pipeline
from incidents.intake.formats.events import Action, AlertEvent
from incidents.models import Heartbeat, Integration

DEDUP_KEY = "heartbeat-missed"


def ping(ref: keys.IntegrationRef) -> None:
    was_down = Heartbeat.objects.filter(integration_id=ref.id, is_down=True).update(
        is_down=False, last_ping_at=timezone.now())
    if not was_down:
        Heartbeat.objects.filter(integration_id=ref.id).update(last_ping_at=timezone.now())
        return
    pipeline.resolve_alerts(ref, DEDUP_KEY, reason="heartbeat received")


def check_missed() -> int:
    """Raise one alert per monitor that missed its ping (task, every minute)."""
    raised = 0
    for heartbeat in Heartbeat.objects.filter(is_down=False).select_related("integration"):
        if heartbeat.due_at <= timezone.now():
            raised += _mark_down(heartbeat.pk)
    return raised


def _mark_down(heartbeat_id: int) -> int:
    with transaction.atomic():
        # Claim: only one checker raises the alert for this miss.
        claimed = Heartbeat.objects.filter(pk=heartbeat_id, is_down=False).update(is_down=True)
        if not claimed:
            return 0
        heartbeat = Heartbeat.objects.select_related("integration").get(pk=heartbeat_id)
    ref = _ref(heartbeat.integration)
    pipeline.ingest_one(ref, AlertEvent(
        action=Action.TRIGGER, dedup_key=DEDUP_KEY, source_severity="error",
        summary=f"Heartbeat missed: {heartbeat.integration.name}",
        source="relay heartbeat",
        details={"interval_minutes": heartbeat.interval_minutes,
                 "last_ping_at": heartbeat.last_ping_at.isoformat()
                 if heartbeat.last_ping_at else None}))
    return 1


def _ref(integration: Integration) -> keys.IntegrationRef:
    return keys.IntegrationRef(
        id=integration.pk, service_id=integration.service_id, format=integration.format,
        name=integration.name, rate_limit_per_minute=integration.rate_limit_per_minute,
        email_dedup=integration.email_dedup)
