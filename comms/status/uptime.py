"""The uptime bars: each component's last 90 days, from its ComponentChange history.

Weighted as Statuspage weighs them: a major outage counts fully as downtime, a partial outage
30 %, degraded performance and maintenance not at all. Days are the page's time zone's calendar
days (23 or 25 hours across a DST change), today up to now; the days before a component existed
have no data. Two queries for any number of components.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from comms.models import STATUS_RANK, Component, ComponentChange, ComponentStatus

DAYS = 90
WEIGHT = {ComponentStatus.MAJOR: 1.0, ComponentStatus.PARTIAL: 0.3}


@dataclass(frozen=True)
class Day:
    date: date
    uptime: float | None  # 0..1 over the part of the day the component existed; None: no data
    worst: str  # the worst status the component had that day

    @property
    def percent(self) -> str:
        return percent(self.uptime)

    @property
    def label(self) -> str:
        when = f"{self.date.day} {self.date:%b %Y}"
        if self.uptime is None:
            return f"{when}: no data"
        words = f"{when}: {self.percent} % uptime"
        if self.worst != ComponentStatus.OPERATIONAL:
            words += f", {ComponentStatus(self.worst).label.lower()}"
        return words


@dataclass(frozen=True)
class Uptime:
    days: list[Day]  # oldest first
    uptime: float | None  # over the whole window

    @property
    def percent(self) -> str:
        return percent(self.uptime)


def percent(fraction: float | None) -> str:
    """99.95: rounded down, so a day with any downtime never reads 100."""
    if fraction is None:
        return "–"
    if fraction >= 1:
        return "100"
    return f"{math.floor(fraction * 10000) / 100:.2f}"


def day_bounds(tz: ZoneInfo, now: datetime, days: int = DAYS) -> list[tuple]:
    """(date, start, end) of the last `days` local days, oldest first; today ends now. In UTC:
    Python subtracts two times of one zone as wall-clock times, wrong across a DST change."""
    today = timezone.localtime(now, tz).date()
    bounds = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        bounds.append((day, start, min(end, now)))
    return bounds


def bars(components: list[Component], tz: ZoneInfo, now: datetime | None = None,
         days: int = DAYS) -> dict[int, Uptime]:
    """Each component's Uptime by its pk."""
    now = now or timezone.now()
    bounds = day_bounds(tz, now, days)
    window_start = bounds[0][1]
    ids = [c.pk for c in components]
    before = dict(Component.objects.filter(pk__in=ids).annotate(
        last=Subquery(ComponentChange.objects.filter(component=OuterRef("pk"), at__lt=window_start)
                      .order_by("-at", "-id").values("new_status")[:1]))
        .values_list("pk", "last"))
    changes: dict[int, list[tuple[datetime, str, str]]] = {pk: [] for pk in ids}
    for row in (ComponentChange.objects.filter(component_id__in=ids, at__gte=window_start,
                                               at__lte=now)
                .order_by("at", "id").values_list("component_id", "at", "old_status",
                                                  "new_status")):
        changes[row[0]].append(row[1:])
    return {c.pk: _uptime(c, before.get(c.pk), changes[c.pk], bounds) for c in components}


def _uptime(component: Component, before: str | None, changes: list, bounds) -> Uptime:
    # The status at the window's start: the last change before it; else the first change in it
    # says what it changed from; else it has not changed since.
    status = before or (changes[0][1] if changes else component.status)
    spans = _spans(status, changes, bounds[0][1], bounds[-1][2])
    days, total, down = [], 0.0, 0.0
    for day, start, end in bounds:
        start = max(start, component.created_at)
        if start >= end:
            days.append(Day(day, None, ComponentStatus.OPERATIONAL))
            continue
        length, weighted, worst = _measure(spans, start, end)
        total, down = total + length, down + weighted
        days.append(Day(day, 1 - weighted / length, worst))
    return Uptime(days, (1 - down / total) if total else None)


def _spans(status: str, changes: list, start: datetime, end: datetime) -> list:
    """[(from, to, status)] covering [start, end)."""
    spans, at = [], start
    for changed_at, _old, new in changes:
        if changed_at > at:
            spans.append((at, changed_at, status))
            at = changed_at
        status = new
    if end > at:
        spans.append((at, end, status))
    return spans


def _measure(spans: list, start: datetime, end: datetime) -> tuple[float, float, str]:
    """Seconds in [start, end), weighted downtime seconds, the worst status seen."""
    weighted, worst = 0.0, ComponentStatus.OPERATIONAL
    for span_start, span_end, status in spans:
        overlap = (min(span_end, end) - max(span_start, start)).total_seconds()
        if overlap <= 0:
            continue
        weighted += overlap * WEIGHT.get(status, 0.0)
        if STATUS_RANK[ComponentStatus(status)] > STATUS_RANK[ComponentStatus(worst)]:
            worst = status
    return (end - start).total_seconds(), weighted, worst
