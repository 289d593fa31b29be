"""Which action items a person sees, filtered and in the order people read them: one function
shared by "My action items" (postmortems.items.views) and the REST API (postmortems.items.api),
so both list the same items under the same visibility rule (postmortems.permissions)."""

from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from incidents.models import Incident
from postmortems import permissions as perms
from postmortems.models import FINISHED_ITEM_STATUSES, OPEN_ITEM_STATUSES, ActionItem

# A status filter names one status, or one of these groups.
STATUS_GROUPS = {"open": OPEN_ITEM_STATUSES, "finished": FINISHED_ITEM_STATUSES}


def filter_items(user, *, owner=None, status="", team=None, overdue=False, incident=None):
    """Visible items matching the filters: open ones first by due date, then finished ones,
    the most recently finished first. `owner` a user, `team` a Team, `incident` a number."""
    items = perms.visible_items(user, ActionItem.objects.select_related(
        "owner", "incident", "finished_by"))
    if owner is not None:
        items = items.filter(owner=owner)
    if overdue:
        items = items.filter(status__in=OPEN_ITEM_STATUSES, due_on__lt=timezone.localdate())
    if status:
        items = items.filter(status__in=STATUS_GROUPS.get(status, (status,)))
    if team is not None:
        items = items.filter(incident__in=Incident.services.through.objects.filter(
            service__team=team).values("incident_id"))
    if incident is not None:
        items = items.filter(incident_id=incident)
    finished = Case(When(status__in=FINISHED_ITEM_STATUSES, then=Value(1)), default=Value(0),
                    output_field=IntegerField())
    open_due = Case(When(status__in=OPEN_ITEM_STATUSES, then=F("due_on")))
    return items.order_by(finished, open_due.asc(nulls_last=True),
                          F("finished_at").desc(nulls_last=True), "id")
