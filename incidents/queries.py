"""Read-side queries shared by the dashboard, the API and exports. Visibility is applied first."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from incidents.models import CLOSED_STATUSES, OPEN_STATUSES, Incident, Status
from incidents.permissions import visible_incidents

_REFERENCE = re.compile(r"^\s*(?:INC-)?(\d{1,12})\s*$", re.IGNORECASE)


def parse_reference(value: str) -> int | None:
    """'INC-12', 'inc-12' or '12' → 12; anything else → None."""
    match = _REFERENCE.match(value or "")
    return int(match.group(1)) if match else None


# --- What apps above add to incident lists (comms: SLA time left), so this app imports none ---

@dataclass(frozen=True)
class RowExtra:
    """A column of the dashboard and a line of My on-call: `annotate(rows)` sets attributes on
    a page's incidents in a constant number of queries; `template` renders one, as `incident`."""

    heading: str
    template: str
    annotate: Callable[[list], None]


@dataclass(frozen=True)
class Sort:
    """An ordering offered on the dashboard: `order(queryset)` of the urgency-ordered list."""

    label: str
    order: Callable[[QuerySet], QuerySet]


ROW_EXTRAS: list[RowExtra] = []
SORTS: dict[str, Sort] = {}


def add_row_extra(extra: RowExtra) -> None:
    if extra not in ROW_EXTRAS:
        ROW_EXTRAS.append(extra)


def add_sort(name: str, sort: Sort) -> None:
    SORTS[name] = sort


def annotate_rows(rows) -> list:
    rows = list(rows)
    for extra in ROW_EXTRAS:
        extra.annotate(rows)
    return rows


def dashboard_status(status: str, q: str) -> str:
    """The dashboard's status filter: open incidents by default, but a search not narrowed to a
    status looks in every status (people look up last week's incident by its title)."""
    if status:
        return status
    return "all" if (q or "").strip() else "open"


def filter_incidents(user, *, status="open", severity="", service="", team="", mine=False, q="",
                     sort=""):
    """Visible incidents matching the dashboard/API filters, most urgent first (or in a
    registered `sort`).

    status: "open", "closed", "all" or one status value; service and team are slugs.
    """
    qs = visible_incidents(user, Incident.objects.for_list())
    if status == "open" or not status:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status == "closed":
        qs = qs.filter(status__in=CLOSED_STATUSES)
    elif status in Status.values:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if service:
        qs = qs.filter(pk__in=Incident.services.through.objects.filter(
            service__slug=service).values("incident_id"))
    if team:
        qs = qs.filter(pk__in=Incident.services.through.objects.filter(
            service__team__slug=team).values("incident_id"))
    if mine:
        qs = qs.filter(
            Q(commander=user) | Q(comms_lead=user) | Q(declared_by=user)
            | Q(pk__in=Incident.responders.through.objects.filter(user=user).values("incident_id"))
        )
    q = (q or "").strip()
    if q:
        number = parse_reference(q)
        if number and q.upper().startswith("INC-"):
            qs = qs.filter(pk=number)  # an explicit reference names one incident
        elif number:
            qs = qs.filter(Q(pk=number) | Q(title__icontains=q))  # "12" may also be in "v2.12"
        else:
            qs = qs.filter(title__icontains=q)
    qs = qs.by_urgency()
    return SORTS[sort].order(qs) if sort in SORTS else qs


def open_counts(user) -> dict:
    """Open incidents per severity, counting only what this user may see (one query)."""
    row = visible_incidents(user).filter(status__in=OPEN_STATUSES).aggregate(
        total=Count("pk"),
        P1=Count("pk", filter=Q(severity="P1")),
        P2=Count("pk", filter=Q(severity="P2")),
        P3=Count("pk", filter=Q(severity="P3")),
        P4=Count("pk", filter=Q(severity="P4")),
    )
    return row
