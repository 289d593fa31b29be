"""What an incident's clocks should be, and where each stands: pure functions.

`wanted()` turns the incident's affected customers and tiers into clock specs (contract targets
on a customer win over its tier's; a tier named on the incident with no affected customer of it
gets the tier's own clocks). `derive()` turns one spec, the incident's milestones and its pauses
into the stored columns (state, due, thresholds, next alert). services.py reads the rows and
writes what these return.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from comms.models import ClockKind, ClockState, ResponseOn
from comms.sla.hours import Calendar, Span, business_seconds, counted_seconds, due_after

DEFAULT_AMBER, DEFAULT_RED = 50, 20


@dataclass(frozen=True)
class Spec:
    """One clock an incident should have. `calendar_id` identifies the calendar for comparison;
    `calendar` is its pure form for the arithmetic."""

    kind: str
    key: str
    label: str
    tier_id: int
    customer_id: int | None
    severity: str
    source: str
    target_minutes: int
    response_on: str
    calendar_id: int | None
    amber_percent_left: int
    red_percent_left: int

    def same_target(self, clock) -> bool:
        return (self.target_minutes, self.calendar_id, self.response_on, self.source,
                self.amber_percent_left, self.red_percent_left) == (
            clock.target_minutes, clock.calendar_id, clock.response_on, clock.source,
            clock.amber_percent_left, clock.red_percent_left)


def wanted(severity: str, customers, tiers) -> list[Spec]:
    """Specs for `customers` (with tier, tier.policy, tier's sla_targets and contract_targets
    prefetched) and the incident's `tiers` (same prefetches)."""
    specs = []
    covered = set()
    for customer in customers:
        covered.add(customer.tier_id)
        contract = next((c for c in customer.contract_targets.all() if c.severity == severity),
                        None)
        specs += _specs_for(customer.tier, severity, f"customer:{customer.pk}", customer.name,
                            customer.pk, contract)
    for tier in tiers:
        if tier.pk not in covered:
            specs += _specs_for(tier, severity, f"tier:{tier.pk}", tier.name, None, None)
    return specs


def _specs_for(tier, severity, key, label, customer_id, contract) -> list[Spec]:
    target = next((t for t in tier.sla_targets.all() if t.severity == severity), None)
    policy = getattr(tier, "policy", None)
    common = dict(key=key, label=label, tier_id=tier.pk, customer_id=customer_id,
                  severity=severity,
                  calendar_id=policy.calendar_id if policy else None,
                  amber_percent_left=policy.amber_percent_left if policy else DEFAULT_AMBER,
                  red_percent_left=policy.red_percent_left if policy else DEFAULT_RED)
    specs = []
    for kind, field in ((ClockKind.RESPONSE, "response_minutes"),
                        (ClockKind.RESOLUTION, "resolution_minutes")):
        minutes, source = getattr(contract, field, None), "contract"
        if not minutes:
            minutes, source = getattr(target, field, None), "tier"
        if not minutes:
            continue
        response_on = ""
        if kind == ClockKind.RESPONSE:
            response_on = target.response_on if target else ResponseOn.ACKNOWLEDGED
        specs.append(Spec(kind=kind, source=source, target_minutes=minutes,
                          response_on=response_on, **common))
    return specs


@dataclass(frozen=True)
class Derived:
    state: str
    due_at: datetime | None
    amber_at: datetime | None
    red_at: datetime | None
    stopped_at: datetime | None
    used_seconds: int | None
    next_alert_at: datetime | None


def stop_time(kind: str, response_on: str, acknowledged_at, first_message_at, resolved_at):
    """When the clock stops: response at the first acknowledgement (or the first published
    customer message, when the target says so), resolution at the resolution."""
    if kind == ClockKind.RESOLUTION:
        return resolved_at
    if response_on == ResponseOn.MESSAGE:
        return first_message_at
    return acknowledged_at


def derive(*, target_minutes: int, amber_percent_left: int, red_percent_left: int,
           calendar: Calendar | None, started_at: datetime, stopped_at: datetime | None,
           pauses: list[Span], now: datetime, warned_amber_at=None, warned_red_at=None,
           breached_at=None) -> Derived:
    target = target_minutes * 60
    amber_used = target * (100 - amber_percent_left) / 100
    red_used = target * (100 - red_percent_left) / 100
    if stopped_at is not None:
        pauses = [(b, e) for b, e in pauses if b < stopped_at]
    due_at = due_after(calendar, started_at, target, pauses)
    amber_at = due_after(calendar, started_at, amber_used, pauses)
    red_at = due_after(calendar, started_at, red_used, pauses)
    if stopped_at is not None:
        used = round(counted_seconds(calendar, started_at, stopped_at, pauses))
        state = ClockState.MET if used <= target else ClockState.BREACHED
        return Derived(state, due_at, amber_at, red_at, stopped_at, used, None)
    if due_at is None:
        return Derived(ClockState.PAUSED, None, None, None, None, None, None)
    state = ClockState.BREACHED if now >= due_at else ClockState.RUNNING
    pending = [at for at, done in ((amber_at, warned_amber_at), (red_at, warned_red_at),
                                   (due_at, breached_at)) if at is not None and done is None]
    return Derived(state, due_at, amber_at, red_at, None, None, min(pending, default=None))


def left_seconds(clock, now: datetime, calendar: Calendar | None = None) -> float | None:
    """Seconds of the target left (negative: breached by), or None while paused. A stopped
    clock reports what was left when it stopped. On a calendar (pass its pure form) the time
    left is working time: the wall-clock distance to due_at would count the nights."""
    target = clock.target_minutes * 60
    if clock.used_seconds is not None:
        return target - clock.used_seconds
    if clock.due_at is None:
        return None
    if calendar is None or now >= clock.due_at:
        return (clock.due_at - now).total_seconds()
    return business_seconds(calendar, now, clock.due_at)


def human(seconds: float) -> str:
    """'3h 28m', '42m', '2d 4h'; under a minute: '<1m'."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else "<1m"


def human_target(minutes: int) -> str:
    return human(timedelta(minutes=minutes).total_seconds())
