"""SLA warnings and breaches as a timer-engine source (config/timers.py), registered in
CommsConfig.ready(). Announcing is database work (a timeline entry and notice rows; the page
outbox sends them), so it runs in the ticker thread itself."""

from datetime import datetime

from comms.sla import services
from config.timers import Source
from incidents.models import EntryKind, TimelineEntry


def _run(clock_id: int, now: datetime) -> None:
    services.announce(clock_id, now)


def lateness(since: datetime) -> list[float]:
    """How late each warning and breach was announced after its due time (late_ms on the
    timeline entry), for bench/sla.py."""
    data = TimelineEntry.objects.filter(
        kind__in=[EntryKind.SLA_WARNING, EntryKind.SLA_BREACH], created_at__gte=since
    ).values_list("data", flat=True)
    return [d["late_ms"] / 1000 for d in data if "late_ms" in d]


SLA_ALERTS = Source(name="sla-alerts", due=services.due_alerts, run=_run, lateness=lateness)
