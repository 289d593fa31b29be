"""Moving an incident's status: the milestones a status implies and the one status entry on the
timeline. services.transition (every user-facing path) and the escalation's acknowledgement
timeout both move statuses through here; it sits below both because services imports escalation.
Callers hold the incident row lock and check that the move is allowed."""

from datetime import datetime

from incidents.models import CLOSED_STATUSES, EntryKind, Incident, Status
from incidents.timeline import record

# Statuses that imply someone has picked the incident up, or that it is mitigated.
_ACKNOWLEDGING = frozenset(
    {Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING,
     Status.RESOLVED}
)
_MITIGATING = frozenset({Status.MONITORING, Status.RESOLVED})


def apply_status(incident: Incident, to: str, now: datetime) -> dict:
    """Move the status and set the milestones it implies; return what changed for the entry.
    acknowledged_at keeps the first acknowledgement, also after a re-trigger: it is when
    somebody first responded, which is what time-to-acknowledge reports."""
    changed = {}
    if to in _ACKNOWLEDGING and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        changed["acknowledged_at"] = now.isoformat()
    if to in _MITIGATING and incident.mitigated_at is None:
        incident.mitigated_at = now
        changed["mitigated_at"] = now.isoformat()
    if to == Status.RESOLVED:
        incident.resolved_at = now
        changed["resolved_at"] = now.isoformat()
    if to in CLOSED_STATUSES:
        incident.closed_at = now
    elif incident.status == Status.RESOLVED:  # reopened
        changed["reopened"] = True
        incident.resolved_at = None
        incident.closed_at = None
    incident.status = to
    return changed


def move_status(incident: Incident, to: str, now: datetime, *, by=None, actor_label: str = "",
                note: str = "", data: dict | None = None) -> str:
    """Apply, save and record the move; return the old status."""
    old = incident.status
    changed = apply_status(incident, to, now)
    incident.save()
    record(incident, EntryKind.STATUS, by, actor_label=actor_label, old=old, new=to,
           note=note, data={**changed, **(data or {})})
    return old
