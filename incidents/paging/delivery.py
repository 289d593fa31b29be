"""Delivering pages: claim, throttle, bundle, send, record.

A task claims a page row (zero rows updated: someone else has it). Per contact method (one
person's channel and address: the method's unique key, which notices without a contact_method
row carry too) messages are throttled; pages held back by the throttle are not lost but sent
together, as one message, when the method may be used again ("3 incidents on Checkout need you"),
and identical pending pages collapse into one line of it. Keying by address alone would let two
people sharing a team mailbox or a chat webhook hold back each other's pages.

Sending happens outside any transaction. If the worker dies in between, the claim goes stale
after CLAIM_STALE and the page is sent again: an ambiguous send is repeated rather than risk a
person never being paged.
"""

import hashlib
import zlib
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from config.outbox import Outbox
from incidents.models import (
    EntryKind,
    EscalationRun,
    Incident,
    Page,
    PagePurpose,
    PageStatus,
    RunState,
)
from incidents.paging import messages
from incidents.timeline import record
from oncall import channels
from oncall.channels import kinds
from oncall.models import ContactKind, ContactMethod

ROBOT = "Relay escalation"
# The page outbox: a claim older than the stale timeout belongs to a worker that died mid-send
# (the page is sent again); a failed send is retried after 5, 15 and 45 s, then fails.
PAGES = Outbox(
    name="page",
    stale_after=timedelta(seconds=settings.RELAY_PAGE_CLAIM_STALE_SECONDS),
    retry_delays=(timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=45)),
    done_field="finished_at",
    # A failed attempt's message was not sent: it must not count against the throttle.
    cleared_on_failure={"sent_at": None, "bundle_id": None},
)
CLAIM_STALE = PAGES.stale_after
MAX_ATTEMPTS = PAGES.max_attempts
BATCH = 200
BUNDLE_MAX = 500
# Page fields naming its contact method (ContactMethod's unique user, kind, address).
METHOD_KEY = ("user_id", "channel", "address")


def due_pages(now: datetime, grace: timedelta = timedelta(0)) -> list[int]:
    """Pending pages due by `now - grace` that nobody holds. The ticker passes a grace period:
    a fresh page has its own delivery task already and needs no second one."""
    return list(Page.objects.filter(PAGES.unclaimed(now), status=PageStatus.PENDING,
                                    due_at__lte=now - grace)
                .order_by("due_at").values_list("pk", flat=True)[:BATCH])


def due_methods(now: datetime, grace: timedelta = timedelta(0)) -> list[int]:
    """One due page per contact method (its oldest): delivering it takes the rest along."""
    rows = (Page.objects.filter(PAGES.unclaimed(now), status=PageStatus.PENDING,
                                due_at__lte=now - grace)
            .values(*METHOD_KEY).annotate(first=Min("id")).order_by("first"))
    return [row["first"] for row in rows[:BATCH]]


def deliver(page_id: int, now: datetime | None = None) -> str | None:
    """Send one due page, with whatever else waits for the same method; return the page's new
    status, or None when there was nothing to do (taken, done, not due, or held back)."""
    now = now or timezone.now()
    bundle = _claim_bundle(page_id, now)
    if not bundle:
        return None
    message = replace(messages.message_for_bundle(bundle), key=delivery_key(bundle))
    try:
        receipt = channels.send(bundle[0].channel, bundle[0].address, message)
    except channels.ChannelError as error:
        return _attempt_failed(bundle, str(error), now)[page_id]
    return _delivered(bundle, receipt)


def delivery_key(bundle: list[Page]) -> str:
    """One key per set of pages sent together, the same on every attempt: a page resent after its
    worker died mid-send (at least once, from the outbox's side) carries the key of the send
    nobody saw finish, so a receiver that honours Idempotency-Key shows it once. A bundle that
    gained pages meanwhile is a different message with a different key."""
    ids = sorted(page.pk for page in bundle)
    if len(ids) == 1:
        return f"relay-page-{ids[0]}"
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]
    return f"relay-pages-{digest}"


# --- Claiming, throttling and bundling --------------------------------------------------------

def _claim_bundle(page_id: int, now: datetime) -> list[Page]:
    """Claim the page and every other due page for its method, unless the throttle holds them
    back (then the page's due time moves to when the method is free). The outbox's rule picks
    the rows (PAGES.due); the claim itself runs under row locks rather than PAGES.claim because
    the throttle check and the claim of the whole bundle must be one step."""
    with transaction.atomic():
        page = (Page.objects.select_for_update(skip_locked=True)
                .filter(PAGES.due(now), pk=page_id).first())
        if page is None:
            return []
        _lock_method(page)
        free_at = _free_at(page, now)
        if free_at > now:
            Page.objects.filter(pk=page.pk).update(due_at=free_at)
            return []
        ids = [page.pk, *_waiting(page, now)]
        Page.objects.filter(pk__in=ids).update(claimed_at=now, sent_at=now, bundle_id=page.pk,
                                               attempts=F("attempts") + 1)
    return list(Page.objects.filter(pk__in=ids).select_related("incident", "user")
                .prefetch_related("incident__services").order_by("id"))


def _method(page: Page) -> dict:
    """The filter for every page of the page's contact method."""
    return {field: getattr(page, field) for field in METHOD_KEY}


def _lock_method(page: Page) -> None:
    """Serialise claims for one contact method, so two workers cannot both pass its throttle."""
    if connection.vendor == "postgresql":
        name = f"{page.user_id}|{page.channel}|{page.address}"
        key = (0x5041 << 32) | zlib.crc32(name.encode())  # "PA": pages
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [key])


def _waiting(page: Page, now: datetime) -> list[int]:
    return list(Page.objects.select_for_update(skip_locked=True)
                .filter(PAGES.due(now), **_method(page))
                .exclude(pk=page.pk).order_by("id").values_list("pk", flat=True)[:BUNDLE_MAX])


def _limits(page: Page) -> tuple[tuple[int, int], ...]:
    method = ContactMethod.objects.filter(user_id=page.user_id, kind=page.channel,
                                          address=page.address,
                                          throttle_count__isnull=False).first()
    if method and method.throttle_minutes:
        return ((method.throttle_count, method.throttle_minutes),)
    return kinds.default_throttles(page.channel)


def _free_at(page: Page, now: datetime) -> datetime:
    """When the method may carry its next message: each limit allows `count` messages in any
    window of its length; a message counts from when it was sent (or is being sent)."""
    free = now
    for count, minutes in _limits(page):
        window = timedelta(minutes=minutes)
        sends = _recent_sends(page, now - window, now)
        if len(sends) >= count:
            free = max(free, sends[-count] + window)
    return free


def _recent_sends(page: Page, since: datetime, now: datetime) -> list:
    """Send times of messages over the page's contact method since `since`, oldest first. Failed
    attempts and sends of a worker that died (stale claims) do not count."""
    rows = (Page.objects.filter(**_method(page), sent_at__gte=since)
            .filter(Q(status__in=[PageStatus.DELIVERED, PageStatus.SENT])
                    | Q(status=PageStatus.PENDING, claimed_at__gte=now - CLAIM_STALE))
            .values_list("bundle_id", "sent_at").distinct())
    return sorted({bundle: sent for bundle, sent in rows}.values())


# --- Results --------------------------------------------------------------------------------

def _delivered(bundle: list[Page], receipt: str) -> str:
    carrier = bundle[0].channel in (ContactKind.SMS, ContactKind.VOICE)
    status = PageStatus.SENT if carrier else PageStatus.DELIVERED
    kind = EntryKind.PAGE_SENT if carrier else EntryKind.PAGE_DELIVERED
    # The whole bundle first, in one statement: writing a large bundle's timeline entries can
    # outlast CLAIM_STALE, and a page still pending then would be sent a second time.
    Page.objects.filter(pk__in=[p.pk for p in bundle]).update(
        status=status, receipt=receipt[:200], finished_at=timezone.now())
    for incident_id, pages in _by_incident(bundle).items():
        with transaction.atomic():
            incident = Incident.objects.select_for_update().get(pk=incident_id)
            for page in pages:
                if page.purpose == PagePurpose.PAGE:
                    record(incident, kind, actor_label=ROBOT, new=page.user.get_username(),
                           note=f"{page.get_channel_display()} to {page.user.get_username()}: "
                                f"{receipt}.", data=_page_data(page, len(bundle)))
    return status


def _by_incident(bundle: list[Page]) -> dict[int, list[Page]]:
    grouped: dict[int, list[Page]] = {}
    for page in bundle:
        grouped.setdefault(page.incident_id, []).append(page)
    return grouped


def _page_data(page: Page, bundled: int = 1) -> dict:
    return {"page": page.pk, "user": page.user.get_username(), "channel": page.channel,
            "step": page.step + 1, "round": page.round + 1, "attempts": page.attempts,
            "bundled_with": bundled - 1}


def _attempt_failed(bundle: list[Page], error: str, now: datetime) -> dict[int, str]:
    """Release the pages for a retry after a backoff, or fail them after the last attempt."""
    results = {}
    for page in bundle:
        if PAGES.gives_up(page):
            _fail(page, error, now)
            results[page.pk] = PageStatus.FAILED
        else:
            PAGES.record_failure(page, error, now)
            results[page.pk] = PageStatus.PENDING
    return results


def _fail(page: Page, error: str, now: datetime) -> None:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=page.incident_id)
        run = (EscalationRun.objects.select_for_update().get(pk=page.run_id)
               if page.run_id else None)
        PAGES.record_failure(page, error, now)
        if page.purpose == PagePurpose.NOTICE:
            record(incident, EntryKind.NOTIFICATION, actor_label=ROBOT, new="failed",
                   note=f"Notice to {page.user.get_username()} by "
                        f"{page.get_channel_display().lower()} failed after {page.attempts} "
                        f"attempts: {error}",
                   data={"page": page.pk, "user": page.user.get_username(),
                         "channel": page.channel, "reason": page.reason, "error": error[:500]})
        elif page.purpose == PagePurpose.PAGE:
            record(incident, EntryKind.PAGE_FAILED, actor_label=ROBOT,
                   new=page.user.get_username(),
                   note=f"{page.get_channel_display()} to {page.user.get_username()} failed "
                        f"after {page.attempts} attempts: {error}",
                   data={**_page_data(page), "error": error[:500]})
            _check_unreachable(incident, run, page, now)


def _check_unreachable(incident, run, page, now) -> None:
    """When every method of a person failed, say so; when nobody on the step can be reached,
    do not wait out the step's delay."""
    step_pages = Page.objects.filter(run=run, purpose=PagePurpose.PAGE, step=page.step,
                                     round=page.round)
    if step_pages.filter(user=page.user).exclude(status=PageStatus.FAILED).exists():
        return
    record(incident, EntryKind.NOTIFICATION, actor_label=ROBOT, new="unreachable",
           note=f"Could not reach {page.user.get_username()}: every contact method failed.",
           data={"user": page.user.get_username(), "step": page.step + 1})
    current = run.state == RunState.ACTIVE and run.round == page.round \
        and run.next_step == page.step + 1
    if current and not step_pages.exclude(status=PageStatus.FAILED).exists():
        run.next_action_at = now
        run.save(update_fields=["next_action_at", "updated_at"])
