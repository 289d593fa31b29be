"""Business time: how many seconds of working time lie between two instants, and the instant a
number of working seconds after a start, on a business calendar or around the clock (None).

Pure functions over aware datetimes. Working hours are wall times in the calendar's zone, so a
09:00–17:00 day is eight hours on the days the clocks change too: each day's window is built
from its own local date and converted to UTC on its own.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A calendar with working weekdays always has a working day within this many days, unless a
# year's worth of holidays blocks it; past that, the arithmetic gives up instead of looping.
MAX_DAYS = 3 * 366

Span = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    weekdays: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, calendar) -> "Calendar | None":
        """From a BusinessCalendar row (its holidays prefetched or fetched); None stays None."""
        if calendar is None:
            return None
        return cls(zone=ZoneInfo(calendar.time_zone), weekdays=frozenset(calendar.weekdays),
                   start=calendar.start, end=calendar.end,
                   holidays=frozenset(h.date for h in calendar.holidays.all()))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of a local date, in UTC; None on a day off."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        begin = datetime.combine(day, self.start, self.zone).astimezone(UTC)
        end = datetime.combine(day, self.end, self.zone).astimezone(UTC)
        return (begin, end) if end > begin else None

    def windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows that end after `instant`, in order (the first may start before it)."""
        day = instant.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(MAX_DAYS):
            window = self.window(day + timedelta(days=offset))
            if window and window[1] > instant:
                yield window
        raise ValueError("This calendar has no working hours within three years.")


def business_seconds(calendar: Calendar | None, start: datetime, end: datetime) -> float:
    """Working seconds in [start, end); 0 when end is not after start."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    if calendar is None:
        return (end - start).total_seconds()
    total = 0.0
    for begin, finish in calendar.windows_from(start):
        if begin >= end:
            break
        total += (min(finish, end) - max(begin, start)).total_seconds()
    return total


def add_business_seconds(calendar: Calendar | None, start: datetime, seconds: float) -> datetime:
    """The instant at which `seconds` of working time have passed since `start`. Zero seconds
    from outside working hours is `start` itself (nothing has to pass)."""
    start = start.astimezone(UTC)  # same-zone subtraction in Python is wall-clock: use UTC
    if seconds <= 0:
        return start
    if calendar is None:
        return start + timedelta(seconds=seconds)
    left = seconds
    for begin, finish in calendar.windows_from(start):
        begin = max(begin, start)
        available = (finish - begin).total_seconds()
        if left <= available:
            return begin + timedelta(seconds=left)
        left -= available
    raise AssertionError("unreachable: windows_from raises first")


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping spans; an open span (end None) swallows everything after it."""
    merged: list[Span] = []
    for begin, end in sorted(spans, key=lambda s: s[0]):
        if merged and (merged[-1][1] is None or begin <= merged[-1][1]):
            last_begin, last_end = merged[-1]
            merged[-1] = (last_begin, None if end is None or last_end is None
                          else max(last_end, end))
        else:
            merged.append((begin, end))
    return merged


def counted_seconds(calendar: Calendar | None, start: datetime, end: datetime,
                    pauses: Iterable[Span] = ()) -> float:
    """Working seconds in [start, end) less the paused spans."""
    total = business_seconds(calendar, start, end)
    for begin, finish in merge_spans(pauses):
        finish = end if finish is None else min(finish, end)
        total -= business_seconds(calendar, max(begin, start), finish)
    return max(total, 0.0)


def due_after(calendar: Calendar | None, start: datetime, seconds: float,
              pauses: Iterable[Span] = ()) -> datetime | None:
    """When `seconds` of working time, not counting paused spans, have passed since `start`;
    None while an open pause stops the clock before then."""
    cursor, left = start.astimezone(UTC), seconds
    for begin, finish in merge_spans(pauses):
        if finish is not None and finish <= cursor:
            continue
        if begin > cursor:
            candidate = add_business_seconds(calendar, cursor, left)
            if candidate <= begin:
                return candidate
            left -= business_seconds(calendar, cursor, begin)
        if finish is None:
            return None
        cursor = max(cursor, finish)
    return add_business_seconds(calendar, cursor, left)
