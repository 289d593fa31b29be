"""SLA time left in the incident lists (dashboard, My on-call) and the dashboard's "least SLA
time left" sort, through incidents.queries' hooks (registered in CommsConfig.ready())."""

from django.db.models import F, Min, OuterRef, Subquery
from django.utils import timezone

from comms.models import SlaClock
from comms.sla import present, services
from incidents.queries import RowExtra, Sort


def annotate(rows: list) -> None:
    """Set `sla_clock` (the most urgent clock in words, or None) on each incident: one query
    for the clocks, and the calendars' only when a clock runs on one."""
    by_incident = services.open_clocks_of([row.pk for row in rows])
    every = [c for cs in by_incident.values() for c in cs]
    calendars = services.calendars_for(every)
    now = timezone.now()
    for row in rows:
        views = [present.describe(c, now, calendars.get(c.calendar_id))
                 for c in by_incident.get(row.pk, [])]
        row.sla_clock = present.most_urgent(views)


def least_time_left(queryset):
    """Running clocks' earliest due time first; incidents without one after, in urgency order.
    (Across calendars, the earliest due time is a close stand-in for the least time left.)"""
    due = (SlaClock.objects.filter(incident=OuterRef("pk"), replaced_at=None, stopped_at=None,
                                   due_at__isnull=False)
           .values("incident").annotate(first=Min("due_at")).values("first"))
    ordering = queryset.query.order_by
    return queryset.annotate(sla_due=Subquery(due)).order_by(
        F("sla_due").asc(nulls_last=True), *ordering)


ROW = RowExtra(heading="SLA", template="comms/sla/_row.html", annotate=annotate)
SORT = Sort(label="Least SLA time left", order=least_time_left)
