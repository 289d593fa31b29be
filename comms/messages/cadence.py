"""How often an incident's customers hear from us, and when the next update is due.

Each incident gets a cadence when it is declared, by severity (settings.RELAY_UPDATE_CADENCE_
MINUTES; 0 = none), and it follows severity changes until someone sets it by hand. The next
update is due a cadence after the last published message (or the declaration); a closed incident
has no due time. The timeline listener below keeps it so, inside each entry's transaction."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from comms.messages import permissions as perms
from comms.models import CustomerMessage, MessageState, UpdateCadence
from config.errors import NotAllowed
from incidents.models import CLOSED_STATUSES, EntryKind, Incident, TimelineEntry
from incidents.timeline import record

MINUTES_MIN, MINUTES_MAX = 5, 7 * 24 * 60


def default_minutes(severity: str) -> int | None:
    return settings.RELAY_UPDATE_CADENCE_MINUTES.get(severity) or None


def next_due(incident: Incident, cadence: UpdateCadence, closed: bool | None = None):
    """A cadence after the last publication (or the declaration); None when closed or when the
    severity's default is no cadence and nobody set one."""
    closed = incident.status in CLOSED_STATUSES if closed is None else closed
    if closed or (cadence.set_by_id is None and default_minutes(incident.severity) is None):
        return None
    last = (CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED)
            .aggregate(last=Max("published_at"))["last"])
    return (last or incident.created_at) + timedelta(minutes=cadence.minutes)


def on_timeline_entry(incident: Incident, entry: TimelineEntry) -> None:
    """Create the cadence on declaration, follow severity, stop when closed, resume on reopen."""
    if entry.kind == EntryKind.DECLARED:
        minutes = default_minutes(entry.new_value)
        if minutes:
            UpdateCadence.objects.create(incident=incident, minutes=minutes,
                                         due_at=entry.created_at + timedelta(minutes=minutes))
    elif entry.kind == EntryKind.SEVERITY:
        _follow_severity(incident, entry.new_value)
    elif entry.kind == EntryKind.STATUS:
        cadence = UpdateCadence.objects.filter(incident=incident).first()
        if cadence:
            _save_due(cadence, next_due(incident, cadence,
                                        closed=entry.new_value in CLOSED_STATUSES))


def _follow_severity(incident: Incident, severity: str) -> None:
    cadence = UpdateCadence.objects.filter(incident=incident).first()
    minutes = default_minutes(severity)
    if cadence is None:
        if minutes:
            cadence = UpdateCadence(incident=incident, minutes=minutes)
            cadence.due_at = next_due(incident, cadence)
            cadence.save()
        return
    if cadence.set_by_id is None:
        cadence.minutes = minutes or cadence.minutes
        _save_due(cadence, next_due(incident, cadence))


def _save_due(cadence: UpdateCadence, due) -> None:
    cadence.due_at = due
    cadence.save(update_fields=["minutes", "due_at", "updated_at"])


def after_publication(incident: Incident, published_at: datetime) -> None:
    """A published message moves the next due time (inside the publication's transaction)."""
    cadence = UpdateCadence.objects.filter(incident=incident).first()
    if cadence:
        _save_due(cadence, next_due(incident, cadence))


def set_cadence(incident: Incident, *, by, minutes) -> UpdateCadence:
    """The communications lead (or Communications) sets how often customers hear from us."""
    if not perms.can_set_cadence(by, incident):
        raise NotAllowed("Only the incident's communications lead or Communications can set the "
                         "update cadence.")
    if isinstance(minutes, bool) or not isinstance(minutes, int) \
            or not MINUTES_MIN <= minutes <= MINUTES_MAX:
        raise ValidationError({"minutes": f"Between {MINUTES_MIN} minutes and "
                                          f"{MINUTES_MAX // 1440} days ({MINUTES_MAX} minutes)."})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        cadence, _ = UpdateCadence.objects.select_for_update().get_or_create(
            incident=incident, defaults={"minutes": minutes})
        old = cadence.minutes
        cadence.minutes, cadence.set_by = minutes, by
        _save_due(cadence, next_due(incident, cadence))
        UpdateCadence.objects.filter(pk=cadence.pk).update(set_by=by)
        due = f"next due {cadence.due_at:%H:%M} UTC" if cadence.due_at else "the incident is closed"
        record(incident, EntryKind.MESSAGE, by, old=old, new=minutes,
               note=f"Customer updates every {minutes} minutes; {due}.",
               data={"action": "cadence", "minutes": minutes})
    return cadence
