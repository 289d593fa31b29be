"""State changes of on-call data: configuration writes (schedules, layers, policies and their
steps, contact methods), overrides, swaps, hand-off notices. The admin and the portal call these;
`by` is the acting user."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict
from config.outbox import Outbox, doubling
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
    NoticeStatus,
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


class SwapError(Conflict):
    """A swap that its state does not allow (HTTP 409)."""


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


def edit_schedule(*, by, schedule: Schedule, fields: dict, layers: list, version: str = "",
                  ) -> Schedule:
    """Save a schedule and its whole set of layers at once, as the portal's editor does.
    `layers`: (Layer, its fields, its participants in order); stored layers not among them are
    deleted. Refused when the stored configuration no longer matches `version` (when given)."""
    with transaction.atomic():
        if schedule.pk is not None:
            stored = Schedule.objects.select_for_update().get(pk=schedule.pk)
            if version and version != schedules.fingerprint(stored):
                raise ValidationError("Someone changed this schedule since you opened it. "
                                      "Open the editor again to see their change.")
        save_schedule(by=by, schedule=schedule, **fields)
        kept = [layer.pk for layer, _, _ in layers if layer.pk is not None]
        for old in schedule.layers.exclude(pk__in=kept):
            delete_configuration(by=by, obj=old)
        _free_ranks(by, schedule, layers)
        for layer, layer_fields, people in layers:
            layer.schedule = schedule
            save_layer(by=by, layer=layer, **layer_fields)
            _save_members(by, layer, people)
    return schedule


def _free_ranks(by, schedule, layers) -> None:
    """Move layers whose rank changes out of the way first: two layers may swap ranks, and
    each save is checked against the (schedule, rank) constraint."""
    stored = dict(schedule.layers.values_list("pk", "rank"))
    moving = [(layer, fields["rank"]) for layer, fields, _ in layers
              if layer.pk is not None and fields["rank"] != stored.get(layer.pk)]
    top = max(stored.values(), default=0)
    for offset, (layer, rank) in enumerate(moving, start=1):
        save_layer(by=by, layer=layer, rank=top + 100 + offset)
        layer.rank = rank


def _save_members(by, layer: Layer, people: list) -> None:
    """Members are numbered slots: slot i holds the i-th person, extra slots go."""
    slots = list(layer.members.order_by("position"))
    for position, person in enumerate(people):
        if position < len(slots):
            if slots[position].user_id != person.pk:
                save_layer_member(by=by, member=slots[position], user=person)
        else:
            save_layer_member(by=by, member=LayerMember(layer=layer, position=position),
                              user=person)
    for extra in slots[len(people):]:
        delete_configuration(by=by, obj=extra)


def edit_policy(*, by, policy: EscalationPolicy, fields: dict, steps: list) -> EscalationPolicy:
    """Save a policy and its steps at once. `steps`: ({delay_minutes}, {users, schedules,
    teams}) in paging order; stored steps are numbered slots, extra ones are deleted."""
    with transaction.atomic():
        save_policy(by=by, policy=policy, **fields)
        slots = list(policy.steps.order_by("position"))
        for position, (step_fields, targets) in enumerate(steps):
            step = slots[position] if position < len(slots) else EscalationStep(
                policy=policy, position=position)
            save_step(by=by, step=step, **step_fields)
            for name, chosen in targets.items():
                getattr(step, name).set(chosen)
        for extra in slots[len(steps):]:
            delete_configuration(by=by, obj=extra)
    return policy


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

# Hand-off notices are an outbox: the row (unique per shift and kind) makes each notice once, and
# an email that fails is tried again by the minute's sweep after 1, 2, 4, 8 and 16 minutes.
NOTICES = Outbox(
    name="hand-off notice",
    stale_after=timedelta(seconds=settings.RELAY_HANDOFF_CLAIM_STALE_SECONDS),
    retry_delays=doubling(timedelta(minutes=1), 5),
    done=NoticeStatus.SENT,
    done_field="sent_at",
)


def send_handoff_notices(now: datetime | None = None) -> int:
    """Every minute: write the notices for shifts starting within the next hour ("you are on
    call from 18:00") and shifts that have just started ("you are on call now"), then deliver
    every notice that is due, new ones and retries. Returns how many were sent."""
    now = now or timezone.now()
    _write_handoff_notices(now)
    NOTICES.release_stale(HandoffNotice, now)
    return sum(deliver_notice(pk, now) for pk in NOTICES.due_ids(HandoffNotice, now))


def _write_handoff_notices(now: datetime) -> None:
    since = now - NOTICE_LATE
    for schedule in Schedule.objects.all():
        for shift in schedules.final_shifts(schedule, since, now + NOTICE_AHEAD):
            if shift.start <= since:
                continue  # began before this window (clipped to it): told back then
            _write_notice(schedule, shift, "now" if shift.start <= now else "upcoming", now)


def _write_notice(schedule, shift, kind, now) -> None:
    try:
        with transaction.atomic():
            HandoffNotice.objects.create(schedule=schedule, user=shift.who, kind=kind,
                                         shift_start=shift.start, shift_end=shift.end,
                                         due_at=now)
    except IntegrityError:
        pass  # an earlier sweep wrote it: the row is what makes a notice once


def deliver_notice(notice_id: int, now: datetime | None = None) -> bool:
    """One attempt at a notice: claim it, email it, record the result on the row. False when
    another worker has it, it is not due, or the email failed (then it waits for a retry)."""
    now = now or timezone.now()
    if not NOTICES.claim(HandoffNotice, notice_id, now):
        return False
    notice = HandoffNotice.objects.select_related("schedule", "user").get(pk=notice_id)
    try:
        _email_notice(notice)
    except channels.ChannelError as error:
        NOTICES.record_failure(notice, str(error), now)
        return False
    NOTICES.record_success(notice, now)
    return True


def _email_notice(notice: HandoffNotice) -> None:
    """Email the notice to each of the person's enabled email methods; a failure raises, and
    the retry sends to every method again (a repeat beats a missed hand-off)."""
    methods = list(ContactMethod.objects.filter(user=notice.user, enabled=True,
                                                kind=ContactKind.EMAIL))
    if not methods:
        raise channels.ChannelError("No enabled email contact method.")
    message = _notice_message(notice)
    for method in methods:
        channels.send(method.kind, method.address, message)


def _notice_message(notice: HandoffNotice) -> Message:
    schedule = notice.schedule
    local = notice.shift_start.astimezone(schedule.tz)
    subject = (f"You are on call now for {schedule.name}" if notice.kind == "now" else
               f"You are on call for {schedule.name} from {local:%H:%M} ({schedule.time_zone})")
    if notice.shift_end is None:
        return Message(subject=subject, text=f"{subject}.")
    return Message(subject=subject, text=f"{subject}, until "
                   f"{notice.shift_end.astimezone(schedule.tz):%a %d %b %H:%M}.")
