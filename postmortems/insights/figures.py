"""The insights page's read side: response times, incident counts, SLA compliance, on-call load,
alert noise and action items over a range of days, for one team or all.

Every figure is one or two aggregate queries whatever the number of rows, and counts only what
the viewer may see: incidents through incidents.permissions.visible_incidents, and pages, alerts,
clocks and action items through their incident. Each figure is a Table (a header and rows) that
the page draws as a chart and a table and the CSV export writes as is.

Days are UTC days; weeks are ISO weeks (Monday to Sunday, UTC) and an incident counts in the week
it started. Percentiles interpolate linearly between the two nearest values, as PostgreSQL's
percentile_cont does: on PostgreSQL in SQL, elsewhere in Python from one query (percentile()),
with the same arithmetic so both give the same figures.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, Exists, F, FloatField, Func, OuterRef, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncWeek

from accounts.guards import has_role_perm
from comms.sla import reports
from incidents.models import Incident, Page, PagePurpose, Severity, Status
from incidents.permissions import VIEW, visible_alerts, visible_incidents
from oncall.models import Team
from postmortems.models import OPEN_ITEM_STATUSES, ActionItem, ItemStatus
from postmortems.permissions import VIEW_ITEMS

DEFAULT_DAYS = 90
# Declined incidents were not incidents; merged ones count in the incident they joined.
NOT_COUNTED = (Status.DECLINED, Status.MERGED)
NO_TEAM = "No team"
NO_SERVICE = "No service"


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    team: Team | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), UTC)

    def params(self) -> dict[str, str]:
        """The query string that selects these filters (for links to the CSV exports)."""
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.team is not None:
            params["team"] = str(self.team.pk)
        return params


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS - 1), today


@dataclass
class Table:
    columns: list[str]
    rows: list[list] = field(default_factory=list)


def weeks(filters: Filters) -> list[date]:
    """The Mondays of the ISO weeks the range touches, in order."""
    monday = filters.start - timedelta(days=filters.start.weekday())
    return [monday + timedelta(weeks=k)
            for k in range((filters.end - monday).days // 7 + 1)]


# --- scopes --------------------------------------------------------------------------------------


def in_team(team: Team, ref: str = "pk"):
    """An incident (named by `ref`) belongs to a team through one of its services."""
    through = Incident.services.through.objects.filter(incident_id=OuterRef(ref),
                                                       service__team=team)
    return Exists(through)


def scope(user, filters: Filters):
    """The incidents the viewer may see, of the chosen team: pages, clocks and items follow."""
    incidents = visible_incidents(user)
    if filters.team is not None:
        incidents = incidents.filter(in_team(filters.team))
    return incidents


def of_visible_incidents(user, queryset):
    """Rows (pages, items) of incidents this user may see, by the rule of visible_incidents
    written as "less the hidden restricted ones" (visible_alerts, for any row with an
    `incident` key): PostgreSQL answers that from the few restricted incidents (a partial
    index) instead of joining every incident."""
    if not has_role_perm(user, VIEW):
        return queryset.none()
    return visible_alerts(user, queryset)


def counted(user, filters: Filters):
    """Incidents that started in the range and count as incidents."""
    return (scope(user, filters).filter(started_at__gte=filters.since,
                                        started_at__lt=filters.until)
            .exclude(status__in=NOT_COUNTED))


# --- percentiles ---------------------------------------------------------------------------------


class Percentile(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile(values: list[float], fraction: float) -> float | None:
    """The same interpolation as PERCENTILE_CONT, operation for operation (so the floats agree):
    between the values at floor and ceil of fraction × (n − 1), sorted."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _seconds_since_start(milestone: str):
    return Func(F(milestone), F("started_at"), arg_joiner=" - ", output_field=FloatField(),
                template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision")


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


# --- 1. response times ---------------------------------------------------------------------------

RESPONSE_COLUMNS = ["Week", "Incidents", "Acknowledged", "MTTA median (min)", "MTTA p90 (min)",
                    "Resolved", "MTTR median (min)", "MTTR p90 (min)"]


def response_times(user, filters: Filters) -> Table:
    """Per ISO week: time to acknowledge and to resolve (from the start), median and p90."""
    rows = (_response_sql if connection.vendor == "postgresql" else _response_python)(
        counted(user, filters).annotate(week=TruncWeek("started_at", tzinfo=UTC)))
    table = Table(RESPONSE_COLUMNS)
    for monday in weeks(filters):
        n, acked, ack, resolved, res = rows.get(monday, (0, 0, (None, None), 0, (None, None)))
        table.rows.append([monday.isoformat(), n, acked, *map(_minutes, ack), resolved,
                           *map(_minutes, res)])
    return table


def _response_sql(incidents) -> dict:
    ack, res = _seconds_since_start("acknowledged_at"), _seconds_since_start("resolved_at")
    found = (incidents.values("week").annotate(
        n=Count("id"), acked=Count("acknowledged_at"), resolved=Count("resolved_at"),
        ack50=Percentile(ack, 0.5), ack90=Percentile(ack, 0.9),
        res50=Percentile(res, 0.5), res90=Percentile(res, 0.9)).order_by("week"))
    return {r["week"].date(): (r["n"], r["acked"], (r["ack50"], r["ack90"]), r["resolved"],
                               (r["res50"], r["res90"])) for r in found}


def _response_python(incidents) -> dict:
    by_week = defaultdict(lambda: ([], [], []))
    for week, started, acknowledged, resolved in incidents.values_list(
            "week", "started_at", "acknowledged_at", "resolved_at"):
        everyone, acks, fixes = by_week[week.date()]
        everyone.append(1)
        if acknowledged is not None:
            acks.append((acknowledged - started).total_seconds())
        if resolved is not None:
            fixes.append((resolved - started).total_seconds())
    return {week: (len(n), len(acks), (percentile(acks, 0.5), percentile(acks, 0.9)),
                   len(fixes), (percentile(fixes, 0.5), percentile(fixes, 0.9)))
            for week, (n, acks, fixes) in by_week.items()}


# --- 2. incidents by severity, service and team -------------------------------------------------


def by_severity(user, filters: Filters) -> Table:
    found = (counted(user, filters).annotate(week=TruncWeek("started_at", tzinfo=UTC))
             .values("week", "severity").annotate(n=Count("id")).order_by())
    counts = defaultdict(int)
    for row in found:
        counts[row["week"].date(), row["severity"]] += row["n"]
    table = Table(["Week", *Severity.values, "Total"])
    for monday in weeks(filters):
        week = [counts[monday, severity] for severity in Severity.values]
        table.rows.append([monday.isoformat(), *week, sum(week)])
    return table


def by_service(user, filters: Filters) -> Table:
    """An incident on several services counts for each."""
    return _by(counted(user, filters), "services__name", "Service", NO_SERVICE)


def by_team(user, filters: Filters) -> Table:
    """An incident on services of several teams counts for each."""
    return _by(counted(user, filters), "services__team__name", "Team", NO_TEAM)


def _by(incidents, name: str, heading: str, nothing: str) -> Table:
    found = incidents.values(name).annotate(n=Count("id", distinct=True)).order_by()
    rows = sorted(([r[name] or nothing, r["n"]] for r in found), key=lambda r: (-r[1], r[0]))
    return Table([heading, "Incidents"], rows)


# --- 3. SLA compliance ---------------------------------------------------------------------------

SLA_COLUMNS = ["Clocks", "Met", "Breached", "Open", "Met %"]


def sla(user, filters: Filters) -> dict[str, Table]:
    """comms.sla.reports' compliance (clocks that started in the range, of the chosen team)."""
    found = reports.compliance(user, filters.start, filters.end, team=filters.team)
    return {
        key: Table([heading, *SLA_COLUMNS], [[r["name"], r["total"], r["met"], r["breached"],
                                             r["open"], r["share"]] for r in found[key]])
        for key, heading in (("tiers", "Tier"), ("customers", "Customer"))
    }


# --- 4. on-call load -----------------------------------------------------------------------------


def oncall_load(user, filters: Filters) -> Table:
    """Pages (not notices) per person by when they were created, in the working-hours time
    zone: outside working hours (Monday to Friday) and in sleep hours (every day)."""
    zone = ZoneInfo(settings.RELAY_WORKING_HOURS_TZ)
    pages = of_visible_incidents(user, Page.objects.filter(
        purpose=PagePurpose.PAGE, created_at__gte=filters.since, created_at__lt=filters.until))
    if filters.team is not None:
        pages = pages.filter(in_team(filters.team, "incident_id"))
    pages = pages.annotate(hour=ExtractHour("created_at", tzinfo=zone),
                           weekday=ExtractIsoWeekDay("created_at", tzinfo=zone))
    found = (pages.values("user_id", "user__username", "user__first_name", "user__last_name")
             .annotate(n=Count("id"), outside=Count("id", filter=_outside_working_hours()),
                       asleep=Count("id", filter=_hours(*settings.RELAY_SLEEP_HOURS)))
             .order_by())
    rows = [[_person(r), r["n"], r["outside"], r["asleep"]] for r in found]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return Table(["Person", "Pages", "Outside working hours", "In sleep hours"], rows)


def _hours(start: int, end: int) -> Q:
    """[start, end) in local hours; a range that wraps midnight (22, 7) is two pieces."""
    if start <= end:
        return Q(hour__gte=start, hour__lt=end)
    return Q(hour__gte=start) | Q(hour__lt=end)


def _outside_working_hours() -> Q:
    return Q(weekday__gte=6) | ~_hours(*settings.RELAY_WORKING_HOURS)


def _person(row: dict) -> str:
    name = f"{row['user__first_name']} {row['user__last_name']}".strip()
    return f"{name} ({row['user__username']})" if name else row["user__username"]


# --- 5. alert noise ------------------------------------------------------------------------------


def _alerts(user, filters: Filters):
    alerts = visible_alerts(user).filter(first_seen__gte=filters.since,
                                         first_seen__lt=filters.until)
    if filters.team is not None:
        alerts = alerts.filter(service__team=filters.team)
    return alerts


def alert_sources(user, filters: Filters) -> Table:
    """Integrations by alert events (an alert's repeats count as events, Alert.count)."""
    found = (_alerts(user, filters).values("integration_id", "integration__name",
                                            "service__name")
             .annotate(alerts=Count("id"), events=Sum("count")).order_by())
    rows = [[r["integration__name"], r["service__name"], r["alerts"], r["events"]]
            for r in found]
    rows.sort(key=lambda r: (-r[3], -r[2], r[0], r[1]))
    return Table(["Integration", "Service", "Alerts", "Events"], rows)


def alert_services(user, filters: Filters) -> Table:
    found = (_alerts(user, filters).values("service__name")
             .annotate(alerts=Count("id"), events=Sum("count")).order_by())
    rows = [[r["service__name"], r["alerts"], r["events"]] for r in found]
    rows.sort(key=lambda r: (-r[2], -r[1], r[0]))
    return Table(["Service", "Alerts", "Events"], rows)


# --- 6. action items -----------------------------------------------------------------------------

ITEM_COLUMNS = ["Team", "Created", "Done", "Accepted", "Open", "Overdue", "Completed %"]
ALL_TEAMS = "All teams"


def action_items(user, filters: Filters, today: date) -> Table:
    """Items created in the range: where they stand now, overall and per team (an item of an
    incident on services of several teams counts for each)."""
    items = ActionItem.objects.none() if not has_role_perm(user, VIEW_ITEMS) else (
        of_visible_incidents(user, ActionItem.objects.filter(created_at__gte=filters.since,
                                                             created_at__lt=filters.until)))
    if filters.team is not None:
        items = items.filter(in_team(filters.team, "incident_id"))
    overall = items.aggregate(**_item_counts(today, distinct=False))
    per_team = (items.values("incident__services__team__name")
                .annotate(**_item_counts(today, distinct=True)).order_by())
    rows = [_item_row(r["incident__services__team__name"] or NO_TEAM, r) for r in per_team]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return Table(ITEM_COLUMNS, [_item_row(ALL_TEAMS, overall), *rows])


def _item_counts(today: date, *, distinct: bool) -> dict:
    def count(condition=None):
        return Count("id", filter=condition, distinct=distinct)

    return {
        "created": count(),
        "done": count(Q(status=ItemStatus.DONE)),
        "accepted": count(Q(status=ItemStatus.ACCEPTED)),
        "open": count(Q(status__in=OPEN_ITEM_STATUSES)),
        "overdue": count(Q(status__in=OPEN_ITEM_STATUSES, due_on__lt=today)),
    }


def _item_row(name: str, counts: dict) -> list:
    finished = counts["done"] + counts["accepted"]
    share = round(100 * finished / counts["created"], 1) if counts["created"] else None
    return [name, counts["created"], counts["done"], counts["accepted"], counts["open"],
            counts["overdue"], share]

