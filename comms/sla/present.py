"""Clocks in words, for the panel, the dashboard, My on-call, the SLA page and the API: "3h 28m
left of 4h", "met with 42m to spare", "breached by 12m", and the level (ok, amber, red)."""

from dataclasses import dataclass
from datetime import datetime

from comms.models import ClockState, SlaClock
from comms.sla import clocks
from comms.sla.hours import Calendar, Span, counted_seconds


@dataclass
class ClockView:
    clock: SlaClock
    who: str
    kind: str
    target: str
    state: str
    level: str  # ok, amber, red, breached, paused, met
    text: str
    left_seconds: float | None
    # The browser counts down only around-the-clock clocks that run: on a calendar the
    # wall-clock distance would count nights, so those wait for the panel's next reload.
    countdown: bool


def describe(clock: SlaClock, now: datetime, calendar: Calendar | None = None,
             pauses: list[Span] | None = None) -> ClockView:
    who = clock.customer.name if clock.customer_id else clock.tier.name
    target_s = clock.target_minutes * 60
    target = clocks.human_target(clock.target_minutes)
    left = clocks.left_seconds(clock, now, calendar)
    if clock.stopped_at is not None:
        spare = left if left is not None else 0
        met = clock.state == ClockState.MET
        text = f"met with {clocks.human(spare)} to spare" if met else \
            f"breached by {clocks.human(spare)}"
        level = "met" if met else "breached"
    elif clock.due_at is None:  # paused
        if pauses is not None:
            left = target_s - counted_seconds(calendar, clock.started_at, now, pauses)
            text = f"paused, {clocks.human(max(left, 0))} left of {target}"
        else:
            text = "paused"
        level = "paused"
    elif left is not None and left < 0:
        text, level = f"breached by {clocks.human(left)}", "breached"
    else:
        text = f"{clocks.human(left)} left of {target}"
        level = ("red" if left <= target_s * clock.red_percent_left / 100 else
                 "amber" if left <= target_s * clock.amber_percent_left / 100 else "ok")
    countdown = (clock.calendar_id is None and clock.stopped_at is None
                 and clock.due_at is not None)
    return ClockView(clock=clock, who=who, kind=clock.get_kind_display(), target=target,
                     state=clock.state, level=level, text=text, left_seconds=left,
                     countdown=countdown)


def most_urgent(views: list[ClockView]) -> ClockView | None:
    """The running clock with the least time left (paused clocks after, stopped ones never)."""
    running = [v for v in views if v.clock.stopped_at is None]
    return min(running, key=lambda v: (v.left_seconds is None, v.left_seconds or 0), default=None)
