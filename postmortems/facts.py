"""The facts of a post-mortem, gathered from what Relay recorded about the incident.

`gather` returns plain JSON (stored on the post-mortem, exported through the API and frozen in
each published revision); postmortems.document writes it as Markdown. Every figure comes from
rows: the incident's milestones, its timeline, alerts, pages, change events, customer messages
and SLA clocks. A fixed number of queries, whatever the length of the timeline.

Times are ISO 8601 in UTC; durations are whole seconds.
"""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.urls import reverse

from comms.models import ClockState, Customer, CustomerMessage, MessageState, SlaClock
from incidents.models import (
    Alert,
    ChangeEvent,
    EntryKind,
    Incident,
    Page,
    PagePurpose,
    TimelineEntry,
)

VERSION = 1
# Change events this long before the incident started are "shortly before" it.
CHANGES_BEFORE = timedelta(hours=4)
CHANGES_MAX = 20
# What fixed it: the people's entries in this window before mitigation (at most FIX_MAX).
FIX_WINDOW = timedelta(minutes=30)
FIX_MAX = 5
TRIED_MAX = 200
EXCERPT_MAX = 40
# A person's involvement counts at least this long (a look, a message, a hand-off).
MIN_INVOLVEMENT = timedelta(minutes=15)
TEXT_MAX = 500

KEY_TIMES = (("started_at", "Started"), ("detected_at", "Detected"),
             ("acknowledged_at", "Acknowledged"), ("mitigated_at", "Mitigated"),
             ("resolved_at", "Resolved"))
DURATIONS = (("to_detect", "Time to detect", "detected_at"),
             ("to_acknowledge", "Time to acknowledge", "acknowledged_at"),
             ("to_mitigate", "Time to mitigate", "mitigated_at"),
             ("to_resolve", "Time to resolve", "resolved_at"))
# Kinds people write when working the incident ("what was tried").
WORK_KINDS = (EntryKind.NOTE, EntryKind.STATUS)
# Kinds worth a line of the excerpt: the shape of the incident, not every page and alert.
EXCERPT_KINDS = (EntryKind.DECLARED, EntryKind.STATUS, EntryKind.SEVERITY, EntryKind.ROLE,
                 EntryKind.NOTE, EntryKind.MILESTONE, EntryKind.ESCALATION,
                 EntryKind.MESSAGE_PUBLISHED, EntryKind.SLA_BREACH, EntryKind.MERGE_RECEIVED,
                 EntryKind.RESTRICTION)
ROLE_ORDER = ("commander", "comms_lead", "responder")


def gather(incident: Incident, *, now: datetime) -> dict:
    """Everything the draft states, from the record as it is now."""
    incident = (Incident.objects.select_related("commander", "comms_lead")
                .prefetch_related("services", "customer_tiers", "responders").get(pk=incident.pk))
    entries = list(TimelineEntry.objects.filter(incident_id=incident.pk,
                                                seq__lte=incident.timeline_seq)
                   .order_by("seq").values("seq", "kind", "actor_id", "actor__username",
                                           "actor_label", "created_at", "old_value",
                                           "new_value", "note", "data", "hash"))
    end = incident.resolved_at or now
    head = entries[-1] if entries else None
    return {
        "version": VERSION,
        "generated_at": _iso(now),
        "record": {
            "through_seq": head["seq"] if head else 0,
            "head_hash": head["hash"] if head else "",
            "timeline_url": _url("incidents:detail", incident.pk) + "?all=1",
            "verify_url": _url("incidents:verify", incident.pk),
        },
        "incident": {
            "number": incident.pk, "reference": incident.reference, "title": incident.title,
            "severity": incident.severity, "status": incident.status,
            "restricted": incident.restricted, "url": _url("incidents:detail", incident.pk),
        },
        "impact": _impact(incident, end),
        "key_times": [{"name": name.removesuffix("_at"), "label": label,
                       "at": _iso(getattr(incident, name))} for name, label in KEY_TIMES],
        "durations": _durations(incident),
        "people": {
            "commander": _name(incident.commander),
            "comms_lead": _name(incident.comms_lead),
            "responders": sorted(u.get_username() for u in incident.responders.all()),
        },
        "tried": [_line(e) for e in entries if _is_work(e)][:TRIED_MAX],
        "fixed": _fixed(incident, entries),
        "alerts": _alerts(incident),
        "pages": _pages(incident, entries),
        "changes": _changes(incident),
        "messages": _messages(incident),
        "excerpt": _excerpt(incident, entries),
        "cost": _cost(incident, entries, end),
    }


def summary(facts: dict) -> str:
    """Relay's first summary: one paragraph a person then rewrites in their words."""
    incident = facts["incident"]
    impact = facts["impact"]
    times = {t["name"]: t["at"] for t in facts["key_times"]}
    parts = [f"{incident['reference']} ({incident['severity']}) affected "
             f"{_series(impact['services']) or 'no named service'}"]
    if impact["customers"]:
        parts.append(f" and {len(impact['customers'])} named customer"
                     f"{'' if len(impact['customers']) == 1 else 's'}")
    elif impact["tiers"]:
        parts.append(f" for {_series(impact['tiers'])} customers")
    parts.append(f" for {human(impact['duration_seconds'])}" if impact["duration_seconds"]
                 is not None else "")
    parts.append(f", from {_short(times['started'])} UTC" if times.get("started") else "")
    parts.append(".")
    durations = {d["name"]: d["seconds"] for d in facts["durations"]}
    if durations.get("to_mitigate") is not None:
        parts.append(f" It was mitigated after {human(durations['to_mitigate'])}")
        if durations.get("to_resolve") is not None:
            parts.append(f" and resolved after {human(durations['to_resolve'])}")
        parts.append(".")
    breached = [c for c in impact["sla"] if c["outcome"] == "breached"]
    if breached:
        parts.append(f" {len(breached)} SLA target{'' if len(breached) == 1 else 's'} "
                     f"{'was' if len(breached) == 1 else 'were'} breached.")
    return "".join(parts)


# --- Parts --------------------------------------------------------------------------------------

def _impact(incident: Incident, end: datetime) -> dict:
    customers = list(Customer.objects.filter(incidents=incident).select_related("tier")
                     .order_by("tier__rank", "name").values("name", "tier__name"))
    clocks = (SlaClock.objects.filter(incident=incident, replaced_at=None)
              .select_related("customer", "tier").order_by("kind", "tier__rank", "key", "id"))
    duration_until = incident.mitigated_at or incident.resolved_at
    return {
        "services": [s.name for s in sorted(incident.services.all(), key=lambda s: s.name)],
        "tiers": [t.name for t in sorted(incident.customer_tiers.all(),
                                         key=lambda t: (t.rank, t.name))],
        "customers": [{"name": c["name"], "tier": c["tier__name"]} for c in customers],
        # Customer impact lasts until mitigation; the incident until resolution.
        "duration_seconds": _seconds(incident.started_at, duration_until),
        "open_seconds": _seconds(incident.started_at, incident.resolved_at),
        "sla": [_clock(c, end) for c in clocks],
    }


def _clock(clock: SlaClock, end: datetime) -> dict:
    breached = clock.state == ClockState.BREACHED or clock.breached_at is not None
    if breached:
        outcome = "breached"
    elif clock.state == ClockState.MET:
        outcome = "met"
    else:
        outcome = clock.state  # running or paused: not decided yet
    return {
        "kind": clock.kind,
        "for": clock.customer.name if clock.customer_id else f"{clock.tier.name} tier",
        "tier": clock.tier.name,
        "target_minutes": clock.target_minutes,
        "used_seconds": clock.used_seconds,
        "outcome": outcome,
        "breached_at": _iso(clock.breached_at),
        "stopped_at": _iso(clock.stopped_at),
    }


def _durations(incident: Incident) -> list[dict]:
    return [{"name": name, "label": label,
             "seconds": _seconds(incident.started_at, getattr(incident, field))}
            for name, label, field in DURATIONS]


def _is_work(entry: dict) -> bool:
    return entry["kind"] in WORK_KINDS and (entry["actor_id"] is not None
                                            or entry["kind"] == EntryKind.STATUS)


def _fixed(incident: Incident, entries: list[dict]) -> list[dict]:
    """The entries leading to mitigation: the people's notes and status changes in the window
    before it, and the entry that mitigated it."""
    if incident.mitigated_at is None:
        return []
    since = incident.mitigated_at - FIX_WINDOW
    window = []
    for e in entries:
        marks = e["kind"] == EntryKind.STATUS and "mitigated_at" in e["data"] or (
            e["kind"] == EntryKind.MILESTONE and e["data"].get("milestone") == "mitigated_at")
        if (since <= e["created_at"] <= incident.mitigated_at or marks) \
                and e["kind"] in (*WORK_KINDS, EntryKind.MILESTONE) \
                and (e["actor_id"] is not None or e["kind"] != EntryKind.NOTE):
            window.append(e)
    # The last mark wins (a correction moves mitigation); nothing after it fixed anything.
    last_mark = max((i for i, e in enumerate(window) if e["kind"] != EntryKind.NOTE
                     and (e["kind"] == EntryKind.MILESTONE or "mitigated_at" in e["data"])),
                    default=len(window) - 1)
    return [_line(e) for e in window[:last_mark + 1][-FIX_MAX:]]


def _alerts(incident: Incident) -> dict:
    alerts = Alert.objects.filter(incident=incident)
    by_service = list(alerts.values("service__name").annotate(n=Count("id"), events=Sum("count"))
                      .order_by("-n", "service__name"))
    first = alerts.order_by("first_seen", "id").values("summary", "first_seen",
                                                       "integration__name").first()
    return {
        "count": sum(r["n"] for r in by_service),
        "events": sum(r["events"] or 0 for r in by_service),
        "by_service": [{"service": r["service__name"], "count": r["n"]} for r in by_service],
        "first": {"summary": first["summary"][:TEXT_MAX], "at": _iso(first["first_seen"]),
                  "source": first["integration__name"]} if first else None,
    }


def _pages(incident: Incident, entries: list[dict]) -> dict:
    rows = list(Page.objects.filter(incident=incident, purpose=PagePurpose.PAGE)
                .values_list("user__username", flat=True))
    acknowledged = []
    for e in entries:
        if (e["kind"] == EntryKind.STATUS and e["new_value"] == "acknowledged"
                and e["actor__username"] and e["actor__username"] not in acknowledged):
            acknowledged.append(e["actor__username"])
    steps = [e["data"] for e in entries if e["kind"] == EntryKind.ESCALATION]
    actions = Counter(d.get("action") for d in steps)
    return {
        "count": len(rows),
        "people": sorted(set(rows)),
        "acknowledged_by": acknowledged,
        # Escalations: steps paged beyond the first of a round, and escalations by hand.
        "escalations": sum(1 for d in steps if d.get("action") == "paged"
                           and d.get("step", 1) > 1) + actions.get("escalated", 0),
        "retriggered": actions.get("retriggered", 0),
        "exhausted": bool(actions.get("exhausted")),
    }


def _changes(incident: Incident) -> list[dict]:
    services = [s.pk for s in incident.services.all()]
    if not services:
        return []
    rows = (ChangeEvent.objects.filter(service_id__in=services,
                                       happened_at__gte=incident.started_at - CHANGES_BEFORE,
                                       happened_at__lte=incident.started_at)
            .order_by("-happened_at", "-id").values("summary", "source", "happened_at",
                                                     "service__name")[:CHANGES_MAX])
    return [{"service": r["service__name"], "summary": r["summary"][:TEXT_MAX],
             "source": r["source"], "at": _iso(r["happened_at"]),
             "before_start_seconds": _seconds(r["happened_at"], incident.started_at)}
            for r in rows]


def _messages(incident: Incident) -> list[dict]:
    rows = (CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED)
            .order_by("published_at", "id").values("subject", "phase", "published_at",
                                                   "published_by__username", "to_status_page"))
    return [{"subject": r["subject"], "phase": r["phase"], "at": _iso(r["published_at"]),
             "by": r["published_by__username"] or "", "status_page": r["to_status_page"]}
            for r in rows]


def _excerpt(incident: Incident, entries: list[dict]) -> list[dict]:
    shown = [e for e in entries if e["kind"] in EXCERPT_KINDS]
    if len(shown) > EXCERPT_MAX:  # the first and the last entries tell the story's ends
        half = EXCERPT_MAX // 2
        shown = shown[:half] + shown[-half:]
    base = _url("incidents:detail", incident.pk) + "?all=1"
    return [{**_line(e), "url": f"{base}#entry-{e['seq']}"} for e in shown]


def _cost(incident: Incident, entries: list[dict], end: datetime) -> dict:
    """Responder-hours from the record: each person from their first to their last entry (or
    page acknowledgement), at least MIN_INVOLVEMENT; the commander and communications lead until
    the end, as they hold the incident until it is resolved. Weighted by the highest role held.
    Only the response counts: entries after the end (a milestone corrected a week later, the
    post-mortem's own steps) are not time spent on the incident."""
    spans: dict[str, list[datetime]] = defaultdict(list)
    roles: dict[str, str] = {}
    for e in entries:
        if e["created_at"] > end:
            continue
        name = e["actor__username"]
        if name:
            spans[name].append(e["created_at"])
        if e["kind"] == EntryKind.ROLE and e["data"].get("role") in ("commander", "comms_lead"):
            holder = e["new_value"]
            if holder:
                spans[holder].append(e["created_at"])
                roles[holder] = _higher(roles.get(holder), e["data"]["role"])
        elif e["kind"] == EntryKind.DECLARED and e["data"].get("commander"):
            # Declared with a commander: they hold it from the declaration.
            spans[e["data"]["commander"]].append(e["created_at"])
            roles[e["data"]["commander"]] = "commander"
    for role, user in (("commander", incident.commander), ("comms_lead", incident.comms_lead)):
        if user is not None and user.get_username() in spans:
            name = user.get_username()
            roles[name] = _higher(roles.get(name), role)
            spans[name].append(end)  # holds it until the end
    weights = settings.RELAY_RESPONSE_ROLE_WEIGHTS
    rate = settings.RELAY_RESPONSE_HOURLY_RATE
    people = []
    for name in sorted(spans):
        times = spans[name]
        seconds = max((max(times) - min(times)).total_seconds(),
                      MIN_INVOLVEMENT.total_seconds())
        role = roles.get(name, "responder")
        hours = round(seconds / 3600, 2)
        people.append({"person": name, "role": role, "hours": hours,
                       "weight": weights.get(role, 1.0)})
    hours = round(sum(p["hours"] for p in people), 2)
    weighted = round(sum(p["hours"] * p["weight"] for p in people), 2)
    return {"people": people, "responder_hours": hours, "weighted_hours": weighted,
            "hourly_rate": rate, "currency": settings.RELAY_RESPONSE_CURRENCY,
            "amount": round(weighted * rate)}


# --- Helpers ------------------------------------------------------------------------------------

def _line(e: dict) -> dict:
    text = e["note"] or ""
    if e["kind"] == EntryKind.STATUS:
        text = f"{e['old_value']} → {e['new_value']}" + (f": {text}" if text else "")
    elif e["kind"] in (EntryKind.SEVERITY, EntryKind.ROLE, EntryKind.MILESTONE) and not text:
        text = f"{e['old_value'] or '—'} → {e['new_value'] or '—'}"
    elif e["kind"] == EntryKind.DECLARED:
        text = f"Declared {e['new_value']}: {text}"
    return {"seq": e["seq"], "at": _iso(e["created_at"]), "kind": e["kind"],
            "label": EntryKind(e["kind"]).label,
            "actor": e["actor__username"] or e["actor_label"] or "Relay",
            "text": text[:TEXT_MAX] + ("…" if len(text) > TEXT_MAX else "")}


def _higher(current: str | None, role: str) -> str:
    if current is None:
        return role
    return min(current, role, key=ROLE_ORDER.index)


def _name(user) -> str:
    return user.get_username() if user is not None else ""


def _url(name: str, number: int) -> str:
    return settings.SITE_URL + reverse(name, args=[number])


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _short(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def _series(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def human(seconds: int | None) -> str:
    """12 s, 4 min, 1 h 5 min, 2 d 3 h."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
