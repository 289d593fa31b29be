"""The escalation run of one incident: who is paged, when, and when it stops.

All state is in EscalationRun and Page rows. Tasks only wake things up: `advance(run_id)` does
whatever the run's row says is due, `deliver(page_id)` sends one claimed page, and `tick()` finds
both kinds of due work, so a lost task or a killed worker delays work but never forgets it.

Lock order everywhere: incident row, then run row (services lock the incident first too).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from incidents import page_links
from incidents.models import (
    CLOSED_STATUSES,
    EntryKind,
    EscalationRun,
    Incident,
    Page,
    PagePurpose,
    PageStatus,
    RunState,
    Status,
)
from incidents.timeline import record
from oncall import channels, policies
from oncall.models import ContactKind

# A claim older than this belongs to a worker that died mid-send: the page is sent again.
CLAIM_STALE = timedelta(seconds=20)
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=45))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
BATCH = 200
ROBOT = "Relay escalation"


def start(incident: Incident, *, by=None) -> EscalationRun:
    """Begin paging for a newly triggered incident (inside declare()'s transaction)."""
    snapshot = policies.snapshot(incident.escalation_policy)
    run = EscalationRun.objects.create(incident=incident, policy=snapshot,
                                       next_action_at=timezone.now())
    record(incident, EntryKind.ESCALATION, by, actor_label=ROBOT, new="started",
           note=f"Escalation policy {snapshot['name']} started.",
           data={"action": "started", "policy": snapshot["name"],
                 "steps": len(snapshot["steps"])})
    transaction.on_commit(lambda: async_task("incidents.tasks.advance_run", run.pk))
    return run


# --- Advancing a run ---------------------------------------------------------------------------

def _lock_run(incident_id: int) -> tuple[Incident, EscalationRun | None]:
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    run = EscalationRun.objects.select_for_update().filter(incident_id=incident_id).first()
    return incident, run


def advance(run_id: int, now: datetime | None = None) -> list[int]:
    """Do what the run says is due at `now`; return the ids of pages created."""
    now = now or timezone.now()
    incident_id = (EscalationRun.objects.filter(pk=run_id, next_action_at__lte=now)
                   .values_list("incident_id", flat=True).first())
    if incident_id is None:
        return []
    with transaction.atomic():
        incident, run = _lock_run(incident_id)
        if run.next_action_at is None or run.next_action_at > now:
            return []  # someone else did it while we waited for the lock
        if incident.status in CLOSED_STATUSES:
            run.next_action_at = None
            pages = []
        elif run.state == RunState.ACKNOWLEDGED:
            pages = _retrigger(incident, run, now)
        else:
            pages = _page_next_step(incident, run, now)
        run.save()
    _deliver_soon(pages)
    return pages


def _page_next_step(incident: Incident, run: EscalationRun, now: datetime) -> list[int]:
    """Page the next step that reaches somebody; skip (and say so) steps that reach nobody."""
    steps = run.policy["steps"]
    while True:
        if run.next_step >= len(steps):
            if not steps or run.round - run.first_round >= run.policy["repeat"]:
                return _exhaust(incident, run)
            run.round += 1
            run.next_step = 0
        index = run.next_step
        run.next_step += 1
        step = steps[index]
        people = policies.resolve_targets(step, now)
        pages = _create_pages(incident, run, index, people, now)
        if pages:
            run.next_action_at = now + timedelta(minutes=step["delay_minutes"])
            return pages
        _record_step(incident, run, index, people, skipped=True)


def _exhaust(incident: Incident, run: EscalationRun) -> list[int]:
    run.state = RunState.EXHAUSTED
    run.next_action_at = None
    record(incident, EntryKind.ESCALATION, actor_label=ROBOT, new="exhausted",
           note="Every step has been paged and nobody acknowledged.",
           data={"action": "exhausted", "round": run.round})
    return []


def _create_pages(incident, run, index, people, now) -> list[int]:
    plan = policies.contact_plan(people)
    rows = [Page(incident=incident, run=run, step=index, round=run.round, user=user,
                 contact_method=c.method, channel=c.method.kind, address=c.method.address,
                 due_at=now + timedelta(minutes=c.delay_minutes), created_at=now)
            for user in people for c in plan[user.pk]]
    if not rows:
        return []
    Page.objects.bulk_create(rows, ignore_conflicts=True)
    _record_step(incident, run, index, people, skipped=False,
                 unreachable=[u for u in people if not plan[u.pk]])
    return list(Page.objects.filter(run=run, step=index, round=run.round,
                                    purpose=PagePurpose.PAGE).values_list("pk", flat=True))


def _record_step(incident, run, index, people, *, skipped, unreachable=()) -> None:
    names = [u.get_username() for u in people]
    data = {"action": "skipped" if skipped else "paged", "step": index + 1,
            "round": run.round + 1, "targets": names,
            "unreachable": [u.get_username() for u in unreachable]}
    if skipped and not people:
        note = f"Step {index + 1} skipped: it reaches nobody right now."
    elif skipped:
        note = f"Step {index + 1} skipped: nobody on it has a contact method ({', '.join(names)})."
    else:
        note = f"Step {index + 1} paging {', '.join(names)}."
        if unreachable:
            note += f" No contact method for {', '.join(data['unreachable'])}."
    record(incident, EntryKind.ESCALATION, actor_label=ROBOT, new=data["action"], note=note,
           data=data)


def _retrigger(incident: Incident, run: EscalationRun, now: datetime) -> list[int]:
    """The acknowledgement timed out and the incident is still open: page from the top again."""
    run.state = RunState.ACTIVE
    run.round += 1
    run.first_round = run.round
    run.next_step = 0
    record(incident, EntryKind.ESCALATION, actor_label=ROBOT, new="retriggered",
           note="Acknowledged but not resolved in time: paging again from the first step.",
           data={"action": "retriggered", "round": run.round + 1})
    return _page_next_step(incident, run, now)


def escalate_now(incident: Incident, *, by) -> list[int]:
    """A responder moves the run to its next step at once."""
    with transaction.atomic():
        incident, run = _lock_run(incident.pk)
        if run is None:
            raise ValueError(f"{incident.reference} has no escalation policy to escalate.")
        if incident.status in CLOSED_STATUSES:
            raise ValueError(f"{incident.reference} is closed; reopen it first.")
        if run.next_step >= len(run.policy["steps"]) and run.state != RunState.ACTIVE:
            run.round += 1
            run.first_round = run.round
            run.next_step = 0
        run.state = RunState.ACTIVE
        record(incident, EntryKind.ESCALATION, by, new="escalated",
               note="Escalated by hand to the next step.", data={"action": "escalated"})
        pages = _page_next_step(incident, run, timezone.now())
        run.save()
    _deliver_soon(pages)
    return pages


# --- Stopping: acknowledge and resolve -----------------------------------------------------------

_ACK_STATUSES = frozenset({Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.IDENTIFIED,
                           Status.MONITORING})


def on_status_change(incident: Incident, old: str, new: str, *, by=None) -> None:
    """Called by incidents.services inside the transaction that changed the status (the incident
    row is already locked): acknowledging stops paging, closing stops everything."""
    run = EscalationRun.objects.select_for_update().filter(incident=incident).first()
    if run is None:
        return
    if new in CLOSED_STATUSES and run.state != RunState.STOPPED:
        _stop(incident, run, by, PagePurpose.RESOLVED, RunState.STOPPED, None)
    elif old == Status.TRIGGERED and new in _ACK_STATUSES and run.state == RunState.ACTIVE:
        timeout = run.policy.get("ack_timeout_minutes")
        due = timezone.now() + timedelta(minutes=timeout) if timeout else None
        _stop(incident, run, by, PagePurpose.ACKNOWLEDGED, RunState.ACKNOWLEDGED, due)


def _stop(incident, run, by, purpose, state, next_action_at) -> None:
    cancelled = (Page.objects.filter(run=run, status=PageStatus.PENDING, purpose=PagePurpose.PAGE)
                 .update(status=PageStatus.CANCELLED, finished_at=timezone.now()))
    run.state, run.next_action_at = state, next_action_at
    run.save()
    who = by.get_username() if by else "Relay"
    verb = "acknowledged" if purpose == PagePurpose.ACKNOWLEDGED else "resolved"
    notices = _queue_notices(incident, run, purpose)
    record(incident, EntryKind.ESCALATION, by, new="stopped", note=(
        f"Paging stopped: {verb} by {who}." + (f" {cancelled} pending page(s) cancelled."
                                                if cancelled else "")),
        data={"action": "stopped", "reason": verb, "cancelled": cancelled})
    if notices:
        people = sorted({p.user.get_username() for p in notices})
        record(incident, EntryKind.NOTIFICATION, by, new=verb,
               note=f"Telling everyone paged that it was {verb} by {who}: {', '.join(people)}.",
               data={"reason": verb, "people": people})
    _deliver_soon([p.pk for p in notices])


def _queue_notices(incident, run, purpose) -> list[Page]:
    """One notice per person and method that a page reached (or tried to reach)."""
    reached = (Page.objects.filter(run=run, purpose=PagePurpose.PAGE)
               .exclude(status=PageStatus.CANCELLED)
               .values_list("user_id", "channel", "address").distinct())
    rows = [Page(incident=incident, run=run, purpose=purpose, step=0, round=run.round,
                 user_id=user_id, channel=channel, address=address)
            for user_id, channel, address in reached]
    Page.objects.bulk_create(rows, ignore_conflicts=True)
    return list(Page.objects.filter(run=run, purpose=purpose, round=run.round,
                                    status=PageStatus.PENDING).select_related("user"))


# --- Delivering pages --------------------------------------------------------------------------

def _deliver_soon(page_ids: list[int]) -> None:
    for page_id in page_ids:
        transaction.on_commit(lambda pk=page_id: async_task("incidents.tasks.deliver_page", pk))


def _claim(page_id: int, now: datetime) -> bool:
    """Take the page for this worker. Zero rows means someone else has it, it is done, or it is
    not due yet. A claim left by a dead worker goes stale and is taken over."""
    return bool(Page.objects.filter(
        Q(claimed_at=None) | Q(claimed_at__lt=now - CLAIM_STALE),
        pk=page_id, status=PageStatus.PENDING, due_at__lte=now,
    ).update(claimed_at=now, attempts=F("attempts") + 1))


def deliver(page_id: int, now: datetime | None = None) -> str | None:
    """Send one due page; return its new status, or None when there was nothing to do."""
    now = now or timezone.now()
    if not _claim(page_id, now):
        return None
    page = Page.objects.select_related("incident", "user").get(pk=page_id)
    try:
        receipt = channels.send(page.channel, page.address, page_links.message_for(page))
    except channels.ChannelError as error:
        return _attempt_failed(page, str(error), now)
    return _delivered(page, receipt)


def _delivered(page: Page, receipt: str) -> str:
    status = PageStatus.SENT if page.channel in (ContactKind.SMS, ContactKind.VOICE) \
        else PageStatus.DELIVERED
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=page.incident_id)
        Page.objects.filter(pk=page.pk).update(status=status, receipt=receipt[:200],
                                               finished_at=timezone.now())
        if page.purpose == PagePurpose.PAGE:
            kind = EntryKind.PAGE_SENT if status == PageStatus.SENT else EntryKind.PAGE_DELIVERED
            record(page.incident, kind, actor_label=ROBOT, new=page.user.get_username(),
                   note=f"{page.get_channel_display()} to {page.user.get_username()}: {receipt}.",
                   data=_page_data(page))
    return status


def _page_data(page: Page) -> dict:
    return {"page": page.pk, "user": page.user.get_username(), "channel": page.channel,
            "step": page.step + 1, "round": page.round + 1, "attempts": page.attempts}


def _attempt_failed(page: Page, error: str, now: datetime) -> str:
    if page.attempts < MAX_ATTEMPTS:
        Page.objects.filter(pk=page.pk).update(
            claimed_at=None, last_error=error[:2000],
            due_at=now + RETRY_DELAYS[page.attempts - 1])
        return PageStatus.PENDING
    with transaction.atomic():
        incident, run = _lock_run(page.incident_id)
        Page.objects.filter(pk=page.pk).update(status=PageStatus.FAILED, last_error=error[:2000],
                                               finished_at=now)
        if page.purpose == PagePurpose.PAGE:
            record(incident, EntryKind.PAGE_FAILED, actor_label=ROBOT,
                   new=page.user.get_username(),
                   note=f"{page.get_channel_display()} to {page.user.get_username()} failed "
                        f"after {page.attempts} attempts: {error}",
                   data={**_page_data(page), "error": error[:500]})
            _check_unreachable(incident, run, page, now)
    return PageStatus.FAILED


def _check_unreachable(incident, run, page, now) -> None:
    """When every method of a person failed, say so; when nobody on the step can be reached,
    do not wait out the step's delay."""
    step_pages = Page.objects.filter(run=run, purpose=PagePurpose.PAGE, step=page.step,
                                     round=page.round)
    mine = step_pages.filter(user=page.user)
    if mine.exclude(status=PageStatus.FAILED).exists():
        return
    record(incident, EntryKind.NOTIFICATION, actor_label=ROBOT, new="unreachable",
           note=f"Could not reach {page.user.get_username()}: every contact method failed.",
           data={"user": page.user.get_username(), "step": page.step + 1})
    current = run.state == RunState.ACTIVE and run.round == page.round \
        and run.next_step == page.step + 1
    if current and not step_pages.exclude(status=PageStatus.FAILED).exists():
        run.next_action_at = now
        run.save(update_fields=["next_action_at", "updated_at"])


# --- Waking up ---------------------------------------------------------------------------------

def due_runs(now: datetime) -> list[int]:
    return list(EscalationRun.objects.filter(next_action_at__lte=now)
                .order_by("next_action_at").values_list("pk", flat=True)[:BATCH])


def due_pages(now: datetime) -> list[int]:
    return list(Page.objects.filter(status=PageStatus.PENDING, due_at__lte=now)
                .filter(Q(claimed_at=None) | Q(claimed_at__lt=now - CLAIM_STALE))
                .order_by("due_at").values_list("pk", flat=True)[:BATCH])


def next_due(now: datetime) -> datetime | None:
    """The earliest moment any run or page will be due (for a ticker that sleeps until then)."""
    candidates = [
        EscalationRun.objects.filter(next_action_at__isnull=False)
        .order_by("next_action_at").values_list("next_action_at", flat=True).first(),
        Page.objects.filter(status=PageStatus.PENDING).order_by("due_at")
        .values_list("due_at", flat=True).first(),
    ]
    return min((c for c in candidates if c), default=None)


def tick(now: datetime | None = None) -> tuple[int, int]:
    """Advance every due run and deliver every due page; return how many of each."""
    now = now or timezone.now()
    runs = [advance(run_id, now) for run_id in due_runs(now)]
    pages = [deliver(page_id) for page_id in due_pages(now)]
    return len(runs), sum(1 for p in pages if p)
