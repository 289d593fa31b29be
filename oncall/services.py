"""State changes of on-call data: configuration writes (schedules, layers, policies and their
steps, contact methods), overrides, swaps, hand-off notices. The admin and the portal call these;
`by` is the acting user."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from oncall import channels, schedules
from oncall.channels import Message
from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    HandoffNotice,
    Layer,
    LayerMember,
    NotificationRule,
    Override,
    Schedule,
    Swap,
    SwapState,
    check_period,
)

NOTICE_AHEAD = timedelta(hours=1)
# The notices run from django-q2's scheduler (about every 30 s, up to a minute late).
NOTICE_LATE = timedelta(minutes=5)
log = logging.getLogger(__name__)


class SwapError(Exception):
    """A swap that its state does not allow (shown as a form error / HTTP 409)."""


def create_override(schedule: Schedule, *, user, start: datetime, end: datetime,
                    by=None, note: str = "") -> Override:
    check_period(start, end)
    return Override.objects.create(schedule=schedule, user=user, start=start, end=end,
                                   created_by=by, note=(note or "")[:200])


def offer_swap(schedule: Schedule, *, by, start: datetime, end: datetime,
               note: str = "") -> Swap:
    """Offer part of one's own on-call time; only time one is actually on call can be offered."""
    check_period(start, end)
    if start < timezone.now():
        raise ValidationError({"start": "Only future time can be offered."})
    covered = sum((s.end - s.start for s in schedules.final_shifts(schedule, start, end)
                   if s.who.pk == by.pk), timedelta())
    if covered != end - start:
        raise ValidationError({"start": "You are not on call for all of that period."})
    return Swap.objects.create(schedule=schedule, offered_by=by, start=start, end=end,
                               note=(note or "")[:200])


def take_swap(swap: Swap, *, by) -> Swap:
    with transaction.atomic():
        swap = Swap.objects.select_for_update().get(pk=swap.pk)
        if swap.state != SwapState.OFFERED:
            raise SwapError("This swap has already been taken or withdrawn.")
        if swap.offered_by_id == by.pk:
            raise SwapError("You cannot take your own swap.")
        if swap.start <= timezone.now():
            raise SwapError("This swap has already started.")
        swap.override = create_override(swap.schedule, user=by, start=swap.start, end=swap.end,
                                        by=by, note=f"Swap with {swap.offered_by}")
        swap.taken_by, swap.state = by, SwapState.TAKEN
        swap.save()
    return swap


def undo_swap(swap: Swap, *, by) -> Swap:
    """Either side may undo before the period starts: the override goes, the time is back."""
    with transaction.atomic():
        swap = Swap.objects.select_for_update().get(pk=swap.pk)
        if by.pk not in (swap.offered_by_id, swap.taken_by_id):
            raise SwapError("Only the two people in a swap can undo it.")
        if swap.state == SwapState.WITHDRAWN:
            raise SwapError("This swap was already withdrawn.")
        if swap.start <= timezone.now():
            raise SwapError("This swap has already started; create an override instead.")
        if swap.override_id:
            Override.objects.filter(pk=swap.override_id).delete()
        swap.override, swap.taken_by, swap.state = None, None, SwapState.WITHDRAWN
        swap.save()
    return swap


# --- Configuration ------------------------------------------------------------------------------

def _save(obj, fields: dict):
    """Set the fields, check the model's rules (clean(), constraints), save."""
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    with transaction.atomic():
        obj.save()
    return obj


def save_schedule(*, by, schedule: Schedule, **fields) -> Schedule:
    return _save(schedule, fields)


def save_layer(*, by, layer: Layer, **fields) -> Layer:
    """Layer.clean() holds its rules: both ends of a daily window or none, weekdays 0–6."""
    return _save(layer, fields)


def save_layer_member(*, by, member: LayerMember, **fields) -> LayerMember:
    return _save(member, fields)


def save_override(*, by, override: Override, **fields) -> Override:
    """The admin's path to an override: Override.clean() holds create_override's period rule."""
    if override.pk is None and override.created_by_id is None:
        override.created_by = by
    return _save(override, fields)


def save_policy(*, by, policy: EscalationPolicy, **fields) -> EscalationPolicy:
    return _save(policy, fields)


def save_step(*, by, step: EscalationStep, **fields) -> EscalationStep:
    """One step of a policy; its targets (many-to-many) are set by the caller after the save."""
    return _save(step, fields)


def save_contact_method(*, by, method: ContactMethod, **fields) -> ContactMethod:
    """ContactMethod.clean() refuses an address its kind cannot reach (validate_address)."""
    return _save(method, fields)


def save_notification_rule(*, by, rule: NotificationRule, **fields) -> NotificationRule:
    return _save(rule, fields)


def delete_configuration(*, by, obj) -> None:
    """Delete a schedule, layer, member, override, policy, step, contact method or rule."""
    with transaction.atomic():
        obj.delete()


# --- Hand-off notices --------------------------------------------------------------------------

def send_handoff_notices(now: datetime | None = None) -> int:
    """Tell people about shifts starting within the next hour ("you are on call from 18:00")
    and shifts that have just started ("you are on call now"). Each notice is sent once."""
    now = now or timezone.now()
    sent = 0
    since = now - NOTICE_LATE
    for schedule in Schedule.objects.all():
        for shift in schedules.final_shifts(schedule, since, now + NOTICE_AHEAD):
            if shift.start <= since:
                continue  # began before this window (clipped to it): told back then
            sent += _notify_handoff(schedule, shift, "now" if shift.start <= now else "upcoming")
    return sent


def _notify_handoff(schedule, shift, kind) -> int:
    try:
        with transaction.atomic():
            HandoffNotice.objects.create(schedule=schedule, user=shift.who,
                                         shift_start=shift.start, kind=kind)
    except IntegrityError:
        return 0
    local = shift.start.astimezone(schedule.tz)
    subject = (f"You are on call now for {schedule.name}" if kind == "now" else
               f"You are on call for {schedule.name} from {local:%H:%M} ({schedule.time_zone})")
    message = Message(subject=subject, text=f"{subject}, until "
                      f"{shift.end.astimezone(schedule.tz):%a %d %b %H:%M}.")
    methods = ContactMethod.objects.filter(user=shift.who, enabled=True,
                                           kind=ContactKind.EMAIL)
    for method in methods:
        try:
            channels.send(method.kind, method.address, message)
        except channels.ChannelError as error:
            # A courtesy, not a page: logged, not retried (pages have their own retries).
            log.warning("Hand-off notice to %s failed: %s", method.address, error)
    return 1
