"""Every change to SLA clocks: recomputing an incident's clocks when what they depend on changes
(a timeline listener), pausing and resuming them, and announcing warnings and breaches.

Clocks start at the incident's detected_at: that is when we knew of the problem. started_at may
be back-dated to when the problem began (which we could not have answered for), and the moment
of declaration would reward slow declaring.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from comms.models import (
    BusinessCalendar,
    ClockKind,
    ClockPause,
    ClockState,
    Customer,
    Holiday,
    SlaClock,
    SlaTarget,
    TierPolicy,
)
from comms.sla import clocks
from comms.sla.hours import Calendar
from config.errors import Conflict, NotAllowed
from incidents import audit, permissions
from incidents.models import CustomerTier, EntryKind, Incident, TimelineEntry
from incidents.paging.notify import notify
from incidents.timeline import record

ROBOT = "Relay SLA"
REASON_MAX = 500
PAUSE_PERM = "comms.add_clockpause"
# Timeline entries after which an incident's clocks may have to change.
TRIGGERS = frozenset({EntryKind.DECLARED, EntryKind.SEVERITY, EntryKind.FIELD, EntryKind.CUSTOMERS,
                      EntryKind.STATUS, EntryKind.MESSAGE_PUBLISHED})
DERIVED = ("state", "due_at", "amber_at", "red_at", "stopped_at", "used_seconds", "next_alert_at")


# --- Recomputing --------------------------------------------------------------------------------

def on_timeline(incident: Incident, entry: TimelineEntry) -> None:
    """The timeline listener (CommsConfig.ready()). Most incidents have no tiers or customers:
    for them a declaration costs no query and any other trigger one."""
    if entry.kind not in TRIGGERS:
        return
    if entry.kind == EntryKind.FIELD and entry.data.get("field") != "customer_tiers":
        return
    if entry.kind == EntryKind.DECLARED and not entry.data.get("customer_tiers"):
        return
    if not _has_clock_sources(incident.pk):
        return
    sync(incident, entry=entry)


def _has_clock_sources(incident_id: int) -> bool:
    tiers = Incident.customer_tiers.through.objects.filter(incident_id=OuterRef("pk"))
    customers = Customer.incidents.through.objects.filter(incident_id=OuterRef("pk"))
    live = SlaClock.objects.filter(incident_id=OuterRef("pk"), replaced_at=None)
    return Incident.objects.filter(pk=incident_id).filter(
        Exists(tiers) | Exists(customers) | Exists(live)).exists()


def sync(incident: Incident, *, entry: TimelineEntry | None = None, by=None,
         now: datetime | None = None) -> list[str]:
    """Bring the incident's clocks in line with its severity, customers, tiers, milestones and
    pauses. Replaced clocks keep their rows (replaced_at); one SLA entry lists what changed.
    The caller holds the incident's row lock (record() takes it). Returns the change lines."""
    now = now or timezone.now()
    fresh = Incident.objects.only("severity", "status", "detected_at", "acknowledged_at",
                                  "resolved_at", "closed_at").get(pk=incident.pk)
    if entry is not None and entry.kind == EntryKind.STATUS:
        _pause_while_resolved(fresh, entry, now)
    specs = {(s.kind, s.key): s for s in clocks.wanted(fresh.severity, *_sources(fresh))}
    live = {(c.kind, c.key): c for c in SlaClock.objects.filter(
        incident=fresh, replaced_at=None).select_related("customer", "tier")
        .order_by("key", "-kind")}  # response before resolution in the entry
    lines = []
    for key, clock in live.items():
        spec = specs.get(key)
        if spec is None or not spec.same_target(clock):
            SlaClock.objects.filter(pk=clock.pk).update(
                replaced_at=now, state=ClockState.REPLACED, next_alert_at=None)
            lines.append(_change_line(clock, spec))
        elif spec.severity != clock.severity:
            SlaClock.objects.filter(pk=clock.pk).update(severity=spec.severity)
    for key, spec in specs.items():
        clock = live.get(key)
        if clock is None or not spec.same_target(clock):
            SlaClock.objects.create(
                incident=fresh, kind=spec.kind, key=spec.key, customer_id=spec.customer_id,
                tier_id=spec.tier_id, severity=spec.severity, source=spec.source,
                target_minutes=spec.target_minutes, response_on=spec.response_on,
                calendar_id=spec.calendar_id, amber_percent_left=spec.amber_percent_left,
                red_percent_left=spec.red_percent_left, started_at=fresh.detected_at,
                created_at=now)
            if clock is None:
                lines.append(f"{_label(spec.kind, spec.label)}: "
                             f"{clocks.human_target(spec.target_minutes)} ({spec.severity})")
    refresh(fresh, now=now)
    if lines:
        record(incident, EntryKind.SLA, by, actor_label="" if by else ROBOT,
               note="\n".join(lines), data={"action": "recomputed", "changes": lines})
    return lines


def _sources(incident: Incident):
    customers = (Customer.objects.filter(incidents=incident).select_related("tier__policy")
                 .prefetch_related("contract_targets", "tier__sla_targets"))
    tiers = (CustomerTier.objects.filter(incidents=incident).select_related("policy")
             .prefetch_related("sla_targets"))
    return list(customers), list(tiers)


def _label(kind: str, who: str) -> str:
    return f"{ClockKind(kind).label} clock for {who}"


def _change_line(clock: SlaClock, spec) -> str:
    who = clock.customer.name if clock.customer_id else clock.tier.name
    old = clocks.human_target(clock.target_minutes)
    if spec is None:
        return f"{_label(clock.kind, who)}: {old} removed"
    why = (f"severity {clock.severity} → {spec.severity}" if spec.severity != clock.severity
           else "contract" if spec.source != clock.source else "policy")
    return f"{_label(clock.kind, who)}: {old} → {clocks.human_target(spec.target_minutes)} ({why})"


def _pause_while_resolved(incident: Incident, entry: TimelineEntry, now: datetime) -> None:
    """A reopened incident's clocks resume: the resolved span becomes a pause. Closing ends an
    open pause (nobody waits on the customer for a closed incident)."""
    if entry.data.get("reopened"):
        stopped = (SlaClock.objects.filter(incident=incident, replaced_at=None,
                                           kind=ClockKind.RESOLUTION)
                   .exclude(stopped_at=None).order_by("-stopped_at")
                   .values_list("stopped_at", flat=True).first())
        if stopped and not ClockPause.objects.filter(incident=incident, ended_at=None).exists():
            ClockPause.objects.create(incident=incident, started_at=stopped, ended_at=now,
                                      reason="Resolved until reopened")
    elif incident.closed_at:
        ClockPause.objects.filter(incident=incident, ended_at=None).update(
            ended_at=incident.closed_at)


def refresh(incident: Incident, *, now: datetime | None = None) -> None:
    """Re-derive the stored columns of the incident's live clocks (milestones, pauses)."""
    now = now or timezone.now()
    live = list(SlaClock.objects.filter(incident=incident, replaced_at=None))
    if not live:
        return
    pauses = list(ClockPause.objects.filter(incident=incident).values_list("started_at",
                                                                           "ended_at"))
    calendars = _calendars({c.calendar_id for c in live})
    first_message = None
    if any(c.response_on == "message" for c in live):
        first_message = (TimelineEntry.objects.filter(incident=incident,
                                                      kind=EntryKind.MESSAGE_PUBLISHED)
                         .order_by("seq").values_list("created_at", flat=True).first())
    for clock in live:
        stop = clocks.stop_time(clock.kind, clock.response_on, incident.acknowledged_at,
                                first_message, incident.resolved_at) or incident.closed_at
        derived = clocks.derive(
            target_minutes=clock.target_minutes, amber_percent_left=clock.amber_percent_left,
            red_percent_left=clock.red_percent_left, calendar=calendars.get(clock.calendar_id),
            started_at=clock.started_at, stopped_at=stop, pauses=pauses, now=now,
            warned_amber_at=clock.warned_amber_at, warned_red_at=clock.warned_red_at,
            breached_at=clock.breached_at)
        # A breach not yet announced stays RUNNING in the row: the timer announces it and sets it.
        changed = {f: getattr(derived, f) for f in DERIVED}
        if changed["state"] == ClockState.BREACHED and stop is None and clock.breached_at is None:
            changed["state"] = ClockState.RUNNING
        if any(getattr(clock, f) != v for f, v in changed.items()):
            SlaClock.objects.filter(pk=clock.pk).update(**changed)


def _calendars(ids) -> dict[int, Calendar]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = BusinessCalendar.objects.filter(pk__in=ids).prefetch_related("holidays")
    return {row.pk: Calendar.of(row) for row in rows}


def calendars_for(clock_rows) -> dict[int, Calendar]:
    """Pure calendars of these clocks, in at most two queries (for pages)."""
    return _calendars({c.calendar_id for c in clock_rows})


# --- Pausing ------------------------------------------------------------------------------------

def may_pause(user, incident: Incident) -> bool:
    return permissions.can_edit(user, incident) or user.has_perm(PAUSE_PERM)


def pause(incident: Incident, *, by, reason: str) -> ClockPause:
    """Stop the incident's clocks while waiting on the customer."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say what you are waiting for from the customer."})
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise ValidationError({"reason": f"At most {REASON_MAX} characters, no NUL bytes."})
    if not may_pause(by, incident):
        raise NotAllowed("You may not pause this incident's SLA clocks.")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if not incident.is_open:
            raise Conflict(f"{incident.reference} is not open; its clocks have stopped.")
        if ClockPause.objects.filter(incident=incident, ended_at=None).exists():
            raise Conflict("The clocks are already paused; resume them first.")
        now = timezone.now()
        paused = ClockPause.objects.create(incident=incident, started_at=now, reason=reason,
                                           paused_by=by)
        record(incident, EntryKind.SLA, by, note=f"Paused the clocks: {reason}",
               data={"action": "paused", "reason": reason})
        refresh(incident, now=now)
    return paused


def resume(incident: Incident, *, by) -> ClockPause:
    if not may_pause(by, incident):
        raise NotAllowed("You may not resume this incident's SLA clocks.")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        paused = ClockPause.objects.select_for_update().filter(incident=incident,
                                                               ended_at=None).first()
        if paused is None:
            raise Conflict("The clocks are not paused.")
        now = timezone.now()
        paused.ended_at, paused.resumed_by = now, by
        paused.save(update_fields=["ended_at", "resumed_by"])
        seconds = round((now - paused.started_at).total_seconds())
        record(incident, EntryKind.SLA, by,
               note=f"Resumed the clocks after {clocks.human(seconds)} ({paused.reason})",
               data={"action": "resumed", "reason": paused.reason, "paused_seconds": seconds})
        refresh(incident, now=now)
    return paused


def open_pause(incident: Incident) -> ClockPause | None:
    return ClockPause.objects.filter(incident=incident, ended_at=None).first()


# --- Warnings and breaches ----------------------------------------------------------------------

THRESHOLDS = (("amber", "amber_at", "warned_amber_at"), ("red", "red_at", "warned_red_at"),
              ("breach", "due_at", "breached_at"))


def due_alerts(now: datetime, limit: int = 200) -> list[int]:
    """Clocks with a warning or breach to announce, most overdue first (the partial index
    sla_clock_alert_due_idx serves this)."""
    return list(SlaClock.objects.filter(next_alert_at__lte=now).order_by("next_alert_at")
                .values_list("pk", flat=True)[:limit])


def announce(clock_id: int, now: datetime | None = None) -> list[str]:
    """Announce each threshold of this clock that has come due, once: the claim is a
    conditional UPDATE on its warned/breached column, so a second ticker or a retried run
    finds nothing to claim. Returns the thresholds this call announced."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the incident first, as every other writer of its clocks does.
        incident = Incident.objects.select_for_update(of=("self",)).select_related(
            "commander", "comms_lead").filter(sla_clocks=clock_id).first()
        if incident is None:
            return []
        clock = SlaClock.objects.select_related("customer", "tier").get(pk=clock_id)
        announced = []
        for name, at_field, done_field in THRESHOLDS:
            at = getattr(clock, at_field)
            if clock.replaced_at or clock.stopped_at or at is None or at > now:
                continue
            changes = {done_field: now}
            if name == "breach":
                changes["state"] = ClockState.BREACHED
            claimed = SlaClock.objects.filter(pk=clock.pk, **{done_field: None}).update(**changes)
            if claimed:
                setattr(clock, done_field, now)
                _announce(incident, clock, name, at, now)
                announced.append(name)
        pending = [getattr(clock, a) for _, a, d in THRESHOLDS
                   if getattr(clock, a) and getattr(clock, d) is None]
        live = not (clock.replaced_at or clock.stopped_at)
        SlaClock.objects.filter(pk=clock.pk).update(
            next_alert_at=min(pending) if pending and live else None)
    return announced


def _announce(incident: Incident, clock: SlaClock, threshold: str, at: datetime,
              now: datetime) -> None:
    who = clock.customer.name if clock.customer_id else clock.tier.name
    label = _label(clock.kind, who)
    target = clocks.human_target(clock.target_minutes)
    if threshold == "breach":
        kind, text = EntryKind.SLA_BREACH, f"{label} breached its {target} target."
    else:
        left = clock.amber_percent_left if threshold == "amber" else clock.red_percent_left
        kind, text = EntryKind.SLA_WARNING, f"{label}: {left}% of {target} left ({threshold})."
    late_ms = max(0, round((now - at).total_seconds() * 1000))
    record(incident, kind, actor_label=ROBOT, new=threshold, note=text,
           data={"clock": clock.pk, "threshold": threshold, "late_ms": late_ms,
                 "due": at.isoformat()})
    subject = f"[Relay] {incident.reference} SLA {threshold}: {label}"
    notify(incident, _people(incident), reason=f"sla:{clock.pk}:{threshold}", subject=subject,
           text=f"{incident.reference} {incident.title}\n{text}",
           why="SLA breach" if threshold == "breach" else "SLA warning")


def _people(incident: Incident) -> list:
    """The commander, the communications lead, the owning teams' leads and the affected
    customers' CSMs."""
    people = [incident.commander, incident.comms_lead]
    people += [s.team.lead for s in incident.services.select_related("team__lead")
               if s.team_id and s.team.lead_id]
    people += [c.csm for c in Customer.objects.filter(incidents=incident, csm__isnull=False)
               .select_related("csm")]
    return [p for p in people if p is not None]


def open_clocks_of(incident_ids) -> "dict[int, list[SlaClock]]":
    """Live clocks of these incidents by incident id (one query)."""
    by_incident: dict[int, list[SlaClock]] = {}
    rows = SlaClock.objects.filter(incident_id__in=incident_ids, replaced_at=None).filter(
        Q(state__in=[ClockState.RUNNING, ClockState.BREACHED, ClockState.PAUSED]),
        stopped_at=None).select_related("customer", "tier")
    for clock in rows:
        by_incident.setdefault(clock.incident_id, []).append(clock)
    return by_incident


# --- Settings (the portal's SLA settings and the admin call these) -------------------------------

POLICY_FIELDS = ("calendar", "amber_percent_left", "red_percent_left", "suggested_severity",
                 "message_approval")
TARGET_FIELDS = ("response_minutes", "response_on", "resolution_minutes")
CALENDAR_FIELDS = ("name", "time_zone", "weekdays", "start", "end")


def _tier_settings(tier, policy: TierPolicy | None) -> dict:
    """A tier's SLA settings as the audit log keeps them: one key per target's severity, so an
    entry shows only the severities that changed."""
    state = audit.snapshot(policy, POLICY_FIELDS) if policy is not None else {}
    for target in SlaTarget.objects.filter(tier=tier).order_by("severity"):
        state[f"target {target.severity}"] = audit.snapshot(target, TARGET_FIELDS)
    return state


def _calendar_settings(calendar: BusinessCalendar) -> dict:
    state = audit.snapshot(calendar, CALENDAR_FIELDS)
    state["holidays"] = {day.isoformat(): name for day, name in
                         calendar.holidays.order_by("date").values_list("date", "name")}
    return state


def save_tier_settings(tier, *, by, policy: dict, targets: dict) -> None:
    """A tier's policy and its targets per severity ({severity: {response_minutes, response_on,
    resolution_minutes}}; a severity with neither target set has none). Existing clocks keep
    their terms until their incident next changes (then they are recomputed)."""
    if not by.has_perm("comms.change_tierpolicy") or not by.has_perm("comms.change_slatarget"):
        raise NotAllowed("Only admins change SLA settings.")
    with transaction.atomic():
        row = TierPolicy.objects.select_for_update().filter(tier=tier).first() or TierPolicy(
            tier=tier)
        before = _tier_settings(tier, row if row.pk else None)
        created = row.pk is None and len(before) == 0
        for field, value in policy.items():
            setattr(row, field, value)
        row.full_clean()
        row.save()
        for severity, values in targets.items():
            if not values.get("response_minutes") and not values.get("resolution_minutes"):
                SlaTarget.objects.filter(tier=tier, severity=severity).delete()
                continue
            target = SlaTarget.objects.filter(tier=tier, severity=severity).first() or \
                SlaTarget(tier=tier, severity=severity)
            for field, value in values.items():
                setattr(target, field, value)
            target.full_clean()
            target.save()
        audit.log("sla_policy.create" if created else "sla_policy.update", row, actor=by,
                  before=None if created else before, after=_tier_settings(tier, row))


def save_calendar(calendar, *, by, fields: dict, holidays: list) -> "BusinessCalendar":
    """Create or change a business calendar and replace its holidays ([(date, name)])."""
    if not by.has_perm("comms.change_businesscalendar" if calendar.pk
                       else "comms.add_businesscalendar"):
        raise NotAllowed("Only admins change business calendars.")
    stored = BusinessCalendar.objects.filter(pk=calendar.pk).first() if calendar.pk else None
    for field, value in fields.items():
        setattr(calendar, field, value)
    if calendar.start and calendar.end and calendar.end <= calendar.start:
        raise ValidationError({"end": "Working hours end after they start."})
    if not calendar.weekdays:
        raise ValidationError({"weekdays": "Choose at least one working day."})
    with transaction.atomic():
        before = _calendar_settings(stored) if stored is not None else None
        calendar.full_clean()
        calendar.save()
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create([Holiday(calendar=calendar, date=day, name=name[:100])
                                     for day, name in dict(holidays).items()])
        audit.log("business_calendar.create" if stored is None else "business_calendar.update",
                  calendar, actor=by, before=before, after=_calendar_settings(calendar))
    return calendar
