"""Paging's two sources of due work for the timer engine (config/timers.py), registered in
IncidentsConfig.ready(): escalation runs, advanced in the ticker thread itself, and page
deliveries, handed to the worker pool because sending leaves the machine."""

from datetime import datetime, timedelta

from django.db.models import F
from django_q.tasks import async_task

from config.timers import Source
from incidents.models import EntryKind, Page, TimelineEntry
from incidents.paging import delivery, escalation

# A page younger than this has its own delivery task (enqueued when it was created): the ticker
# only hands on pages that nobody is delivering.
PAGE_GRACE = timedelta(seconds=3)
# An orphaned page handed to the pool is not handed again for this long (see Source).
REDISPATCH = 30.0


def _advance(run_id: int, now: datetime) -> None:
    escalation.advance(run_id, now)


def _runs_late(since: datetime) -> list[float]:
    """Each paged step writes how late it was on the timeline (`late_ms`)."""
    data = TimelineEntry.objects.filter(kind=EntryKind.ESCALATION, created_at__gte=since,
                                        data__action="paged").values_list("data", flat=True)
    return [d["late_ms"] / 1000 for d in data if "late_ms" in d]


def _orphaned_pages(now: datetime) -> list[int]:
    return delivery.due_methods(now, grace=PAGE_GRACE)


def _hand_on(page_id: int) -> None:
    async_task("incidents.tasks.deliver_page", page_id)


def _pages_late(since: datetime) -> list[float]:
    """How long after its due time each message was sent. Only a bundle's first page counts:
    the pages riding along with it waited for the contact method's throttle, by design."""
    rows = Page.objects.filter(bundle_id=F("pk"), sent_at__gte=since).values_list(
        "due_at", "sent_at")
    return [(sent - due).total_seconds() for due, sent in rows]


ESCALATION_RUNS = Source(name="escalation-runs", due=escalation.due_runs, run=_advance,
                         lateness=_runs_late)
PAGE_DELIVERIES = Source(name="page-deliveries", due=_orphaned_pages, run=delivery.deliver,
                         dispatch=_hand_on, redispatch=REDISPATCH, lateness=_pages_late)
