"""State changes of on-call data: overrides, swaps, hand-off notices."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import timerange
from config.errors import Conflict
from oncall import channels, schedules
from oncall.channels import Message
from oncall.models import (
    ContactKind,
    ContactMethod,
    HandoffNotice,
    Override,
    Schedule,
    Swap,
    SwapState,
)

MAX_OVERRIDE = timedelta(days=90)
NOTICE_AHEAD = timedelta(hours=1)
# The notices run from django-q2's scheduler (about every 30 s, up to a minute late).
NOTICE_LATE = timedelta(minutes=5)
log = logging.getLogger(__name__)


class SwapError(Conflict):
    """A swap that its state does not allow (HTTP 409)."""


def _check_period(start: datetime | None, end: datetime | None) -> None:
    if start is None or end is None:
        raise ValidationError({"start": "Give a start and an end."})
    timerange.check(start=start, end=end)
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    if end - start > MAX_OVERRIDE:
        raise ValidationError({"end": "A period can cover at most 90 days."})


def create_override(schedule: Schedule, *, user, start: datetime, end: datetime,
                    by=None, note: str = "") -> Override:
    _check_period(start, end)
    return Override.objects.create(schedule=schedule, user=user, start=start, end=end,
                                   created_by=by, note=(note or "")[:200])


def offer_swap(schedule: Schedule, *, by, start: datetime, end: datetime,
               note: str = "") -> Swap:
    """Offer part of one's own on-call time; only time one is actually on call can be offered."""
    _check_period(start, end)
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
