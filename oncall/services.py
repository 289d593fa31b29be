"""State changes of on-call data: configuration writes (schedules, layers, policies and their
steps, contact methods), overrides, swaps, hand-off notices. The admin and the portal call these;
`by` is the acting user. Each configuration write, override and swap writes its audit-log entry
in its own transaction (config.auditing); hand-off notices are deliveries, not configuration."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import auditing
from config.errors import Conflict
from config.outbox import Outbox, doubling
from oncall import channels, schedules
from oncall.channels import Message
from oncall.models import (
    CalendarFeed,
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
    Team,
    check_period,
)

NOTICE_AHEAD = timedelta(hours=1)
# The notices run from django-q2's scheduler (about every 30 s, up to a minute late).
NOTICE_LATE = timedelta(minutes=5)


class SwapError(Conflict):
    """A swap that its state does not allow (HTTP 409)."""


def create_override(schedule: Schedule, *, user, start: datetime, end: datetime,
                    by=None, note: str = "") -> Override:
    with transaction.atomic():
        override = _new_override(schedule, user=user, start=start, end=end, by=by, note=note)
        _log(by, override, None, _state(override))
    return override


def _new_override(schedule, *, user, start, end, by, note) -> Override:
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
    with transaction.atomic():
        swap = Swap.objects.create(schedule=schedule, offered_by=by, start=start, end=end,
                                   note=(note or "")[:200])
        _log(by, swap, None, _state(swap), verb="offer")
    return swap


def take_swap(swap: Swap, *, by) -> Swap:
    with transaction.atomic():
        swap = Swap.objects.select_for_update().get(pk=swap.pk)
        if swap.state != SwapState.OFFERED:
            raise SwapError("This swap has already been taken or withdrawn.")
        if swap.offered_by_id == by.pk:
            raise SwapError("You cannot take your own swap.")
        if swap.start <= timezone.now():
            raise SwapError("This swap has already started.")
        before = _state(swap)
        # The override is the swap's own: its entry (swap.take) names it.
        swap.override = _new_override(swap.schedule, user=by, start=swap.start, end=swap.end,
                                      by=by, note=f"Swap with {swap.offered_by}")
        swap.taken_by, swap.state = by, SwapState.TAKEN
        swap.save()
        _log(by, swap, before, _state(swap), verb="take")
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
        before = _state(swap)
        if swap.override_id:
            Override.objects.filter(pk=swap.override_id).delete()
        swap.override, swap.taken_by, swap.state = None, None, SwapState.WITHDRAWN
        swap.save()
        _log(by, swap, before, _state(swap), verb="undo")
    return swap


# --- The audit log ------------------------------------------------------------------------------

# Each model's name in the log's actions ("schedule.update").
THINGS = {Schedule: "schedule", Layer: "layer", LayerMember: "layer_member",
          Override: "override", EscalationPolicy: "escalation_policy",
          EscalationStep: "escalation_step", ContactMethod: "contact_method",
          NotificationRule: "notification_rule", CalendarFeed: "calendar_feed", Swap: "swap",
          Team: "team"}
# A webhook or Slack URL is a credential: whoever has it can post to the channel. Email addresses
# and phone numbers are personal data, kept like any other field.
SECRET_ADDRESS_KINDS = frozenset({ContactKind.WEBHOOK, ContactKind.SLACK})
LAYER_FIELDS = ("name", "rank", "start_date", "handoff_time", "turn_unit", "turn_length",
                "restrict_start", "restrict_end", "restrict_weekdays")
TARGETS = ("users", "schedules", "teams")


def _secrets(obj) -> tuple[str, ...]:
    if isinstance(obj, Schedule):
        return ("calendar_token",)
    if isinstance(obj, CalendarFeed):
        return ("token",)
    if isinstance(obj, ContactMethod) and obj.kind in SECRET_ADDRESS_KINDS:
        return ("address",)
    return ()


def _state(obj) -> tuple[dict, dict]:
    """What the log keeps of a row, and its secrets' values (compared, never kept). A layer's
    people are its member rows, which have entries of their own."""
    fields = [f.name for f in [*obj._meta.concrete_fields, *obj._meta.many_to_many]
              if not (isinstance(obj, Layer) and f.name == "participants")]
    secrets = _secrets(obj)
    return (auditing.snapshot(obj, fields, secrets),
            {name: getattr(obj, name) for name in secrets})


def _schedule_state(schedule: Schedule) -> tuple[dict, dict]:
    """The schedule with its layers and their people in order: what its editor saves at once."""
    view, secrets = _state(schedule)
    layers = schedule.layers.order_by("-rank", "pk").prefetch_related("members")
    view["layers"] = [{"id": layer.pk, **auditing.snapshot(layer, LAYER_FIELDS),
                       "members": [m.user_id for m in layer.members.all()]}
                      for layer in layers]
    return view, secrets


def _policy_state(policy: EscalationPolicy) -> tuple[dict, dict]:
    view, secrets = _state(policy)
    view["steps"] = [auditing.snapshot(step, ("delay_minutes", *TARGETS))
                     for step in policy.steps.order_by("position")]
    return view, secrets


def _whole(obj) -> tuple[dict, dict]:
    if isinstance(obj, Schedule):
        return _schedule_state(obj)
    if isinstance(obj, EscalationPolicy):
        return _policy_state(obj)
    return _state(obj)


def _repr(obj) -> str:
    """The row's name in the log: str(), but never a contact method's address (it may be a
    credential)."""
    if isinstance(obj, ContactMethod):
        return f"{obj.get_kind_display()} of {obj.user}"
    if isinstance(obj, NotificationRule):
        return f"{_repr(obj.contact_method)} after {obj.delay_minutes} min"
    return str(obj)


def _log(by, obj, before: tuple | None, after: tuple | None, *, verb: str = "",
         object_id=None) -> None:
    """One entry: create (no before), delete (no after) or update (only what differs)."""
    before_view, before_secrets = before or (None, {})
    after_view, after_secrets = after or (None, {})
    changed = [] if after is None else [
        name for name in {*before_secrets, *after_secrets}
        if before_secrets.get(name) != after_secrets.get(name)]
    verb = verb or ("create" if before is None else "delete" if after is None else "update")
    auditing.log(f"{THINGS[type(obj)]}.{verb}", obj, actor=by, before=before_view,
                 after=after_view, secrets_changed=changed, object_repr=_repr(obj),
                 object_id=str(obj.pk if object_id is None else object_id))


# --- Configuration ------------------------------------------------------------------------------

def _save(obj, fields: dict):
    """Set the fields, check the model's rules (clean(), constraints), save."""
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    with transaction.atomic():
        obj.save()
    return obj


def _save_logged(by, obj, fields: dict, targets: dict | None = None):
    """_save, and its audit entry, whose before is the row as stored (the caller's instance
    may carry the change already, as the admin's does)."""
    with transaction.atomic():
        stored = (type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
                  if obj.pk is not None else None)
        before = _state(stored) if stored is not None else None
        _save(obj, fields)
        for name, chosen in (targets or {}).items():
            getattr(obj, name).set(chosen)
        _log(by, obj, before, _state(obj))
    return obj


def save_team(*, by, team: Team, **fields) -> Team:
    """A team's own row (name, slug, description, group, lead); its members are its group's."""
    return _save_logged(by, team, fields)


def save_schedule(*, by, schedule: Schedule, **fields) -> Schedule:
    return _save_logged(by, schedule, fields)


def save_layer(*, by, layer: Layer, **fields) -> Layer:
    """Layer.clean() holds its rules: both ends of a daily window or none, weekdays 0–6."""
    return _save_logged(by, layer, fields)


def save_layer_member(*, by, member: LayerMember, **fields) -> LayerMember:
    return _save_logged(by, member, fields)


def save_override(*, by, override: Override, **fields) -> Override:
    """The admin's path to an override: Override.clean() holds create_override's period rule."""
    if override.pk is None and override.created_by_id is None:
        override.created_by = by
    return _save_logged(by, override, fields)


def save_policy(*, by, policy: EscalationPolicy, **fields) -> EscalationPolicy:
    return _save_logged(by, policy, fields)


def save_step(*, by, step: EscalationStep, targets: dict | None = None,
              **fields) -> EscalationStep:
    """One step of a policy; `targets` ({users, schedules, teams}), when given, replace its
    targets after the save."""
    return _save_logged(by, step, fields, targets)


def save_calendar_feed(*, by, feed: CalendarFeed, **fields) -> CalendarFeed:
    return _save_logged(by, feed, fields)


def edit_schedule(*, by, schedule: Schedule, fields: dict, layers: list, version: str = "",
                  ) -> Schedule:
    """Save a schedule and its whole set of layers at once, as the portal's editor does.
    `layers`: (Layer, its fields, its participants in order); stored layers not among them are
    deleted. Refused when the stored configuration no longer matches `version` (when given).
    One audit entry holds the whole schedule before and after."""
    with transaction.atomic():
        before = None
        if schedule.pk is not None:
            stored = Schedule.objects.select_for_update().get(pk=schedule.pk)
            if version and version != schedules.fingerprint(stored):
                raise ValidationError("Someone changed this schedule since you opened it. "
                                      "Open the editor again to see their change.")
            before = _schedule_state(stored)
        _save(schedule, fields)
        kept = [layer.pk for layer, _, _ in layers if layer.pk is not None]
        schedule.layers.exclude(pk__in=kept).delete()
        _free_ranks(schedule, layers)
        for layer, layer_fields, people in layers:
            layer.schedule = schedule
            _save(layer, layer_fields)
            _save_members(layer, people)
        _log(by, schedule, before, _schedule_state(schedule))
    return schedule


def _free_ranks(schedule, layers) -> None:
    """Move layers whose rank changes out of the way first: two layers may swap ranks, and
    each save is checked against the (schedule, rank) constraint."""
    stored = dict(schedule.layers.values_list("pk", "rank"))
    moving = [(layer, fields["rank"]) for layer, fields, _ in layers
              if layer.pk is not None and fields["rank"] != stored.get(layer.pk)]
    top = max(stored.values(), default=0)
    for offset, (layer, rank) in enumerate(moving, start=1):
        _save(layer, {"rank": top + 100 + offset})
        layer.rank = rank


def _save_members(layer: Layer, people: list) -> None:
    """Members are numbered slots: slot i holds the i-th person, extra slots go."""
    slots = list(layer.members.order_by("position"))
    for position, person in enumerate(people):
        if position < len(slots):
            if slots[position].user_id != person.pk:
                _save(slots[position], {"user": person})
        else:
            _save(LayerMember(layer=layer, position=position), {"user": person})
    for extra in slots[len(people):]:
        extra.delete()


def edit_policy(*, by, policy: EscalationPolicy, fields: dict, steps: list) -> EscalationPolicy:
    """Save a policy and its steps at once. `steps`: ({delay_minutes}, {users, schedules,
    teams}) in paging order; stored steps are numbered slots, extra ones are deleted. One audit
    entry holds the whole policy before and after."""
    with transaction.atomic():
        before = None
        if policy.pk is not None:
            before = _policy_state(EscalationPolicy.objects.select_for_update().get(pk=policy.pk))
        _save(policy, fields)
        slots = list(policy.steps.order_by("position"))
        for position, (step_fields, targets) in enumerate(steps):
            step = slots[position] if position < len(slots) else EscalationStep(
                policy=policy, position=position)
            _save(step, step_fields)
            for name, chosen in targets.items():
                getattr(step, name).set(chosen)
        for extra in slots[len(steps):]:
            extra.delete()
        _log(by, policy, before, _policy_state(policy))
    return policy


def save_contact_method(*, by, method: ContactMethod, **fields) -> ContactMethod:
    """ContactMethod.clean() refuses an address its kind cannot reach (validate_address)."""
    return _save_logged(by, method, fields)


def save_notification_rule(*, by, rule: NotificationRule, **fields) -> NotificationRule:
    return _save_logged(by, rule, fields)


def delete_configuration(*, by, obj) -> None:
    """Delete a team, schedule, layer, member, override, policy, step, contact method, rule or
    calendar feed. A schedule's or policy's entry holds its layers or steps, which go with it."""
    with transaction.atomic():
        pk, before = obj.pk, _whole(obj)
        obj.delete()
        _log(by, obj, before, None, object_id=pk)


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
    key = f"relay-handoff-{notice.pk}"  # one Message-ID however often a retry sends it
    if notice.shift_end is None:
        return Message(subject=subject, text=f"{subject}.", key=key)
    return Message(subject=subject, text=f"{subject}, until "
                   f"{notice.shift_end.astimezone(schedule.tz):%a %d %b %H:%M}.", key=key)
