"""The alert pipeline: normalised events (from incidents.integrations) → stored alerts →
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

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from redis.exceptions import RedisError

from config.db import hot_cursor
from incidents import rules, services
from incidents.integrations.events import Action, AlertEvent, ChangeEventData
from incidents.models import (
    OPEN_STATUSES,
    Alert,
    AlertRule,
    AlertStatus,
    ChangeEvent,
    EntryKind,
    Incident,
    Integration,
    MaintenanceWindow,
    Service,
    Status,
)
from incidents.timeline import record

log = logging.getLogger(__name__)

KEY_CACHE_SECONDS = 10  # a rotated or disabled key may work this long in other processes
# A changed service setting, rule or maintenance window reaches other processes this late (this
# process forgets at once, through forget_routing on save and delete).
ROUTING_CACHE_SECONDS = 5
PENDING_GRACE = timedelta(minutes=1)
UNRESOLVED = (AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED, AlertStatus.SUPPRESSED)


# --- keys and integrations -------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrationRef:
    """What the hot path needs of an integration, cached per process."""

    id: int
    service_id: int
    format: str
    name: str
    rate_limit_per_minute: int
    email_dedup: str = "message_id"
    signing_secret: str = ""


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_key() -> str:
    # 32 hex characters: the length PagerDuty clients check routing keys against.
    return secrets.token_hex(16)


def create_integration(*, service: Service, format: str, name: str = "",
                       **settings) -> tuple[Integration, str]:
    """A new integration and its key; the key is not stored and cannot be shown again."""
    raw = _new_key()
    integration = Integration(service=service, format=format, key_hash=hash_key(raw),
                              key_prefix=raw[:8], name=name or f"{service.name} {format}",
                              **settings)
    integration.full_clean()
    integration.save()
    return integration, raw


def rotate_key(integration: Integration) -> str:
    raw = _new_key()
    integration.key_hash, integration.key_prefix = hash_key(raw), raw[:8]
    integration.rotated_at = timezone.now()
    integration.save(update_fields=["key_hash", "key_prefix", "rotated_at"])
    _key_cache.clear()
    return raw


_key_cache: dict[str, tuple[float, IntegrationRef | None]] = {}


def find_integration(raw_key: str, format: str | None = None) -> IntegrationRef | None:
    """The enabled integration with this key (of this format), or None: callers answer 404
    either way, so nobody learns whether a key exists."""
    digest = hash_key(raw_key)
    cached = _key_cache.get(digest)
    if cached is None or cached[0] < time.monotonic():
        row = Integration.objects.filter(key_hash=digest, enabled=True).values(
            "id", "service_id", "format", "name", "rate_limit_per_minute",
            "email_dedup", "signing_secret").first()
        cached = (time.monotonic() + KEY_CACHE_SECONDS, IntegrationRef(**row) if row else None)
        _key_cache[digest] = cached
    ref = cached[1]
    if ref is None or (format and ref.format != format):
        return None
    return ref


def forget_keys() -> None:
    """Forget every per-process cache of intake (keys, routing, timeline-entry counts)."""
    _key_cache.clear()
    forget_routing()


# --- routing: a service's settings, rules and maintenance windows, cached per process ----------


@dataclass(frozen=True)
class Routing:
    service: Service
    rules: list[AlertRule]
    windows: list[MaintenanceWindow]  # those not over when read
    expires: float


_routing_cache: dict[int, Routing] = {}
# Incidents known to name ALERT_ENTRIES_PER_INCIDENT alerts on their timeline already: alerts are
# never detached, so once full an incident stays full and needs no more counting.
_full_timelines: set[int] = set()


def routing_for(service_id: int) -> Routing:
    cached = _routing_cache.get(service_id)
    if cached is None or cached.expires < time.monotonic():
        service = Service.objects.select_related("escalation_policy").get(pk=service_id)
        cached = Routing(service, rules.rules_for(service),
                         rules.windows_not_over(service, timezone.now()),
                         time.monotonic() + ROUTING_CACHE_SECONDS)
        _routing_cache[service_id] = cached
    return cached


def forget_routing(**signal_kwargs) -> None:
    """Receiver of save and delete of services, rules and maintenance windows."""
    _routing_cache.clear()
    _full_timelines.clear()


SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana lets the contact point name its optional Timestamp Header; Relay reads this name, the one
# Grafana's own examples use.
TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
MAX_SKEW_SECONDS = 300


class BadSignature(Exception):
    pass


def check_signature(ref: IntegrationRef, body: bytes, signature: str | None,
                    timestamp: str | None = None, *, now: float | None = None) -> None:
    """Grafana sends the lowercase hex HMAC-SHA256, with the contact point's secret, of the raw
    body, or with a Timestamp Header set, of `<unix seconds>:<body>`. That timestamp must be
    within MAX_SKEW_SECONDS of our clock, so a captured request cannot be replayed later (nor
    stripped of its timestamp: the body alone was not what was signed). Integrations without a
    secret accept unsigned requests."""
    if not ref.signing_secret:
        return
    if not signature:
        raise BadSignature(f"This integration requires the {SIGNATURE_HEADER} header.")
    if not signature.isascii():
        # compare_digest takes only ASCII text; anything else cannot be our hex digest.
        raise BadSignature(f"The {SIGNATURE_HEADER} header is not a hex digest.")
    if timestamp and not timestamp.isascii():
        raise BadSignature(f"The {TIMESTAMP_HEADER} header is not a Unix time in seconds.")
    signed = body if not timestamp else timestamp.encode() + b":" + body
    expected = hmac.new(ref.signing_secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        over = f"the {TIMESTAMP_HEADER} header and the body" if timestamp else "the body"
        raise BadSignature(f"The {SIGNATURE_HEADER} header does not match {over}.")
    if timestamp:
        _check_fresh(timestamp, time.time() if now is None else now)


def _check_fresh(timestamp: str, now: float) -> None:
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise BadSignature(f"The {TIMESTAMP_HEADER} header is not a Unix time in seconds.")
    skew = abs(now - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise BadSignature(
            f"The {TIMESTAMP_HEADER} header is {int(skew)} s away from Relay's clock (at most "
            f"{MAX_SKEW_SECONDS} s): a replayed request, or a sender clock out of sync.")


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def check_rate(ref: IntegrationRef) -> None:
    """Fixed one-minute windows counted in the default cache: Redis when REDIS_URL is set, so all
    web processes share one count; else per process. If Redis does not answer, the request goes
    through uncounted: a lost alert costs more than a missed limit."""
    now = time.time()
    window = int(now // 60)
    try:
        count = _count_request(f"relay:intake-rate:{ref.id}:{window}")
    except RedisError:
        _warn_uncounted(ref, window)
        return
    if count > ref.rate_limit_per_minute:
        raise Throttled(max(1, int((window + 1) * 60 - now) + 1))


def _count_request(key: str) -> int:
    """incr is atomic on Redis, and add sets the key with its expiry only if absent: parallel
    requests in any process get distinct counts. incr first: all but a minute's first request
    find the key there."""
    try:
        return cache.incr(key)
    except ValueError:  # the minute's first request (or the key just expired)
        pass
    if cache.add(key, 1, timeout=70):
        return 1
    try:
        return cache.incr(key)  # another request added it first
    except ValueError:  # and it expired since: count this one as the first
        cache.set(key, 1, timeout=70)
        return 1


_uncounted_warned: set[tuple[int, int]] = set()


def _warn_uncounted(ref: IntegrationRef, window: int) -> None:
    # Once per integration and minute in this process: a storm must not flood the log as well.
    if (ref.id, window) in _uncounted_warned:
        return
    if len(_uncounted_warned) > 10_000:
        _uncounted_warned.clear()
    _uncounted_warned.add((ref.id, window))
    log.warning("Rate of integration %s not counted this minute: the cache (Redis) does not "
                "answer; accepting requests without a limit", ref.id, exc_info=True)


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


_UPSERT = """
INSERT INTO incidents_alert (integration_id, service_id, dedup_key, grouping_key, status,
    severity, summary, source, source_url, details, raw, count, first_seen, last_seen, processed)
VALUES (%s, %s, %s, %s, 'triggered', %s, %s, %s, %s, {json}, {json}, 1, %s, %s, %s)
ON CONFLICT (integration_id, dedup_key) WHERE NOT (status = 'resolved')
DO UPDATE SET count = incidents_alert.count + 1, last_seen = excluded.last_seen,
    raw = excluded.raw
RETURNING id, count, processed
"""


_UPSERT_SQL = {vendor: _UPSERT.format(json=json)
               for vendor, json in (("postgresql", "%s::jsonb"), ("sqlite", "%s"))}


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
        cursor.execute(_UPSERT_SQL[db.vendor], [
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


# The bulk of a storm in one statement: a new alert joins the newest open incident of its service
# that had an alert (with the same grouping key, if the service groups by key) within the
# grouping window, when _route would do nothing else: the incident's timeline already names
# enough alerts, the alert is no more severe than the incident, and it is not flapping (no
# resolved alert with its key in the flap window: then _route decides). Otherwise nothing
# changes and _route runs. The same lookup as _open_incident_for, in SQL planned once; the
# service's open incidents are found first (MATERIALIZED), so the recent-alert check runs for
# them only, not for every open incident of every service.
_JOIN_QUIETLY = """
WITH open_here AS MATERIALIZED (
    SELECT i.id FROM {incident} i JOIN {incident_services} s ON s.incident_id = i.id
    WHERE s.service_id = %(service)s AND i.status IN ({open_statuses})
)
UPDATE {alert} SET processed = TRUE, severity = %(severity)s, incident_id = target.id
FROM (
    SELECT o.id FROM open_here o
    WHERE (SELECT a.id FROM {alert} a
           WHERE a.incident_id = o.id AND a.last_seen >= %(window_start)s AND a.id <> %(alert)s
             AND (NOT %(by_key)s OR a.grouping_key = %(grouping_key)s)
           LIMIT 1) IS NOT NULL
    ORDER BY o.id DESC LIMIT 1
) AS target, {incident} joined
WHERE {alert}.id = %(alert)s AND NOT {alert}.processed AND joined.id = target.id
  AND joined.severity <= %(severity)s
  AND (SELECT count(*) FROM (SELECT 1 FROM {alert} e WHERE e.incident_id = joined.id
                             AND e.id <> %(alert)s LIMIT {entries}) AS named) >= {entries}
  AND NOT EXISTS (SELECT 1 FROM {alert} r
                  WHERE r.integration_id = %(integration)s AND r.dedup_key = %(dedup_key)s
                    AND r.status = 'resolved' AND r.resolved_at >= %(flap_start)s)
RETURNING incident_id
"""


def _join_quietly(alert: Alert, routing: Routing) -> bool:
    """Link a new alert to its open incident in one statement when that is all _route would do;
    False (nothing changed) when _route must decide."""
    now = timezone.now()
    decision = rules.decide(alert, routing.rules, now)
    if decision.drop:
        return False
    service = routing.service
    sql = _JOIN_QUIETLY.format(
        alert=_table(Alert), incident=_table(Incident),
        incident_services=_table(Incident.services.through),
        open_statuses=", ".join(f"'{status}'" for status in OPEN_STATUSES),
        entries=ALERT_ENTRIES_PER_INCIDENT)
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "alert": alert.pk, "severity": decision.severity, "service": service.pk,
        "window_start": adapt(now - timedelta(minutes=service.group_window_minutes)),
        "flap_start": adapt(now - timedelta(minutes=service.flap_window_minutes)),
        "by_key": service.group_by == "key", "grouping_key": alert.grouping_key,
        "integration": alert.integration_id, "dedup_key": alert.dedup_key,
    }
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


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
    if incident.pk in _full_timelines:
        return False
    earlier = Alert.objects.filter(incident=incident).exclude(pk=alert.pk).order_by()
    if earlier[:ALERT_ENTRIES_PER_INCIDENT].count() < ALERT_ENTRIES_PER_INCIDENT:
        return True
    _full_timelines.add(incident.pk)
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


_RESOLVE = """
UPDATE {alert} SET status = 'resolved', resolved_at = %(now)s
WHERE integration_id = %(integration)s AND dedup_key = %(dedup_key)s
  AND status IN ({unresolved})
RETURNING id, incident_id
"""
# Read with the incident's row locked first (its own statement, so this one's snapshot is taken
# after the wait): two resolves of its last two alerts cannot both see the other still open, the
# second waits for the first to commit and then sees it resolved.
_LOCK_INCIDENT = "SELECT 1 FROM {incident} WHERE id = %(incident)s FOR UPDATE"
_AFTER_RESOLVE = """
SELECT i.status, s.auto_resolve,
    EXISTS (SELECT 1 FROM {alert} o WHERE o.incident_id = i.id AND o.status IN ({unresolved})),
    (SELECT count(*) FROM (SELECT 1 FROM {alert} e WHERE e.incident_id = i.id
                           AND e.id <> %(alert)s LIMIT {entries}) AS named)
FROM {incident} i, {service} s WHERE i.id = %(incident)s AND s.id = %(service)s
"""


def resolve_alerts(ref: IntegrationRef, dedup_key: str, *, reason: str = "") -> int | None:
    """Resolve the open alert with this key; the incident follows when the service auto-resolves
    and none of its alerts is left open. Three prepared statements when that is all there is to
    do (the bulk of a storm's resolves); then the timeline entry and the incident's resolution
    when they are due."""
    unresolved = ", ".join(f"'{status}'" for status in UNRESOLVED)
    with transaction.atomic(), hot_cursor() as cursor:
        cursor.execute(_RESOLVE.format(alert=_table(Alert), unresolved=unresolved),
                       {"now": connection.ops.adapt_datetimefield_value(timezone.now()),
                        "integration": ref.id, "dedup_key": dedup_key})
        row = cursor.fetchone()
        if row is None:
            return None
        alert_id, incident_id = row
        if incident_id is None:
            return alert_id
        if connection.features.has_select_for_update:  # SQLite has one writer at a time anyway
            cursor.execute(_LOCK_INCIDENT.format(incident=_table(Incident)),
                           {"incident": incident_id})
        cursor.execute(_AFTER_RESOLVE.format(
            alert=_table(Alert), incident=_table(Incident), service=_table(Service),
            unresolved=unresolved, entries=ALERT_ENTRIES_PER_INCIDENT),
            {"alert": alert_id, "incident": incident_id, "service": ref.service_id})
        status, auto_resolve, open_left, named = cursor.fetchone()
        entry = incident_id not in _full_timelines and named < ALERT_ENTRIES_PER_INCIDENT
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
