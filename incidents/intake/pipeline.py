"""The alert pipeline: normalised events (from incidents.intake.formats) → stored alerts →
incidents.

Hot path, a repeat of an open alert: one statement (the dedup upsert). A new alert is durable the
moment that statement commits; grouping, rules and declare/update then run in their own
transaction, and a sweep (process_pending) retries any alert left unprocessed, so an accepted
alert is never lost. That second transaction therefore need not wait for its WAL flush (on
PostgreSQL it commits with synchronous_commit off): a crash can only undo it, which leaves the
alert unprocessed for the sweep. A new alert joining an open incident whose timeline already names
enough alerts (the bulk of a storm) costs two statements: the upsert and one UPDATE that finds the
incident, claims the alert and links it (_join_quietly), because the service's settings, rules and
maintenance windows come from a per-process cache. The hot statements are prepared (config.db).
"""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from config.db import hot_cursor
from incidents import services
from incidents.intake import hot, rules
from incidents.intake.formats.events import Action, AlertEvent, ChangeEventData
from incidents.intake.keys import IntegrationRef
from incidents.intake.routing import Routing, full_timelines, routing_for
from incidents.models import (
    OPEN_STATUSES,
    Alert,
    AlertStatus,
    ChangeEvent,
    EntryKind,
    Incident,
    Service,
    Status,
)
from incidents.timeline import record

log = logging.getLogger(__name__)

PENDING_GRACE = timedelta(minutes=1)
UNRESOLVED = (AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED, AlertStatus.SUPPRESSED)


# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    dedup_key: str
    alert_id: int | None
    new: bool


def ingest(ref: IntegrationRef, events: list[AlertEvent]) -> list[Outcome]:
    return [ingest_one(ref, event) for event in events]


def ingest_one(ref: IntegrationRef, event: AlertEvent) -> Outcome:
    if event.action == Action.RESOLVE:
        return Outcome(event.dedup_key, resolve_alerts(ref, event.dedup_key), False)
    if event.action == Action.ACKNOWLEDGE:
        return Outcome(event.dedup_key, acknowledge_alerts(ref, event.dedup_key), False)
    fields = _stored_fields(event)
    alert_id, count, processed = _upsert(ref, fields)
    if count == 1 and not processed:
        # The row just inserted holds exactly these fields: route it without reading it.
        alert = Alert(pk=alert_id, integration_id=ref.id, service_id=ref.service_id, **fields)
        _route_or_leave_to_sweep(alert, ref)
    return Outcome(event.dedup_key, alert_id, count == 1)


def _route_or_leave_to_sweep(alert: Alert, ref: IntegrationRef) -> None:
    try:
        if _join_quietly(alert, routing_for(ref.service_id)):
            return
        with transaction.atomic():
            _commit_without_flush()
            _route(alert, routing_for(ref.service_id), f"integration: {ref.name}")
    except Exception:
        # Whatever failed, the alert is stored: the sweep groups it later.
        log.exception("Grouping alert %s failed; the sweep will retry it", alert.pk)


def _commit_without_flush() -> None:
    """Only for work the sweep redoes if a crash loses it (see the module's docstring)."""
    # Not when called inside a caller's transaction: its other work may need the flush.
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")




def _stored_fields(event: AlertEvent) -> dict:
    return {
        "dedup_key": event.dedup_key[:255], "grouping_key": event.grouping_key[:255],
        "severity": event.severity, "summary": event.summary[:1024],
        "source": event.source[:255], "source_url": event.source_url[:2048],
        "details": {**event.details, "source_severity": event.source_severity},
        "raw": event.raw,
    }


def _upsert(ref: IntegrationRef, fields: dict) -> tuple[int, int, bool]:
    """Store the event: a new open alert, or one more count on the open alert with its key.
    The unique partial index makes parallel identical events meet on one row."""
    with hot_cursor() as cursor:
        db = cursor.db
        now = db.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(hot.UPSERT_SQL[db.vendor], [
            ref.id, ref.service_id, fields["dedup_key"], fields["grouping_key"],
            fields["severity"], fields["summary"], fields["source"], fields["source_url"],
            json.dumps(fields["details"]), json.dumps(fields["raw"]), now, now, False])
        alert_id, count, processed = cursor.fetchone()
    return alert_id, count, bool(processed)


def process(alert_id: int) -> None:
    """Group an alert left unprocessed (the sweep), as a new alert is grouped on arrival."""
    with transaction.atomic():
        alert = (Alert.objects.select_for_update(of=("self",))
                 .select_related("integration").get(pk=alert_id))
        if alert.processed:
            return
        if alert.status == AlertStatus.RESOLVED:
            _claim(alert)
            return
        _route(alert, routing_for(alert.service_id), _actor(alert))


def _claim(alert: Alert, **fields) -> bool:
    """Mark the alert processed (with these fields) unless someone already did; the UPDATE also
    locks the row until the transaction ends."""
    return Alert.objects.filter(pk=alert.pk, processed=False).update(processed=True,
                                                                      **fields) == 1


def _route(alert: Alert, routing: Routing, actor: str) -> None:
    """Apply the rules, then join the incident the alert belongs to or declare one."""
    now = timezone.now()
    decision = rules.decide(alert, routing.rules, now)
    alert.severity = decision.severity
    if decision.drop:
        _claim(alert, status=AlertStatus.SUPPRESSED, severity=alert.severity)
        return
    service = routing.service
    incident, flapping = _flapping_incident(alert, service, now), True
    if incident is None:
        incident, flapping = _open_incident_for(alert, service, now), False
    entry = incident is None or _worth_an_entry(incident, alert)
    if incident is not None and not (flapping or entry or _raises(incident, alert.severity)):
        # The bulk of a storm: one statement claims the alert and links it.
        _claim(alert, severity=alert.severity, incident=incident)
        return
    window = rules.active_among(routing.windows, now)
    pages = decision.pages and window is None
    with transaction.atomic():
        if incident is None:
            if not _claim(alert, severity=alert.severity):
                return
            incident = _declare_or_join(alert, service, decision, pages, now, actor)
            Alert.objects.filter(pk=alert.pk).update(incident=incident)
            entry = _worth_an_entry(incident, alert)
        elif not _claim(alert, severity=alert.severity, incident=incident):
            return
        elif flapping and incident.status == Status.RESOLVED:
            services.transition(incident, to=Status.INVESTIGATING, actor_label=actor,
                                note="Reopened: the alert is flapping.")
        alert.incident = incident
        _raise_severity(incident, alert, actor)
        if entry:
            record(incident, EntryKind.ALERT, actor_label=actor, new=alert.summary[:500],
                   data={"alert": alert.pk, "dedup_key": alert.dedup_key,
                         "severity": alert.severity, "source_url": alert.source_url,
                         "rules": decision.matched, "flapping": flapping,
                         "maintenance": window.reason if window else "", "paged": pages})




def _join_quietly(alert: Alert, routing: Routing) -> bool:
    """Link a new alert to its open incident in one statement when that is all _route would do;
    False (nothing changed) when _route must decide."""
    now = timezone.now()
    decision = rules.decide(alert, routing.rules, now)
    if decision.drop:
        return False
    service = routing.service
    sql = hot.JOIN_QUIETLY.format(
        alert=hot.table(Alert), incident=hot.table(Incident),
        incident_services=hot.table(Incident.services.through),
        open_statuses=", ".join(f"'{status}'" for status in OPEN_STATUSES),
        entries=ALERT_ENTRIES_PER_INCIDENT)
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "alert": alert.pk, "severity": decision.severity, "service": service.pk,
        "window_start": adapt(now - timedelta(minutes=service.group_window_minutes)),
        "flap_start": adapt(now - timedelta(minutes=service.flap_window_minutes)),
        "by_key": service.group_by == "key", "grouping_key": alert.grouping_key,
        "integration": alert.integration_id, "dedup_key": alert.dedup_key,
        "flap_threshold": service.flap_threshold,
    }
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None



def _raises(incident: Incident, severity: str) -> bool:
    # P1 is the most severe: a smaller label is a higher severity.
    return incident.is_open and severity < incident.severity


def _raise_severity(incident: Incident, alert: Alert, actor: str) -> None:
    """A more severe alert raises its incident's severity; intake never lowers it."""
    if not _raises(incident, alert.severity):
        return
    services.change_severity(incident, severity=alert.severity, actor_label=actor,
                             note=f"Raised by the alert “{alert.summary[:200]}”.")


def _declare_or_join(alert, service, decision, pages, now, actor) -> Incident:
    """Only declaring takes the service lock: parallel new alerts wait here, and the ones
    that were not first find the incident the first one declared."""
    Service.objects.select_for_update().filter(pk=service.pk).first()
    incident = _open_incident_for(alert, service, now)
    if incident is not None:
        return incident
    return services.declare(
        title=alert.summary[:200] or "Alert", severity=decision.severity,
        services=[service], actor_label=actor, description=_description(alert, actor),
        escalation_policy=decision.escalation_policy, page=pages)


# In a storm the alert list carries the detail; the timeline names the first alerts only (their
# firing and their resolution).
ALERT_ENTRIES_PER_INCIDENT = 20


def _worth_an_entry(incident: Incident, alert: Alert) -> bool:
    if incident.pk in full_timelines:
        return False
    earlier = Alert.objects.filter(incident=incident).exclude(pk=alert.pk).order_by()
    if earlier[:ALERT_ENTRIES_PER_INCIDENT].count() < ALERT_ENTRIES_PER_INCIDENT:
        return True
    full_timelines.add(incident.pk)
    return False


def _actor(alert: Alert) -> str:
    return f"integration: {alert.integration.name}"


def _description(alert: Alert, actor: str) -> str:
    source = actor.removeprefix("integration: ")
    lines = [f"Opened by the alert “{alert.summary}” from {source}."]
    if alert.source:
        lines.append(f"Source: {alert.source}")
    return "\n\n".join(lines)


def _open_incident_for(alert: Alert, service: Service, now) -> Incident | None:
    """The newest open incident of the service that had an alert (with the same grouping key,
    if the service groups by key) within the grouping window, in one statement.

    A scalar subquery with LIMIT 1 rather than EXISTS: the planner cannot turn it into a join,
    so it checks the service's few open incidents one by one, each through the alerts'
    incident index, stopping at the first recent alert; an EXISTS let it scan every alert of
    the service."""
    recent = Alert.objects.filter(
        incident=OuterRef("pk"),
        last_seen__gte=now - timedelta(minutes=service.group_window_minutes),
    ).exclude(pk=alert.pk)
    if service.group_by == "key":
        recent = recent.filter(grouping_key=alert.grouping_key)
    candidates = Incident.objects.filter(services=service, status__in=OPEN_STATUSES)
    return (candidates.annotate(recent_alert=Subquery(recent.order_by().values("pk")[:1]))
            .filter(recent_alert__isnull=False).order_by("-pk").first())


def _flapping_incident(alert: Alert, service: Service, now) -> Incident | None:
    """An alert that resolved and re-fired flap_threshold times within the flap window goes back
    to its last incident instead of declaring a new one."""
    resolved = Alert.objects.filter(
        integration_id=alert.integration_id, dedup_key=alert.dedup_key,
        status=AlertStatus.RESOLVED, incident__isnull=False,
        resolved_at__gte=now - timedelta(minutes=service.flap_window_minutes),
    ).order_by("-resolved_at")
    if not service.flap_threshold:
        return None
    recent = list(resolved.values_list("incident_id", flat=True)[: service.flap_threshold])
    if len(recent) < service.flap_threshold:
        return None
    incident = Incident.objects.get(pk=recent[0])
    return incident if incident.status in (*OPEN_STATUSES, Status.RESOLVED) else None




def resolve_alerts(ref: IntegrationRef, dedup_key: str, *, reason: str = "") -> int | None:
    """Resolve the open alert with this key; the incident follows when the service auto-resolves
    and none of its alerts is left open. Three prepared statements when that is all there is to
    do (the bulk of a storm's resolves); then the timeline entry and the incident's resolution
    when they are due."""
    unresolved = ", ".join(f"'{status}'" for status in UNRESOLVED)
    with transaction.atomic(), hot_cursor() as cursor:
        cursor.execute(hot.RESOLVE.format(alert=hot.table(Alert), unresolved=unresolved),
                       {"now": connection.ops.adapt_datetimefield_value(timezone.now()),
                        "integration": ref.id, "dedup_key": dedup_key})
        row = cursor.fetchone()
        if row is None:
            return None
        alert_id, incident_id = row
        if incident_id is None:
            return alert_id
        if connection.features.has_select_for_update:  # SQLite has one writer at a time anyway
            cursor.execute(hot.LOCK_INCIDENT.format(incident=hot.table(Incident)),
                           {"incident": incident_id})
        cursor.execute(hot.AFTER_RESOLVE.format(
            alert=hot.table(Alert), incident=hot.table(Incident), service=hot.table(Service),
            unresolved=unresolved, entries=ALERT_ENTRIES_PER_INCIDENT),
            {"alert": alert_id, "incident": incident_id, "service": ref.service_id})
        status, auto_resolve, open_left, named = cursor.fetchone()
        entry = incident_id not in full_timelines and named < ALERT_ENTRIES_PER_INCIDENT
        resolves = auto_resolve and not open_left and status in OPEN_STATUSES
        if entry or resolves:
            alert = Alert.objects.select_related("integration", "incident").get(pk=alert_id)
            _after_close(alert, reason=reason, entry=entry, resolves=resolves)
    return alert_id


def close_alert(alert: Alert, *, reason: str = "") -> None:
    """Inside a transaction, with the alert row locked."""
    alert.status, alert.resolved_at = AlertStatus.RESOLVED, timezone.now()
    alert.save(update_fields=["status", "resolved_at"])
    incident = alert.incident
    if incident is None:
        return
    # As in resolve_alerts: count the open alerts only once the incident's row is locked.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    alert.incident = incident
    open_left = Alert.objects.filter(incident=incident, status__in=UNRESOLVED).exists()
    _after_close(alert, reason=reason, entry=_worth_an_entry(incident, alert),
                 resolves=alert.service.auto_resolve and not open_left and incident.is_open)


def _after_close(alert: Alert, *, reason: str, entry: bool, resolves: bool) -> None:
    """A resolved alert on its incident's timeline, and the incident resolved with its last
    alert (when its service says so)."""
    if entry:
        record(alert.incident, EntryKind.ALERT_RESOLVED, actor_label=_actor(alert),
               new=alert.summary[:500], data={"alert": alert.pk, "reason": reason})
    if resolves:
        services.transition(alert.incident, to=Status.RESOLVED, actor_label=_actor(alert),
                            note="All alerts resolved.")


def acknowledge_alerts(ref: IntegrationRef, dedup_key: str) -> int | None:
    with transaction.atomic():
        alert = (Alert.objects.select_for_update(of=("self",))
                 .select_related("integration", "incident")
                 .filter(integration_id=ref.id, dedup_key=dedup_key,
                         status=AlertStatus.TRIGGERED).first())
        if alert is None:
            return None
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.save(update_fields=["status"])
        incident = alert.incident
        if incident is not None and incident.status == Status.TRIGGERED:
            services.acknowledge(incident, actor_label=_actor(alert))
    return alert.pk


def record_change(ref: IntegrationRef, data: ChangeEventData) -> ChangeEvent:
    return ChangeEvent.objects.create(
        service_id=ref.service_id, integration_id=ref.id, summary=data.summary,
        source=data.source, happened_at=data.happened_at or timezone.now(),
        details=data.details, links=data.links)


# --- sweeps (recurring tasks) -----------------------------------------------------------------


def process_pending() -> int:
    """Retry alerts stored but never grouped (the process died or grouping failed)."""
    stale = timezone.now() - PENDING_GRACE
    pending = Alert.objects.filter(processed=False, first_seen__lt=stale).values_list(
        "pk", flat=True)
    done = 0
    for alert_id in list(pending[:500]):
        process(alert_id)
        done += 1
    return done


def close_stale_alerts() -> int:
    """Close open alerts with no new event for their service's stale_alert_days."""
    now = timezone.now()
    closed = 0
    for service in Service.objects.filter(stale_alert_days__isnull=False):
        cutoff = now - timedelta(days=service.stale_alert_days)
        ids = Alert.objects.filter(service=service, status__in=UNRESOLVED,
                                   last_seen__lt=cutoff).values_list("pk", flat=True)
        for alert_id in list(ids):
            closed += _close_if_still_stale(alert_id, cutoff)
    return closed


def _close_if_still_stale(alert_id: int, cutoff) -> int:
    with transaction.atomic():
        alert = (Alert.objects.select_for_update().select_related("integration", "service")
                 .filter(pk=alert_id, status__in=UNRESOLVED, last_seen__lt=cutoff).first())
        if alert is None:
            return 0
        close_alert(alert, reason="stale")
    return 1
