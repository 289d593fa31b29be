"""Rotations and final schedules as pure functions: golden cases around daylight-saving changes
and hypothesis properties (no gaps where layers cover, one person per layer, overrides and the top
layer win)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.rotation import (
    Override,
    Restriction,
    Rotation,
    ScheduleSpec,
    final_shifts,
    gaps,
    layer_shifts,
    to_instant,
    turns,
    who_is_on_call,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # half-hour daylight saving
ZONES = [ZoneInfo("UTC"), NEW_YORK, BERLIN, LORD_HOWE, ZoneInfo("Asia/Kolkata")]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def local(tz, shifts):
    return [(s.who, s.start.astimezone(tz).strftime("%m-%d %H:%M %Z"),
             s.end.astimezone(tz).strftime("%m-%d %H:%M %Z")) for s in shifts]


# --- Golden cases ------------------------------------------------------------------------------

def test_ambiguous_start_takes_first_occurrence_and_end_takes_last():
    wall = datetime(2026, 11, 1, 1, 30)  # New York falls back at 02:00 EDT
    assert to_instant(wall, NEW_YORK, "start") == utc(2026, 11, 1, 5, 30)
    assert to_instant(wall, NEW_YORK, "end") == utc(2026, 11, 1, 6, 30)


def test_skipped_wall_time_moves_to_next_valid_minute():
    wall = datetime(2026, 3, 8, 2, 30)  # New York springs forward 02:00 → 03:00
    assert to_instant(wall, NEW_YORK).astimezone(NEW_YORK).strftime("%H:%M") == "03:00"
    assert to_instant(wall, NEW_YORK, "end") == to_instant(wall, NEW_YORK, "start")


def test_daily_handoff_in_repeated_hour_gives_a_25_hour_turn():
    rotation = Rotation(("ann", "bob", "cat"), datetime(2026, 10, 30, 1, 30), "days", 1)
    shifts = turns(rotation, NEW_YORK, utc(2026, 10, 30, 5, 30), utc(2026, 11, 3, 6, 30))
    assert local(NEW_YORK, shifts) == [
        ("ann", "10-30 01:30 EDT", "10-31 01:30 EDT"),
        ("bob", "10-31 01:30 EDT", "11-01 01:30 EDT"),
        ("cat", "11-01 01:30 EDT", "11-02 01:30 EST"),
        ("ann", "11-02 01:30 EST", "11-03 01:30 EST"),
    ]
    assert shifts[2].end - shifts[2].start == timedelta(hours=25)


def test_daily_handoff_in_skipped_hour_moves_to_three_oclock_that_day_only():
    rotation = Rotation(("ann", "bob"), datetime(2026, 3, 6, 2, 30), "days", 1)
    shifts = turns(rotation, NEW_YORK, utc(2026, 3, 6, 7, 30), utc(2026, 3, 9, 6, 30))
    assert local(NEW_YORK, shifts) == [
        ("ann", "03-06 02:30 EST", "03-07 02:30 EST"),
        ("bob", "03-07 02:30 EST", "03-08 03:00 EDT"),
        ("ann", "03-08 03:00 EDT", "03-09 02:30 EDT"),
    ]


def test_eight_hour_rotation_stays_on_the_wall_clock_across_spring_forward():
    rotation = Rotation(("ann", "bob", "cat"), datetime(2026, 3, 1, 0, 0), "hours", 8)
    shifts = turns(rotation, NEW_YORK, utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert local(NEW_YORK, shifts) == [
        ("ann", "03-08 00:00 EST", "03-08 08:00 EDT"),  # 21 turns after the anchor
        ("bob", "03-08 08:00 EDT", "03-08 16:00 EDT"),
        ("cat", "03-08 16:00 EDT", "03-09 00:00 EDT"),
    ]
    assert [s.end - s.start for s in shifts] == [timedelta(hours=7), timedelta(hours=8),
                                                 timedelta(hours=8)]


def test_twelve_hour_rotation_in_berlin_autumn_has_one_thirteen_hour_night():
    rotation = Rotation(("day", "night"), datetime(2026, 10, 1, 8, 0), "hours", 12)
    shifts = turns(rotation, BERLIN, utc(2026, 10, 24, 18), utc(2026, 10, 25, 19))
    assert local(BERLIN, shifts) == [
        ("night", "10-24 20:00 CEST", "10-25 08:00 CET"),
        ("day", "10-25 08:00 CET", "10-25 20:00 CET"),
    ]
    assert shifts[0].end - shifts[0].start == timedelta(hours=13)


def test_weekly_rotation_hands_over_at_wall_time_on_the_right_day():
    rotation = Rotation(("ann", "bob"), datetime(2026, 10, 19, 9, 0), "weeks", 1)
    shifts = turns(rotation, BERLIN, utc(2026, 10, 19, 7), utc(2026, 11, 2, 8))
    assert local(BERLIN, shifts) == [
        ("ann", "10-19 09:00 CEST", "10-26 09:00 CET"),
        ("bob", "10-26 09:00 CET", "11-02 09:00 CET"),
    ]


def test_restriction_to_weekday_office_hours():
    rotation = Rotation(("ann",), datetime(2026, 11, 2, 0, 0), "weeks", 1,
                        Restriction(time(9), time(17), frozenset(range(5))))
    shifts = layer_shifts(rotation, BERLIN, utc(2026, 11, 6, 0), utc(2026, 11, 9, 23))
    assert local(BERLIN, shifts) == [
        ("ann", "11-06 09:00 CET", "11-06 17:00 CET"),
        ("ann", "11-09 09:00 CET", "11-09 17:00 CET"),
    ]


def test_overnight_restriction_ending_in_repeated_hour_ends_at_last_occurrence():
    rotation = Rotation(("owl",), datetime(2026, 10, 1, 0, 0), "weeks", 4,
                        Restriction(time(22), time(1, 30)))
    shifts = layer_shifts(rotation, NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 1, 12))
    assert local(NEW_YORK, shifts) == [("owl", "10-31 22:00 EDT", "11-01 01:30 EST")]


def test_top_layer_and_override_win_and_gap_remains():
    base = Rotation(("ann",), datetime(2026, 1, 1), "weeks", 1, name="primary")
    top = Rotation(("bob",), datetime(2026, 1, 1), "weeks", 1, Restriction(time(9), time(17)),
                   name="business")
    spec = ScheduleSpec(ZoneInfo("UTC"), (base, top),
                        (Override("cat", utc(2026, 2, 2, 12), utc(2026, 2, 2, 13)),))
    assert [(s.who, s.start.hour, s.end.hour) for s in
            final_shifts(spec, utc(2026, 2, 2, 8), utc(2026, 2, 2, 18))] == [
        ("ann", 8, 9), ("bob", 9, 12), ("cat", 12, 13), ("bob", 13, 17), ("ann", 17, 18)]
    assert gaps(ScheduleSpec(ZoneInfo("UTC"), (top,)), utc(2026, 2, 2, 8),
                utc(2026, 2, 2, 10)) == [(utc(2026, 2, 2, 8), utc(2026, 2, 2, 9))]


def test_nobody_before_the_rotation_starts():
    spec = ScheduleSpec(BERLIN, (Rotation(("ann",), datetime(2026, 5, 1, 9), "days", 1),))
    assert who_is_on_call(spec, utc(2026, 5, 1, 6)) is None
    assert who_is_on_call(spec, utc(2026, 5, 1, 7)) == "ann"


# --- Properties --------------------------------------------------------------------------------

people = st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=5).map(tuple)
anchors = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31))
units = st.sampled_from(["hours", "days", "weeks"])


@st.composite
def rotations(draw, restricted=None):
    restriction = None
    if restricted is None:
        restricted = draw(st.booleans())
    if restricted:
        restriction = Restriction(
            draw(st.times()).replace(second=0, microsecond=0),
            draw(st.times()).replace(second=0, microsecond=0),
            frozenset(draw(st.sets(st.integers(0, 6), max_size=6))))
    unit = draw(units)
    length = draw(st.integers(1, 30 if unit == "hours" else 3))
    return Rotation(draw(people), draw(anchors).replace(second=0, microsecond=0), unit, length,
                    restriction, name=f"layer-{draw(st.integers(0, 10**6))}")


@st.composite
def windows(draw):
    start = draw(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1),
                              timezones=st.just(UTC)))
    return start, start + draw(st.timedeltas(timedelta(hours=1), timedelta(days=10)))


def _union_length(shifts):
    return sum((s.end - s.start for s in shifts), timedelta())


@settings(max_examples=150, deadline=None)
@given(rotation=rotations(restricted=False), tz=st.sampled_from(ZONES), window=windows())
def test_unrestricted_layer_covers_every_instant_after_its_start_with_one_person(
        rotation, tz, window):
    start, end = window
    shifts = layer_shifts(rotation, tz, start, end)
    covered_from = max(start, to_instant(rotation.anchor, tz))
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.end == after.start  # no gap, no overlap
    if covered_from < end:
        assert shifts[0].start == covered_from and shifts[-1].end == end
    else:
        assert shifts == []


@settings(max_examples=150, deadline=None)
@given(rotation=rotations(restricted=False), tz=st.sampled_from(ZONES), window=windows())
def test_turns_follow_participant_order(rotation, tz, window):
    order = tuple(dict.fromkeys(rotation.participants))  # distinct names, so order is readable
    if rotation.step < timedelta(hours=2):  # a one-hour turn may vanish in a skipped hour
        rotation = Rotation(order, rotation.anchor, "hours", 2)
    rotation = Rotation(order, rotation.anchor, rotation.unit, rotation.length)
    shifts = turns(rotation, tz, *window)
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert after.who == order[(order.index(before.who) + 1) % len(order)]


@settings(max_examples=150, deadline=None)
@given(rotation=rotations(restricted=True), tz=st.sampled_from(ZONES), window=windows())
def test_restricted_layer_never_overlaps_itself_and_stays_inside_the_window(rotation, tz, window):
    start, end = window
    shifts = layer_shifts(rotation, tz, start, end)
    for shift in shifts:
        assert start <= shift.start < shift.end <= end
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.end <= after.start


@settings(max_examples=100, deadline=None)
@given(layers=st.lists(rotations(), min_size=1, max_size=3), tz=st.sampled_from(ZONES),
       window=windows(), data=st.data())
def test_final_schedule_obeys_overrides_then_top_layer(layers, tz, window, data):
    start, end = window
    span = (end - start).total_seconds()
    offset = data.draw(st.floats(0, span * 0.9))
    override = Override("zed", start + timedelta(seconds=offset),
                        start + timedelta(seconds=offset + span * 0.1 + 1))
    spec = ScheduleSpec(tz, tuple(layers), (override,))
    final = final_shifts(spec, start, end)
    for before, after in zip(final, final[1:], strict=False):
        assert before.end <= after.start
        assert not (before.end == after.start and before.who == after.who)
    for _ in range(5):
        at = start + timedelta(seconds=data.draw(st.floats(0, span - 1)))
        expected = None
        if override.start <= at < override.end:
            expected = "zed"
        else:
            for layer in reversed(layers):
                covering = [s for s in layer_shifts(layer, tz, at, at + timedelta(seconds=1))
                            if s.start <= at]
                if covering:
                    expected = covering[0].who
                    break
        assert who_is_on_call(spec, at) == expected
        assert [s.who for s in final if s.start <= at < s.end] == ([expected] if expected else [])


@settings(max_examples=100, deadline=None)
@given(layers=st.lists(rotations(), min_size=1, max_size=3), tz=st.sampled_from(ZONES),
       window=windows())
def test_final_shifts_and_gaps_partition_the_window(layers, tz, window):
    start, end = window
    spec = ScheduleSpec(tz, tuple(layers))
    holes = gaps(spec, start, end)
    covered = _union_length(final_shifts(spec, start, end))
    assert covered + sum((b - a for a, b in holes), timedelta()) == end - start


@pytest.mark.parametrize("tz", [NEW_YORK, BERLIN, LORD_HOWE])
@settings(max_examples=60, deadline=None)
@given(hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 45]),
       day=st.integers(-3, 3), unit=st.sampled_from(["days", "weeks"]))
def test_day_turns_hand_over_at_the_wall_time_or_next_valid_minute(tz, hour, minute, day, unit):
    transitions = {NEW_YORK: datetime(2026, 3, 8), BERLIN: datetime(2026, 10, 25),
                   LORD_HOWE: datetime(2026, 4, 5)}
    anchor = transitions[tz].replace(hour=hour, minute=minute) + timedelta(days=day - 14)
    rotation = Rotation(("ann", "bob"), anchor, unit, 1)
    start = to_instant(anchor, tz)
    for shift in turns(rotation, tz, start, start + timedelta(days=35)):
        wall = shift.start.astimezone(tz)
        assert (wall.hour, wall.minute) == (hour, minute) or \
            to_instant(wall.replace(tzinfo=None, hour=hour, minute=minute), tz) == shift.start
