"""Schedules as stored: build the plain rotation data from the database and answer with users.

The rules themselves live in oncall.rotation (pure functions); this module only loads rows,
converts them, and maps user ids back to users.
"""

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from config import auditing
from oncall import rotation
from oncall.models import CalendarFeed, Layer, Override, Schedule

HORIZON = timedelta(days=14)


def _rotation_for(layer: Layer, participants=None) -> rotation.Rotation:
    """`participants` (user ids, in order) for a layer not saved yet; else its members."""
    restriction = None
    if layer.restrict_start is not None and layer.restrict_end is not None:
        restriction = rotation.Restriction(layer.restrict_start, layer.restrict_end,
                                           frozenset(layer.restrict_weekdays or ()))
    return rotation.Rotation(
        participants=tuple(m.user_id for m in layer.members.all()) if participants is None
        else tuple(participants),
        anchor=datetime.combine(layer.start_date, layer.handoff_time),
        unit=layer.turn_unit, length=layer.turn_length, restriction=restriction,
        name=layer.name)


def spec_for(schedule: Schedule, start: datetime, end: datetime) -> rotation.ScheduleSpec:
    """The schedule's layers and the overrides that touch [start, end), in three queries."""
    layers = schedule.layers.order_by("rank", "id").prefetch_related("members")
    overrides = schedule.overrides.filter(start__lt=end, end__gt=start).order_by("created_at")
    return _spec(schedule, layers, overrides)


def _spec(schedule, layers, overrides) -> rotation.ScheduleSpec:
    return rotation.ScheduleSpec(
        tz=schedule.tz,
        layers=tuple(_rotation_for(layer) for layer in layers),
        overrides=tuple(rotation.Override(o.user_id, o.start, o.end) for o in overrides))


def draft_spec(schedule: Schedule, layers, overrides=()) -> rotation.ScheduleSpec:
    """The spec of an edit not saved yet: `layers` are (Layer, user ids) pairs, any order."""
    ordered = sorted(layers, key=lambda pair: pair[0].rank)
    return rotation.ScheduleSpec(
        tz=schedule.tz,
        layers=tuple(_rotation_for(layer, ids) for layer, ids in ordered),
        overrides=tuple(rotation.Override(o.user_id, o.start, o.end) for o in overrides))


def with_specs(start: datetime, end: datetime, queryset=None):
    """Schedules (all, or `queryset`) each with its spec for [start, end), in four queries
    whatever their number: for pages that show many schedules at once."""
    queryset = (Schedule.objects.all() if queryset is None else queryset).select_related("team")
    queryset = queryset.prefetch_related(
        Prefetch("layers", queryset=Layer.objects.order_by("rank", "id")
                 .prefetch_related("members")),
        Prefetch("overrides", queryset=Override.objects.filter(start__lt=end, end__gt=start)
                 .order_by("created_at"), to_attr="window_overrides"))
    return [(s, _spec(s, s.layers.all(), s.window_overrides)) for s in queryset]


def on_call_now(at: datetime | None = None, queryset=None) -> list[tuple[Schedule, object]]:
    """Each schedule with the user on call at `at` (None for a gap), in five queries."""
    at = at or timezone.now()
    pairs = [(s, rotation.who_is_on_call(spec, at))
             for s, spec in with_specs(at, at + timedelta(seconds=1), queryset)]
    users = get_user_model().objects.in_bulk({pk for _, pk in pairs if pk})
    return [(s, users.get(pk)) for s, pk in pairs]


def shifts_of(user, start: datetime, end: datetime) -> list[tuple[Schedule, rotation.Shift]]:
    """A person's own final shifts on every schedule, by start."""
    mine = [(s, shift) for s, spec in with_specs(start, end)
            for shift in rotation.final_shifts(spec, start, end) if shift.who == user.pk]
    return sorted(mine, key=lambda pair: pair[1].start)


def _with_users(shifts: list[rotation.Shift]) -> list[rotation.Shift]:
    users = get_user_model().objects.in_bulk({s.who for s in shifts})
    return [replace(s, who=users[s.who]) for s in shifts if s.who in users]


def spec_shifts(spec: rotation.ScheduleSpec, start: datetime, end: datetime):
    """Final shifts and each layer's own shifts of a spec, with users: what the timeline shows."""
    return (_with_users(rotation.final_shifts(spec, start, end)),
            [(layer, _with_users(rotation.layer_shifts(layer, spec.tz, start, end)))
             for layer in spec.layers])


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[rotation.Shift]:
    """Who is on call between two instants, as shifts whose `who` is a user."""
    return _with_users(rotation.final_shifts(spec_for(schedule, start, end), start, end))


def layer_shifts(schedule: Schedule, start: datetime, end: datetime):
    """Each layer with its own shifts (before layers above and overrides cut in)."""
    spec = spec_for(schedule, start, end)
    return [(layer, _with_users(rotation.layer_shifts(layer, spec.tz, start, end)))
            for layer in spec.layers]


def who_is_on_call(schedule: Schedule, at: datetime):
    """The user on call on `schedule` at `at`, or None."""
    user_id = rotation.who_is_on_call(spec_for(schedule, at, at + timedelta(seconds=1)), at)
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


def gaps(schedule: Schedule, start: datetime | None = None, end: datetime | None = None):
    start = start or timezone.now()
    end = end or start + HORIZON
    return rotation.gaps(spec_for(schedule, start, end), start, end)


def fingerprint(schedule: Schedule) -> str:
    """A digest of the schedule's stored configuration (its fields, layers and members): an
    editor compares it at save time to notice an edit made since it opened the form."""
    if schedule.pk is None:
        return ""
    rows = [(schedule.name, schedule.team_id, schedule.time_zone, schedule.description)]
    for layer in schedule.layers.order_by("pk").prefetch_related("members"):
        rows.append((layer.pk, layer.name, layer.rank, str(layer.start_date),
                     str(layer.handoff_time), layer.turn_unit, layer.turn_length,
                     str(layer.restrict_start), str(layer.restrict_end),
                     layer.restrict_weekdays, [m.user_id for m in layer.members.all()]))
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:32]


def calendar_feed(user) -> CalendarFeed:
    """The user's personal feed, created on first use: its token is a credential, so the
    audit log tells when one was issued (never the token)."""
    with transaction.atomic():
        feed, created = CalendarFeed.objects.get_or_create(user=user)
        if created:
            auditing.log("calendar_feed.create", feed, actor=user,
                         after=auditing.snapshot(feed, secrets=("token",)),
                         secrets_changed=["token"])
    return feed
