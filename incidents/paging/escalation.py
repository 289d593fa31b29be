"""The escalation run of one incident: who is paged, when, and when it stops.

All state is in EscalationRun and Page rows. Tasks only wake things up: `advance(run_id)` does
whatever the run's row says is due, `deliver(page_id)` sends one claimed page, and `tick()` finds
both kinds of due work, so a lost task or a killed worker delays work but never forgets it.

Lock order everywhere: incident row, then run row (services lock the incident first too).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from config.errors import Conflict
from incidents import audit, lifecycle, permissions
from incidents.models import (
    CLOSED_STATUSES,
    SYSTEM_TRANSITIONS,
    EntryKind,
    EscalationRun,
    Incident,
    Page,
    PagePurpose,
    PageStatus,
    RunState,
    Status,
)
from incidents.paging import delivery
from incidents.paging.delivery import ROBOT
from incidents.timeline import record
from oncall import policies

BATCH = 200


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
        run.lateness = now - run.next_action_at  # written on the timeline: timers are measured
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
    _grant_paged(incident, [u for u in people if plan[u.pk]])
    return list(Page.objects.filter(run=run, step=index, round=run.round,
                                    purpose=PagePurpose.PAGE).values_list("pk", flat=True))


def _grant_paged(incident: Incident, people) -> None:
    """Being paged for a restricted incident grants that person access to it, on the timeline
    as any grant is: a page asks them to act, and acting needs the incident in front of them.
    The page itself carries no restricted text (page_links)."""
    if not incident.restricted:
        return
    for user in people:
        if permissions.can_view(user, incident):
            continue
        permissions.grant_view(incident, user=user)
        record(incident, EntryKind.RESTRICTION, actor_label=ROBOT, new=user.get_username(),
               data={"granted_to": "user", "name": user.get_username(), "reason": "paged"})
        audit.log("incident.grant", incident, actor=audit.NOBODY, actor_label="Relay",
                  incident=incident, object_repr=incident.reference, before=None,
                  after={"granted_to": f"user:{user.get_username()}"},
                  note="Paged for the restricted incident.")


def _record_step(incident, run, index, people, *, skipped, unreachable=()) -> None:
    names = [u.get_username() for u in people]
    data = {"action": "skipped" if skipped else "paged", "step": index + 1,
            "round": run.round + 1, "targets": names,
            "unreachable": [u.get_username() for u in unreachable]}
    lateness = getattr(run, "lateness", None)
    if lateness is not None:
        data["late_ms"] = round(lateness.total_seconds() * 1000)
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
    """The acknowledgement timed out and the incident is still open: page from the top again.
    An incident still only acknowledged goes back to triggered, so the dashboard shows it as
    unowned and the next acknowledgement stops the run again (on_status_change). One that moved
    on (investigating, identified, monitoring) keeps its status, since somebody is working on
    it: it is paged again until it is resolved or the run is exhausted."""
    run.state = RunState.ACTIVE
    run.round += 1
    run.first_round = run.round
    run.next_step = 0
    if Status.TRIGGERED in SYSTEM_TRANSITIONS.get(incident.status, ()):
        lifecycle.move_status(incident, Status.TRIGGERED, now, actor_label=ROBOT,
                              note="The acknowledgement timed out.",
                              data={"ack_timeout_minutes": run.policy.get("ack_timeout_minutes")})
    record(incident, EntryKind.ESCALATION, actor_label=ROBOT, new="retriggered",
           note="Acknowledged but not resolved in time: paging again from the first step.",
           data={"action": "retriggered", "round": run.round + 1})
    return _page_next_step(incident, run, now)


def escalate_now(incident: Incident, *, by) -> list[int]:
    """A responder moves the run to its next step at once."""
    with transaction.atomic():
        incident, run = _lock_run(incident.pk)
        if run is None:
            raise Conflict(f"{incident.reference} has no escalation policy to escalate.")
        if incident.status in CLOSED_STATUSES:
            raise Conflict(f"{incident.reference} is closed; reopen it first.")
        if run.next_step >= len(run.policy["steps"]) and run.state != RunState.ACTIVE:
            run.round += 1
            run.first_round = run.round
            run.next_step = 0
        run.state = RunState.ACTIVE
        run.lateness = None  # by hand: there was no due time
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


def _deliver_soon(page_ids: list[int]) -> None:
    for page_id in page_ids:
        transaction.on_commit(lambda pk=page_id: async_task("incidents.tasks.deliver_page", pk))


# --- Waking up ---------------------------------------------------------------------------------

def due_runs(now: datetime) -> list[int]:
    return list(EscalationRun.objects.filter(next_action_at__lte=now)
                .order_by("next_action_at").values_list("pk", flat=True)[:BATCH])


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
    pages = [delivery.deliver(page_id, now) for page_id in delivery.due_pages(now)]
    return len(runs), sum(1 for p in pages if p)
