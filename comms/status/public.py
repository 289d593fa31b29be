"""What the status page shows, read in a constant number of queries: the one source for the
HTML page, Statuspage's JSON and the feeds, so they never disagree.

Only published words leave through here: an incident is shown once a message for the status
page is published (a PublicIncident exists), under that message's subject, with its published
status-page messages as its updates; a restricted incident is never shown, and internal-only
components only on the internal page. Incident titles, notes and descriptions are never read.
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from comms.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    CustomerMessage,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    MessageState,
    Phase,
    PublicIncident,
    StatusPage,
)
from incidents.models import CLOSED_STATUSES, OPEN_STATUSES, Incident, Severity

# Statuspage's incident impact, from our severity.
IMPACT = {Severity.P1: "critical", Severity.P2: "major", Severity.P3: "minor",
          Severity.P4: "none"}
IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
# A component's status as Statuspage's page indicator, and the words for it.
COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.MAINTENANCE: "maintenance",
    ComponentStatus.DEGRADED: "minor",
    ComponentStatus.PARTIAL: "major",
    ComponentStatus.MAJOR: "critical",
}
DESCRIPTION = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
RECENT = 50  # Statuspage's incidents.json: the 50 most recent


@dataclass(frozen=True)
class Overall:
    indicator: str  # none, minor, major, critical, maintenance
    description: str


@dataclass
class Update:
    code: str
    status: str  # investigating, identified, monitoring, resolved (maintenance: its states)
    subject: str
    body: str
    created_at: datetime
    component_codes: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()


@dataclass
class IncidentView:
    code: str
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: list[Update]  # newest first, as Statuspage lists them
    components: list[Component]

    @property
    def resolved(self) -> bool:
        return self.status == Phase.RESOLVED

    @property
    def shortlink(self) -> str:
        return settings.SITE_URL + reverse("status:incident", args=[self.code])


@dataclass
class MaintenanceView:
    code: str
    name: str
    body: str
    status: str
    created_at: datetime
    updated_at: datetime
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    resolved_at: datetime | None
    updates: list[Update]  # newest first
    components: list[Component]

    @property
    def impact(self) -> str:
        return "maintenance"

    @property
    def shortlink(self) -> str:
        return settings.SITE_URL + reverse("status:maintenance", args=[self.code])


def page() -> StatusPage:
    return StatusPage.load()


def update_code(message_id: int) -> str:
    """The public id of a published message: not its key (those count internal drafts)."""
    mac = hmac.new(settings.SECRET_KEY.encode(), f"status-update:{message_id}".encode(),
                   hashlib.sha256).hexdigest()
    return mac[:12]


# --- Components ---------------------------------------------------------------------------------

def components(*, internal: bool = False) -> list[Component]:
    """Every component the page shows, group first (groups and components by position)."""
    rows = Component.objects.select_related("group")
    if not internal:
        rows = rows.filter(internal=False)
    return sorted(rows, key=lambda c: ((c.group.position, c.group.name, c.group_id)
                                       if c.group else (-1, "", 0), c.position, c.name))


def overall(component_rows: list[Component], incident_rows: list["IncidentView"] = (),
            maintenance_rows: list["MaintenanceView"] = ()) -> Overall:
    """The banner: the worst of the components' statuses and the unresolved incidents' impact;
    maintenance in progress when nothing is worse."""
    rank = {"none": 0, "maintenance": 0.5, "minor": 1, "major": 2, "critical": 3}
    worst = "none"
    for component in component_rows:
        candidate = COMPONENT_INDICATOR[ComponentStatus(component.status)]
        if rank[candidate] > rank[worst]:
            worst = candidate
    for incident in incident_rows:
        if not incident.resolved and rank[incident.impact] > rank[worst]:
            worst = incident.impact
    if worst == "none" and any(m.status in (MaintenanceState.IN_PROGRESS,
                                            MaintenanceState.VERIFYING) for m in maintenance_rows):
        worst = "maintenance"
    return Overall(worst, DESCRIPTION[worst])


def worst_status(statuses) -> str:
    return max(statuses, key=lambda s: STATUS_RANK[ComponentStatus(s)],
               default=ComponentStatus.OPERATIONAL)


# --- Incidents ----------------------------------------------------------------------------------

def _shown():
    return PublicIncident.objects.filter(incident__restricted=False).select_related("incident")


def active_incidents() -> list[IncidentView]:
    """Unresolved incidents, newest first."""
    rows = _shown().filter(incident__status__in=OPEN_STATUSES)
    return [view for view in incident_views(rows) if not view.resolved]


def recent_incidents(limit: int = RECENT) -> list[IncidentView]:
    return incident_views(_shown().order_by("-first_published_at", "-id")[:limit])


def incidents_between(start: datetime, end: datetime) -> list[IncidentView]:
    """Incidents first published in [start, end), newest first (the history pages)."""
    return incident_views(_shown().filter(first_published_at__gte=start,
                                          first_published_at__lt=end)
                          .order_by("-first_published_at", "-id"))


def incident(code: str) -> IncidentView | None:
    views = incident_views(_shown().filter(code=code))
    return views[0] if views else None


def incident_views(rows) -> list[IncidentView]:
    """IncidentViews of PublicIncident rows (with their incident), in their order: four
    queries however many there are."""
    rows = list(rows)
    if not rows:
        return []
    ids = [row.incident_id for row in rows]
    messages: dict[int, list] = {pk: [] for pk in ids}
    for message in (CustomerMessage.objects
                    .filter(incident_id__in=ids, state=MessageState.PUBLISHED,
                            to_status_page=True)
                    .order_by("published_at", "id")
                    .only("id", "incident_id", "phase", "subject", "body", "published_at")):
        messages[message.incident_id].append(message)
    affected: dict[int, list[Component]] = {pk: [] for pk in ids}
    links = Incident.services.through.objects.filter(incident_id__in=ids)
    by_service: dict[int, set[int]] = {}
    for incident_id, service_id in links.values_list("incident_id", "service_id"):
        by_service.setdefault(service_id, set()).add(incident_id)
    if by_service:
        pairs = list(Component.services.through.objects
                     .filter(service_id__in=list(by_service), component__internal=False)
                     .values_list("component_id", "service_id"))
        by_id = {c.pk: c for c in Component.objects.filter(pk__in={c for c, _ in pairs})
                 .select_related("group")}
        seen: set[tuple[int, int]] = set()
        for component_id, service_id in sorted(
                pairs, key=lambda p: (by_id[p[0]].position, by_id[p[0]].name)):
            for incident_id in sorted(by_service[service_id]):
                if (incident_id, component_id) not in seen:
                    seen.add((incident_id, component_id))
                    affected[incident_id].append(by_id[component_id])
    return [_incident_view(row, messages[row.incident_id], affected[row.incident_id])
            for row in rows]


def _incident_view(row: PublicIncident, published: list, affected: list) -> IncidentView:
    incident = row.incident
    closed = incident.status in CLOSED_STATUSES
    codes = [c.code for c in affected]
    updates = [Update(code=update_code(m.pk), status=m.phase, subject=m.subject, body=m.body,
                      created_at=m.published_at, component_codes=codes) for m in published]
    status = updates[-1].status if updates else Phase.INVESTIGATING
    if closed:
        status = Phase.RESOLVED
    monitoring_at = next((u.created_at for u in updates if u.status == Phase.MONITORING), None)
    resolved_at = None
    if status == Phase.RESOLVED:
        resolved_at = next((u.created_at for u in reversed(updates)
                            if u.status == Phase.RESOLVED), None) or incident.closed_at
    last = updates[-1].created_at if updates else row.first_published_at
    return IncidentView(
        code=row.code, name=row.name, status=status, impact=IMPACT[Severity(incident.severity)],
        created_at=row.first_published_at, updated_at=max(last, resolved_at or last),
        started_at=incident.started_at, monitoring_at=monitoring_at, resolved_at=resolved_at,
        updates=list(reversed(updates)), components=affected)


# --- Maintenance --------------------------------------------------------------------------------

def upcoming_maintenances(*, internal: bool = False) -> list[MaintenanceView]:
    return maintenance_views(Maintenance.objects.filter(state=MaintenanceState.SCHEDULED)
                             .order_by("starts_at", "id"), internal=internal)


def active_maintenances(*, internal: bool = False) -> list[MaintenanceView]:
    return maintenance_views(Maintenance.objects.filter(
        state__in=(MaintenanceState.IN_PROGRESS, MaintenanceState.VERIFYING))
        .order_by("starts_at", "id"), internal=internal)


def recent_maintenances(limit: int = RECENT) -> list[MaintenanceView]:
    return maintenance_views(Maintenance.objects.order_by("-starts_at", "-id")[:limit])


def maintenances_between(start: datetime, end: datetime) -> list[MaintenanceView]:
    return maintenance_views(Maintenance.objects.filter(
        Q(starts_at__gte=start, starts_at__lt=end)).order_by("-starts_at", "-id"))


def maintenance(code: str) -> MaintenanceView | None:
    views = maintenance_views(Maintenance.objects.filter(code=code))
    return views[0] if views else None


def maintenance_views(rows, *, internal: bool = False) -> list[MaintenanceView]:
    """Two queries besides the rows' own: updates and public components (every component
    for the internal page)."""
    rows = list(rows)
    if not rows:
        return []
    ids = [row.pk for row in rows]
    updates: dict[int, list[MaintenanceUpdate]] = {pk: [] for pk in ids}
    for update in MaintenanceUpdate.objects.filter(maintenance_id__in=ids).order_by("at", "id"):
        updates[update.maintenance_id].append(update)
    affected: dict[int, list[Component]] = {pk: [] for pk in ids}
    through = Maintenance.components.through
    links = through.objects.filter(maintenance_id__in=ids)
    if not internal:
        links = links.filter(component__internal=False)
    pairs = list(links.values_list("maintenance_id", "component_id"))
    by_id = {c.pk: c for c in Component.objects.filter(pk__in={c for _, c in pairs})
             .select_related("group")}
    for maintenance_id, component_id in pairs:
        affected[maintenance_id].append(by_id[component_id])
    views = []
    for row in rows:
        codes = [c.code for c in affected[row.pk]]
        public_updates = [Update(code=u.code, status=u.state, subject=row.name, body=u.body,
                                 created_at=u.at, component_codes=codes)
                          for u in updates[row.pk]]
        started = next((u.created_at for u in public_updates
                        if u.status == MaintenanceState.IN_PROGRESS), None)
        resolved = next((u.created_at for u in public_updates
                         if u.status == MaintenanceState.COMPLETED), None)
        views.append(MaintenanceView(
            code=row.code, name=row.name, body=row.body, status=row.state,
            created_at=row.created_at, updated_at=row.updated_at, scheduled_for=row.starts_at,
            scheduled_until=row.ends_at, started_at=started, resolved_at=resolved,
            updates=list(reversed(public_updates)),
            components=sorted(affected[row.pk], key=lambda c: (c.position, c.name))))
    return views
