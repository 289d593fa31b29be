"""Scheduled maintenance moving along on its own: a timer source (config/timers.py).

A maintenance's steps are fixed by its times: the reminder `remind_minutes` before it starts
(once), in progress at `starts_at`, verifying at `ends_at`, completed `verify_minutes` later.
`next_action_at` holds the first step not yet taken, so the ticker finds due work through
maintenance_due_idx alone. A late tick takes every due step in order, each dated when it was
due, so the page's history reads as if the ticker had never been late; a reminder whose
maintenance has already started is skipped (it would only confuse).

`advance` locks the row first: two tickers (or a ticker and a person completing it early) may
reach the same maintenance, and each step must happen once.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from comms.models import Maintenance, MaintenanceState, MaintenanceUpdate
from comms.status import cache, components, notices
from config.timers import Source

BATCH = 200
REMINDER = "reminder"
# The public words of each automatic step.
BODIES = {
    MaintenanceState.IN_PROGRESS: "The scheduled maintenance is in progress. We will provide "
                                  "updates as necessary.",
    MaintenanceState.VERIFYING: "The maintenance work is done; we are verifying that "
                                "everything works as it should.",
    MaintenanceState.COMPLETED: "The scheduled maintenance has been completed.",
}
NEXT_STATE = {
    MaintenanceState.SCHEDULED: MaintenanceState.IN_PROGRESS,
    MaintenanceState.IN_PROGRESS: MaintenanceState.VERIFYING,
    MaintenanceState.VERIFYING: MaintenanceState.COMPLETED,
}


def reminder_at(maintenance: Maintenance) -> datetime | None:
    if not maintenance.remind_minutes:
        return None
    return maintenance.starts_at - timedelta(minutes=maintenance.remind_minutes)


def transition_at(maintenance: Maintenance) -> datetime | None:
    """When the maintenance leaves its current state on its own (None once completed)."""
    return {
        MaintenanceState.SCHEDULED: maintenance.starts_at,
        MaintenanceState.IN_PROGRESS: maintenance.ends_at,
        MaintenanceState.VERIFYING: maintenance.ends_at
        + timedelta(minutes=maintenance.verify_minutes),
    }.get(maintenance.state)


def next_step(maintenance: Maintenance) -> tuple[datetime, str] | None:
    """The first step not yet taken: (when, REMINDER or the state it moves to)."""
    state = MaintenanceState(maintenance.state)
    if state == MaintenanceState.COMPLETED:
        return None
    remind = reminder_at(maintenance)
    if (state == MaintenanceState.SCHEDULED and remind is not None
            and maintenance.reminded_at is None):
        return remind, REMINDER
    return transition_at(maintenance), NEXT_STATE[state]


def next_action_at(maintenance: Maintenance) -> datetime | None:
    step = next_step(maintenance)
    return step[0] if step else None


def due(now: datetime) -> list[int]:
    # maintenance_due_idx: only rows with a step ahead.
    return list(Maintenance.objects.filter(next_action_at__lte=now).order_by("next_action_at")
                .values_list("pk", flat=True)[:BATCH])


def advance(maintenance_id: int, now: datetime) -> list[str]:
    """Take every step of the maintenance due at `now`, in order; the steps taken (none when
    another worker took them first)."""
    taken = []
    with transaction.atomic():
        maintenance = Maintenance.objects.select_for_update().filter(pk=maintenance_id).first()
        if maintenance is None:
            return taken
        while (step := next_step(maintenance)) is not None and step[0] <= now:
            when, what = step
            if what == REMINDER:
                _remind(maintenance, when, now)
            else:
                move(maintenance, what, at=when)
            taken.append(what)
        _save_due(maintenance)
    return taken


def _remind(maintenance: Maintenance, when: datetime, now: datetime) -> None:
    maintenance.reminded_at = now
    Maintenance.objects.filter(pk=maintenance.pk).update(reminded_at=now)
    if now < maintenance.starts_at:  # late past the start: the start says it all
        notices.for_maintenance(maintenance, REMINDER)


def move(maintenance: Maintenance, state: str, *, at: datetime, by=None,
         body: str = "") -> MaintenanceUpdate:
    """One state change under the caller's row lock: its public update, the subscribers'
    notices, the components. The services' "complete early" takes the same path."""
    maintenance.state, maintenance.updated_at = state, timezone.now()
    Maintenance.objects.filter(pk=maintenance.pk).update(state=state,
                                                         updated_at=maintenance.updated_at)
    update = MaintenanceUpdate.objects.create(maintenance=maintenance, state=state, at=at, by=by,
                                              body=body or BODIES[state])
    notices.for_maintenance(maintenance, state, update)
    components.following_maintenance(maintenance)
    cache.invalidate()
    return update


def _save_due(maintenance: Maintenance) -> None:
    maintenance.next_action_at = next_action_at(maintenance)
    Maintenance.objects.filter(pk=maintenance.pk).update(
        next_action_at=maintenance.next_action_at)


def _run(maintenance_id: int, now: datetime) -> None:
    advance(maintenance_id, now)


MAINTENANCE = Source(name="status-maintenance", due=due, run=_run)
