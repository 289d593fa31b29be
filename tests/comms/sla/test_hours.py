"""Business time on calendars: worked examples and properties."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from comms.sla.hours import (
    Calendar,
    add_business_seconds,
    business_seconds,
    counted_seconds,
    due_after,
)

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = Calendar(zone=BERLIN, weekdays=frozenset(range(5)), start=time(9), end=time(17),
                        holidays=frozenset({date(2026, 12, 25), date(2026, 12, 28)}))
HOUR = 3600


def berlin(*args):
    return datetime(*args, tzinfo=BERLIN)


def test_friday_evening_p2_starts_counting_monday_nine():
    friday_evening = berlin(2026, 11, 27, 19, 30)
    due = add_business_seconds(NINE_TO_FIVE, friday_evening, 4 * HOUR)
    assert due == berlin(2026, 11, 30, 13, 0)
    assert business_seconds(NINE_TO_FIVE, friday_evening, berlin(2026, 11, 30, 9, 0)) == 0


def test_holiday_is_skipped():
    # Thursday 24 Dec 16:00 + 2 h: one hour that day, Friday 25th is a holiday, weekend, Monday
    # 28th too: the second hour is Tuesday 09:00–10:00.
    due = add_business_seconds(NINE_TO_FIVE, berlin(2026, 12, 24, 16), 2 * HOUR)
    assert due == berlin(2026, 12, 29, 10)


def test_dst_change_days_have_eight_hours():
    # Europe/Berlin leaves summer time on Sunday 25 Oct 2026 and enters it on 29 Mar 2026.
    every_day = Calendar(zone=BERLIN, weekdays=frozenset(range(7)), start=time(9), end=time(17))
    for day in (date(2026, 10, 25), date(2026, 3, 29)):
        begin = datetime.combine(day, time(0), BERLIN)
        assert business_seconds(every_day, begin, begin + timedelta(days=1)) == 8 * HOUR
    # A weekend with a DST change in between: Friday 16:00 + 2 h is Monday 10:00 local.
    assert add_business_seconds(NINE_TO_FIVE, berlin(2026, 10, 23, 16), 2 * HOUR) == \
        berlin(2026, 10, 26, 10)
    # Around the clock, the night of the change is 25 real hours long.
    assert business_seconds(None, berlin(2026, 10, 24, 12), berlin(2026, 10, 25, 12)) == 25 * HOUR


def test_pauses_are_not_counted_and_open_pause_has_no_due_time():
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    pause = (start + timedelta(hours=1), start + timedelta(hours=3))
    assert counted_seconds(None, start, start + timedelta(hours=5), [pause]) == 3 * HOUR
    assert due_after(None, start, 4 * HOUR, [pause]) == start + timedelta(hours=6)
    assert due_after(None, start, HOUR / 2, [pause]) == start + timedelta(minutes=30)
    assert due_after(None, start, 4 * HOUR, [(pause[0], None)]) is None


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1),
                        timezones=st.just(UTC))
calendars = st.sampled_from([None, NINE_TO_FIVE, Calendar(
    zone=ZoneInfo("America/New_York"), weekdays=frozenset({0, 2, 4, 6}), start=time(1, 30),
    end=time(3, 15))])
amounts = st.floats(min_value=0, max_value=400 * HOUR, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(calendars, instants, amounts)
def test_adding_then_measuring_round_trips(calendar, start, seconds):
    due = add_business_seconds(calendar, start, seconds)
    assert abs(business_seconds(calendar, start, due) - seconds) < 1e-3


@settings(max_examples=150, deadline=None)
@given(calendars, instants, amounts, amounts)
def test_more_time_is_never_earlier(calendar, start, a, b):
    low, high = sorted((a, b))
    assert add_business_seconds(calendar, start, low) <= add_business_seconds(calendar, start, high)
    end_low, end_high = start + timedelta(seconds=low), start + timedelta(seconds=high)
    assert business_seconds(calendar, start, end_low) <= business_seconds(calendar, start, end_high)


@settings(max_examples=150, deadline=None)
@given(calendars, instants, amounts, st.floats(min_value=0, max_value=200 * HOUR),
       st.floats(min_value=0, max_value=100 * HOUR))
def test_pause_spans_are_subtracted(calendar, start, seconds, offset, length):
    pause = (start + timedelta(seconds=offset), start + timedelta(seconds=offset + length))
    due = due_after(calendar, start, seconds, [pause])
    assert abs(counted_seconds(calendar, start, due, [pause]) - seconds) < 1e-3
    assert due >= add_business_seconds(calendar, start, seconds)
