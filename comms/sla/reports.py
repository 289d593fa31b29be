"""The SLA page's read side: open clocks by time left, and met / breached counts per tier and
per customer over a period. Only incidents the viewer may see are counted."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q

from accounts.guards import has_role_perm
from comms.models import ClockState, SlaClock
from incidents.models import Incident
from incidents.permissions import VIEW, visible_alerts

OPEN_LIMIT = 100


def _visible_clocks(user):
    """Live clocks of incidents this user may see, written as "less those of hidden restricted
    incidents": PostgreSQL answers that from the few restricted incidents (a partial index)
    instead of joining every incident to the clocks."""
    clocks = SlaClock.objects.filter(replaced_at=None)
    if not has_role_perm(user, VIEW):
        return clocks.none()
    return visible_alerts(user, clocks)


def open_clocks(user) -> list[SlaClock]:
    """Running and paused clocks, least time left first (paused ones last)."""
    rows = (_visible_clocks(user).filter(stopped_at=None)
            .select_related("incident", "customer", "tier")
            .order_by(F("due_at").asc(nulls_last=True), "id")[:OPEN_LIMIT])
    return list(rows)


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The chosen days, inclusive; by default the last 30 days."""
    end = end or today
    return (start or end - timedelta(days=29)), end


def compliance(user, start: date, end: date, team=None) -> dict[str, list[dict]]:
    """Per tier and per customer: clocks started in the period, how many were met and breached
    (a breach counts even while the clock still runs), and the share met of those decided. With
    a team, only clocks of incidents on that team's services."""
    since = datetime.combine(start, time(0), UTC)
    until = datetime.combine(end + timedelta(days=1), time(0), UTC)
    clocks = _visible_clocks(user).filter(started_at__gte=since, started_at__lt=until)
    if team is not None:
        on_team = Incident.services.through.objects.filter(incident_id=OuterRef("incident_id"),
                                                           service__team=team)
        clocks = clocks.filter(Exists(on_team))
    counts = dict(
        total=Count("id"),
        met=Count("id", filter=Q(state=ClockState.MET)),
        breached=Count("id", filter=Q(state=ClockState.BREACHED) | Q(breached_at__isnull=False)),
    )
    by_tier = clocks.values("tier__name").annotate(**counts).order_by("tier__name")
    by_customer = (clocks.exclude(customer=None).values("customer__name", "customer_id")
                   .annotate(**counts).order_by("customer__name", "customer_id"))
    return {"tiers": [_with_share(r, r["tier__name"]) for r in by_tier],
            "customers": [_with_share(r, r["customer__name"]) for r in by_customer]}


def _with_share(row: dict, name: str) -> dict:
    decided = row["met"] + row["breached"]
    share = round(100 * row["met"] / decided, 1) if decided else None
    return {"name": name, "total": row["total"], "met": row["met"], "breached": row["breached"],
            "open": row["total"] - decided, "share": share}
