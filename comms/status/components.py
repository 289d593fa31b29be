"""Every change of a component's status: by hand, following its linked incidents, or by a
maintenance. Each is a ComponentChange row (the uptime bars are computed from them), on the
timeline of the incident that caused it, and starts a new generation of the page's cache.

A component that follows incidents shows the worst open, unrestricted incident on its services
(AUTOMATIC below) or, when there is none, under maintenance while one of its maintenances runs.
A status set by hand holds until the next change of one of those incidents or maintenances.
Restricted incidents never move a component: the page must not hint at them.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from comms.models import (
    STATUS_RANK,
    Component,
    ComponentChange,
    ComponentStatus,
    Maintenance,
    MaintenanceState,
)
from comms.status import cache
from config.errors import Invalid, NotAllowed
from incidents.models import OPEN_STATUSES, EntryKind, Incident, Severity, TimelineEntry
from incidents.timeline import record

ROBOT = "Relay status page"
MANAGE_PERM = "comms.change_component"
AUTOMATIC = {
    Severity.P1: ComponentStatus.MAJOR,
    Severity.P2: ComponentStatus.PARTIAL,
    Severity.P3: ComponentStatus.DEGRADED,
    Severity.P4: ComponentStatus.DEGRADED,
}
# Timeline entries after which the components of an incident's services may have to change.
TRIGGERS = frozenset({EntryKind.DECLARED, EntryKind.STATUS, EntryKind.SEVERITY, EntryKind.FIELD,
                      EntryKind.RESTRICTION, EntryKind.MERGED_INTO})
RUNNING = (MaintenanceState.IN_PROGRESS, MaintenanceState.VERIFYING)
NOTE_MAX = 500


def set_status(component: Component, status: str, *, by=None, incident: Incident | None = None,
               maintenance: Maintenance | None = None, note: str = "") -> bool:
    """Change one component's status, recorded; False when it already had it. Inside the
    transaction of the change that caused it (an incident's: under its row lock)."""
    if status not in ComponentStatus.values:
        raise Invalid(f"{status!r} is not a component status.", "status")
    with transaction.atomic():
        locked = Component.objects.select_for_update().get(pk=component.pk)
        old = locked.status
        if old == status:
            return False
        now = timezone.now()
        ComponentChange.objects.create(component=locked, at=now, old_status=old,
                                       new_status=status, incident=incident,
                                       maintenance=maintenance, by=by, note=note[:NOTE_MAX])
        Component.objects.filter(pk=locked.pk).update(status=status, status_changed_at=now)
        component.status, component.status_changed_at = status, now
        cache.invalidate()
        if incident is not None:
            record(incident, EntryKind.STATUS_PAGE, actor_label=ROBOT, old=old, new=status,
                   note=f"{locked.name} is now "
                        f"{ComponentStatus(status).label.lower()} "
                        f"(was {ComponentStatus(old).label.lower()}).",
                   data={"component": locked.code, "name": locked.name})
    return True


def set_by_hand(component: Component, status: str, *, by, note: str = "") -> bool:
    """The portal's and the API's "set status" (Communications)."""
    if not by.has_perm(MANAGE_PERM):
        raise NotAllowed("Only Communications may set a component's status.")
    note = " ".join((note or "").split())
    if len(note) > NOTE_MAX:
        raise Invalid(f"Keep the note under {NOTE_MAX} characters.", "note")
    return set_status(component, status, by=by, note=note or "Set by hand.")


def wanted(component: Component) -> tuple[str, Maintenance | None]:
    """What a component that follows incidents should show now, and the running maintenance
    behind it (when that is what it shows)."""
    severities = (Incident.objects.filter(services__status_components=component,
                                          status__in=OPEN_STATUSES, restricted=False)
                  .values_list("severity", flat=True).distinct())
    statuses = [AUTOMATIC[Severity(s)] for s in severities]
    running = (Maintenance.objects.filter(components=component, state__in=RUNNING)
               .order_by("starts_at").first())
    if running is not None:
        statuses.append(ComponentStatus.MAINTENANCE)
    status = max(statuses, key=lambda s: STATUS_RANK[s], default=ComponentStatus.OPERATIONAL)
    return status, (running if status == ComponentStatus.MAINTENANCE else None)


def recompute(component: Component, *, incident: Incident | None = None,
              maintenance: Maintenance | None = None) -> bool:
    """Bring a component that follows incidents in line; the cause is recorded with it."""
    if not component.follows_incidents:
        return False
    with transaction.atomic():
        # Lock first, then look: two incidents changing at once must not each see only itself
        # (the second reads after the first commits, under PostgreSQL's read committed).
        Component.objects.select_for_update().filter(pk=component.pk).first()
        status, running = wanted(component)
        return set_status(component, status, incident=incident,
                          maintenance=maintenance or running,
                          note="Follows its incidents and maintenance.")


def follow(incident: Incident, entry: TimelineEntry) -> None:
    """The timeline listener: the components of the incident's services follow it."""
    if entry.kind not in TRIGGERS:
        return
    if entry.kind == EntryKind.FIELD and entry.data.get("field") != "services":
        return
    following = Component.objects.filter(follows_incidents=True)
    if entry.kind != EntryKind.FIELD:  # a changed service list may have left some behind
        following = following.filter(services__incidents=incident.pk)
    for component in following.distinct().order_by("pk"):
        recompute(component, incident=incident)


def following_maintenance(maintenance: Maintenance) -> None:
    """A maintenance started or ended: its components follow (comms.status.maintenance)."""
    for component in maintenance.components.filter(
            Q(follows_incidents=True) | Q(status=ComponentStatus.MAINTENANCE)).order_by("pk"):
        if component.follows_incidents:
            recompute(component, maintenance=maintenance)
        elif maintenance.state not in RUNNING:
            # Set by hand to under maintenance for this maintenance: it is over.
            set_status(component, ComponentStatus.OPERATIONAL, maintenance=maintenance,
                       note="The maintenance is over.")
