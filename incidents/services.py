"""State changes of incidents. Each is one function that locks the row, rejects what is not
allowed, applies the change and writes the timeline in the same transaction. The web views, the
htmx views, the API, management commands and tasks all call these."""

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import timerange
from config.errors import Conflict, Invalid, NotAllowed
from incidents import audit, lifecycle, permissions
from incidents.models import (
    MILESTONES,
    TRANSITIONS,
    EntryKind,
    Incident,
    PageAction,
    PagePurpose,
    Severity,
    Status,
)
from incidents.paging import escalation, leads, links
from incidents.timeline import record

TITLE_MAX = 200
DESCRIPTION_MAX = 20000
NOTE_MAX = 20000


class InvalidTransition(Conflict):
    """The incident's status does not allow the move (its lifecycle, incidents.models)."""


def _lock(incident: Incident) -> Incident:
    """Re-read the row under a lock and refresh the caller's instance in place."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    incident.__dict__.pop("_prefetched_objects_cache", None)
    incident.__dict__.update(locked.__dict__)
    return incident


def _clean_text(value: str, field: str, limit: int, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"Ensure this value has at most {limit} characters "
                                      f"(it has {len(value)})."})
    return value


def _clean_severity(severity: str) -> str:
    if severity not in Severity.values:
        raise ValidationError({"severity": f"Unknown severity {severity!r}; choose one of "
                                           f"{', '.join(Severity.values)}."})
    return severity


def _label(user) -> str:
    return user.get_username() if user else ""


def declare(*, title: str, severity: str, by=None, actor_label: str = "", description: str = "",
            services=(), customer_tiers=(), restricted: bool = False, commander=None,
            started_at: datetime | None = None, escalation_policy=None,
            page: bool = True) -> Incident:
    """Open an incident. It pages through `escalation_policy`, or else the first of its services
    that has one, unless `page` is False (maintenance windows, suppression rules)."""
    title = _clean_text(title, "title", TITLE_MAX, required=True)
    description = _clean_text(description, "description", DESCRIPTION_MAX, required=False)
    severity = _clean_severity(severity)
    timerange.check(started_at=started_at)
    now = timezone.now()
    if started_at and started_at > now:
        raise ValidationError({"started_at": "The start cannot be in the future."})
    policy = escalation_policy or next(
        (s.escalation_policy for s in services if s.escalation_policy_id), None)
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title, description=description, severity=severity, restricted=restricted,
            declared_by=by, commander=commander, started_at=started_at or now, detected_at=now,
            created_at=now, escalation_policy=policy,
        )
        incident.services.set(services)
        incident.customer_tiers.set(customer_tiers)
        record(incident, EntryKind.DECLARED, by, actor_label=actor_label, new=severity,
               note=title, data={
                   "severity": severity,
                   "services": sorted(s.slug for s in services),
                   "customer_tiers": sorted(t.slug for t in customer_tiers),
                   "restricted": restricted,
                   "commander": _label(commander),
                   "escalation_policy": policy.name if policy else "",
                   "paging": bool(page and policy),
               })
        if restricted:
            kept = sorted(set(filter(None, (by, commander))), key=_label)
            for user in kept:
                permissions.grant_view(incident, user=user)
            # Restricted from the start: the access decision is in the audit log as when an open
            # incident is restricted later.
            audit.log("incident.restrict", incident, actor=by, incident=incident,
                      object_repr=incident.reference, before=None, after={"restricted": True},
                      note=("Declared restricted. Access for: "
                            + (", ".join(map(_label, kept)) or "nobody named")))
        if page and policy:
            escalation.start(incident, by=by)
        leads.on_declared(incident, services=services, by=by, paging=page)
    return incident


def transition(incident: Incident, *, to: str, by=None, actor_label: str = "",
               note: str = "") -> Incident:
    if to not in Status.values:
        raise ValidationError({"status": f"Unknown status {to!r}."})
    note = _clean_text(note, "note", NOTE_MAX, required=False)
    with transaction.atomic():
        _lock(incident)
        if to == Status.MERGED:
            raise InvalidTransition("Use merge to merge an incident into another.", "status")
        if to not in TRANSITIONS[incident.status]:
            raise InvalidTransition(
                f"{incident.reference} is {incident.get_status_display().lower()}; it cannot move "
                f"to {Status(to).label.lower()}.", "status")
        old = lifecycle.move_status(incident, to, timezone.now(), by=by,
                                    actor_label=actor_label, note=note)
        escalation.on_status_change(incident, old, to, by=by)
    return incident


def acknowledge(incident: Incident, *, by=None, actor_label: str = "") -> Incident:
    """Acknowledge a triggered incident. A person who acknowledges an incident that has no
    commander becomes its commander, and the timeline says why; handing over is one click."""
    with transaction.atomic():
        _lock(incident)
        if incident.status != Status.TRIGGERED:
            raise InvalidTransition(
                f"{incident.reference} is already {incident.get_status_display().lower()}.",
                "status")
        transition(incident, to=Status.ACKNOWLEDGED, by=by, actor_label=actor_label)
        if incident.commander_id is None and getattr(by, "pk", None):
            incident.commander = by
            incident.save(update_fields=["commander", "updated_at"])
            record(incident, EntryKind.ROLE, by, actor_label=actor_label, new=_label(by),
                   data={"role": "commander", "reason": "acknowledged"})
            if incident.restricted:
                permissions.grant_view(incident, user=by)
        return incident


def act_on_page(page, action: str, *, actor_label: str = "") -> Incident:
    """What a paged person asks from a page (its signed link, an email reply): acknowledge or
    resolve its incident, as that person. Each (page, action) acts once, and only while the
    person is active and may still see and change the incident: a link outlives neither a
    deactivation nor a revoked grant."""
    if action not in links.ACTIONS:
        raise Invalid(f"Unknown page action {action!r}.", "action")
    if page.purpose != PagePurpose.PAGE:
        raise NotAllowed("This message was a notice; it cannot act on the incident.", "action")
    user = type(page.user)._default_manager.get(pk=page.user_id)  # fresh: no cached perms
    if not (user.is_active and permissions.can_edit(user)
            and permissions.can_view(user, page.incident)):
        raise NotAllowed(f"{user.get_username()} may no longer act on this incident.", "action")
    with transaction.atomic():
        try:
            with transaction.atomic():
                PageAction.objects.create(page=page, action=action, via=actor_label[:20])
        except IntegrityError:
            raise NotAllowed(f"This {action} link has already been used.", "action") from None
        if action == "acknowledge":
            return acknowledge(page.incident, by=user, actor_label=actor_label)
        return transition(page.incident, to=Status.RESOLVED, by=user, actor_label=actor_label)


def change_severity(incident: Incident, *, severity: str, by=None, actor_label: str = "",
                    note: str = "") -> Incident:
    severity = _clean_severity(severity)
    note = _clean_text(note, "note", NOTE_MAX, required=False)
    with transaction.atomic():
        _lock(incident)
        _require_open(incident)
        if severity == incident.severity:
            raise Conflict(f"{incident.reference} is already {severity}.", "severity")
        old, incident.severity = incident.severity, severity
        incident.save(update_fields=["severity", "updated_at"])
        record(incident, EntryKind.SEVERITY, by, actor_label=actor_label, old=old, new=severity,
               note=note)
    return incident


def _require_open(incident: Incident) -> None:
    if not incident.is_open:
        raise InvalidTransition(
            f"{incident.reference} is {incident.get_status_display().lower()}; reopen it first.")


UNSET = object()


def assign_roles(incident: Incident, *, by=None, commander=UNSET, comms_lead=UNSET,
                 responders=UNSET) -> Incident:
    """Assign any of the three roles; one timeline entry per role that actually changed."""
    singles = {"commander": commander, "comms_lead": comms_lead}
    with transaction.atomic():
        _lock(incident)
        for field, user in singles.items():
            if user is UNSET or getattr(incident, f"{field}_id") == getattr(user, "pk", None):
                continue
            old = getattr(incident, field)
            setattr(incident, field, user)
            incident.save(update_fields=[field, "updated_at"])
            record(incident, EntryKind.ROLE, by, old=_label(old), new=_label(user),
                   data={"role": field})
            if incident.restricted and user:
                permissions.grant_view(incident, user=user)
        if responders is not UNSET:
            _set_responders(incident, list(responders), by)
    return incident


def _set_responders(incident: Incident, responders: list, by) -> None:
    before = {u.pk: u for u in incident.responders.all()}
    after = {u.pk: u for u in responders}
    if before.keys() == after.keys():
        return
    incident.responders.set(responders)
    added = sorted(_label(u) for pk, u in after.items() if pk not in before)
    removed = sorted(_label(u) for pk, u in before.items() if pk not in after)
    record(incident, EntryKind.ROLE, by,
           old=", ".join(sorted(_label(u) for u in before.values())),
           new=", ".join(sorted(_label(u) for u in after.values())),
           data={"role": "responders", "added": added, "removed": removed})
    if incident.restricted:
        for user in responders:
            permissions.grant_view(incident, user=user)


UPDATE_TEXT_MAX = 2000
NEXT_UPDATE_MAX_MINUTES = 24 * 60


def post_update(incident: Incident, *, by=None, actor_label: str = "", status: str, known: str,
                doing: str, next_update_minutes: int | None = None):
    """A structured status update: the status, what we know, what we are doing and when the next
    update is expected, as one timeline entry. A status other than the current one moves the
    incident there first (its own lifecycle entry, as every status change has)."""
    known = _clean_text(known, "known", UPDATE_TEXT_MAX, required=True)
    doing = _clean_text(doing, "doing", UPDATE_TEXT_MAX, required=True)
    if next_update_minutes is not None and not 1 <= next_update_minutes <= \
            NEXT_UPDATE_MAX_MINUTES:
        raise ValidationError({"next_update_minutes": "Choose between 1 minute and 24 hours."})
    with transaction.atomic():
        _lock(incident)
        _require_open(incident)
        if status != incident.status:
            if status not in Status.values or status not in incident.allowed_next():
                raise ValidationError({"status": f"{incident.reference} cannot move from "
                                                 f"{incident.get_status_display().lower()} to "
                                                 f"{status!r} in an update."})
            transition(incident, to=status, by=by, actor_label=actor_label)
        now = timezone.now()
        next_at = now + timedelta(minutes=next_update_minutes) if next_update_minutes else None
        return record(incident, EntryKind.UPDATE, by, actor_label=actor_label, new=status,
                      data={"status": status, "known": known, "doing": doing,
                            "next_update_at": next_at.isoformat() if next_at else None})


def latest_update(incident: Incident):
    """The newest structured update of an incident, or None."""
    return incident.timeline.filter(kind=EntryKind.UPDATE).order_by("-seq").first()


def add_note(incident: Incident, *, text: str, by=None, actor_label: str = ""):
    text = _clean_text(text, "text", NOTE_MAX, required=True)
    with transaction.atomic():
        _lock(incident)
        return record(incident, EntryKind.NOTE, by, actor_label=actor_label, note=text)


def update_details(incident: Incident, *, by=None, title=None, description=None, services=None,
                   customer_tiers=None) -> Incident:
    with transaction.atomic():
        _lock(incident)
        for field, value, limit in (("title", title, TITLE_MAX),
                                    ("description", description, DESCRIPTION_MAX)):
            if value is None:
                continue
            value = _clean_text(value, field, limit, required=(field == "title"))
            old = getattr(incident, field)
            if value != old:
                setattr(incident, field, value)
                incident.save(update_fields=[field, "updated_at"])
                record(incident, EntryKind.FIELD, by, old=old, new=value, data={"field": field})
        for field, value in (("services", services), ("customer_tiers", customer_tiers)):
            if value is None:
                continue
            manager = getattr(incident, field)
            old = sorted(o.slug for o in manager.all())
            new = sorted(o.slug for o in value)
            if old != new:
                manager.set(value)
                record(incident, EntryKind.FIELD, by, old=", ".join(old), new=", ".join(new),
                       data={"field": field, "old": old, "new": new})
    return incident


def correct_milestones(incident: Incident, *, by, note: str = "", **milestones) -> Incident:
    """Correct milestone times afterwards (the commander's call); the order must hold."""
    unknown = set(milestones) - set(MILESTONES)
    if unknown:
        raise ValidationError({f: "Not a milestone." for f in unknown})
    note = _clean_text(note, "note", NOTE_MAX, required=False)
    with transaction.atomic():
        _lock(incident)
        proposed = {m: milestones.get(m, getattr(incident, m)) for m in MILESTONES}
        _validate_milestones(incident, proposed)
        for name in MILESTONES:
            old, new = getattr(incident, name), proposed[name]
            if old == new:
                continue
            setattr(incident, name, new)
            if name == "resolved_at" and incident.status == Status.RESOLVED:
                incident.closed_at = new
            incident.save()
            record(incident, EntryKind.MILESTONE, by,
                   old=old.isoformat() if old else "", new=new.isoformat() if new else "",
                   note=note, data={"milestone": name})
    return incident


def _validate_milestones(incident: Incident, proposed: dict) -> None:
    errors = {}
    now = timezone.now()
    if proposed["started_at"] is None:
        errors["started_at"] = "The start time is required."
    if proposed["detected_at"] is None:
        errors["detected_at"] = "The detection time is required."
    if incident.status == Status.RESOLVED and proposed["resolved_at"] is None:
        errors["resolved_at"] = "A resolved incident needs its resolution time."
    if incident.status != Status.RESOLVED and proposed["resolved_at"] is not None:
        errors["resolved_at"] = "Only a resolved incident has a resolution time."
    for name, value in proposed.items():
        if value is None or name in errors:
            continue
        if not timerange.in_range(value):
            errors[name] = timerange.MESSAGE
        elif value > now:
            errors[name] = "Cannot be in the future."
    previous = None
    for name in MILESTONES:
        value = proposed[name]
        if value is None or name in errors:
            continue
        if previous and value < proposed[previous]:
            errors[name] = (f"Must not be before {previous.removesuffix('_at').replace('_', ' ')} "
                            f"({proposed[previous].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC).")
        previous = name
    if errors:
        raise ValidationError(errors)


def set_restricted(incident: Incident, *, restricted: bool, by=None) -> Incident:
    with transaction.atomic():
        _lock(incident)
        if incident.restricted == restricted:
            return incident
        incident.restricted = restricted
        incident.save(update_fields=["restricted", "updated_at"])
        record(incident, EntryKind.RESTRICTION, by, old=str(not restricted), new=str(restricted),
               data={"restricted": restricted})
        kept = []
        if restricted:
            people = [by, incident.declared_by, incident.commander, incident.comms_lead,
                      *incident.responders.all()]
            kept = sorted({u for u in people if u}, key=_label)
            for user in kept:
                permissions.grant_view(incident, user=user)
        audit.log("incident.restrict", incident, actor=by, incident=incident,
                  object_repr=incident.reference, before={"restricted": not restricted},
                  after={"restricted": restricted},
                  note=f"Access kept for: {', '.join(map(_label, kept))}" if kept else "")
    return incident


def grant_access(incident: Incident, *, by=None, user=None, team=None) -> None:
    if (user is None) == (team is None):
        raise ValidationError({"user": "Name either a user or a team."})
    with transaction.atomic():
        _lock(incident)
        permissions.grant_view(incident, user=user, group=team.group if team else None)
        record(incident, EntryKind.RESTRICTION, by, new=_label(user) if user else team.name,
               data={"granted_to": "user" if user else "team",
                     "name": _label(user) if user else team.slug})
        audit.log("incident.grant", incident, actor=by, incident=incident,
                  object_repr=incident.reference, before=None,
                  after={"granted_to": f"user:{_label(user)}" if user else f"team:{team.slug}"})


def merge(incident: Incident, *, into: Incident, by=None, note: str = "") -> Incident:
    """Close `incident` as a duplicate of `into`; both timelines say so, the survivor gains the
    duplicate's services and customer tiers."""
    if incident.pk == into.pk:
        raise Conflict("An incident cannot be merged into itself.", "into")
    note = _clean_text(note, "note", NOTE_MAX, required=False)
    with transaction.atomic():
        # Lock both rows in id order so two opposite merges cannot deadlock.
        for other in sorted((incident, into), key=lambda i: i.pk):
            _lock(other)
        _require_open(incident)
        if not into.is_open:
            raise Conflict(f"{into.reference} is {into.get_status_display().lower()}; merge "
                           f"into an open incident.", "into")
        if incident.restricted and not into.restricted:
            raise Conflict("A restricted incident can only be merged into a restricted one.",
                           "into")
        old = incident.status
        lifecycle.apply_status(incident, Status.MERGED, timezone.now())
        incident.merged_into = into
        incident.save()
        record(incident, EntryKind.MERGED_INTO, by, old=old, new=into.reference, note=note,
               data={"into": into.pk})
        escalation.on_status_change(incident, old, Status.MERGED, by=by)
        gained_services = set(incident.services.all()) - set(into.services.all())
        gained_tiers = set(incident.customer_tiers.all()) - set(into.customer_tiers.all())
        into.services.add(*gained_services)
        into.customer_tiers.add(*gained_tiers)
        # A restricted incident's title stays on its own timeline: the survivor's may be read
        # by people the merged incident is hidden from (its number is hidden from them on
        # display, permissions.hide_unseen_links).
        record(into, EntryKind.MERGE_RECEIVED, by, new=incident.reference, note=note, data={
            "from": incident.pk,
            **({"restricted": True} if incident.restricted else {"title": incident.title}),
            "services": sorted(s.slug for s in gained_services),
            "customer_tiers": sorted(t.slug for t in gained_tiers),
        })
    return incident
