"""Who is on call, as plain functions over plain data (no database), so they can be tested
exhaustively and reused by pages, feeds and escalation alike.

Rotations are defined in a schedule's wall-clock time. Converting wall time to instants follows
the rules people expect across daylight saving:
- a shift starts at the first occurrence of an ambiguous wall time and ends at the last;
- a wall time in a skipped hour moves to the next valid minute;
- N-hour turns are counted in wall-clock hours, so they stay aligned to the clock (the turn that
  spans a change is an hour shorter or longer).
Consecutive turns of one rotation hand over at a single instant (the incoming turn's start), so a
layer never has two people at once.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

START, END = "start", "end"
UNITS = {"hours": timedelta(hours=1), "days": timedelta(days=1), "weeks": timedelta(weeks=1)}
# Turns are found by arithmetic, then corrected by at most a few steps; this bounds the loop.
_MAX_CORRECTION = 8


@dataclass(frozen=True)
class Restriction:
    """On call only inside a daily window, optionally on some weekdays (0 = Monday) only.
    A window whose end is not after its start runs past midnight; equal ends mean a whole day."""

    start: time = time(0)
    end: time = time(0)
    weekdays: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Rotation:
    participants: tuple
    anchor: datetime  # naive wall-clock start of the first turn
    unit: str = "weeks"
    length: int = 1
    restriction: Restriction | None = None
    name: str = ""

    @property
    def step(self) -> timedelta:
        return UNITS[self.unit] * self.length


@dataclass(frozen=True)
class Override:
    who: object
    start: datetime  # aware
    end: datetime  # aware


@dataclass(frozen=True)
class ScheduleSpec:
    tz: ZoneInfo
    layers: tuple[Rotation, ...] = ()  # bottom first; later layers win
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Shift:
    who: object
    start: datetime
    end: datetime
    source: str = field(default="", compare=False)  # layer name or "override"


# --- Wall clock to instants -------------------------------------------------------------------

def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def _next_valid_minute(wall: datetime, tz: ZoneInfo) -> datetime:
    wall = wall.replace(second=0, microsecond=0)
    while not _exists(wall, tz):
        wall += timedelta(minutes=1)
    return wall


def to_instant(wall: datetime, tz: ZoneInfo, edge: str = START) -> datetime:
    """The UTC instant of a wall-clock time in tz, by the daylight-saving rules above."""
    if not _exists(wall, tz):
        wall = _next_valid_minute(wall, tz)
    fold = 1 if edge == END else 0
    return wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)


def to_wall(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(tzinfo=None)


# --- One rotation -----------------------------------------------------------------------------

def _turn_start(rotation: Rotation, k: int, tz: ZoneInfo) -> datetime:
    return to_instant(rotation.anchor + k * rotation.step, tz, START)


def _turn_at(rotation: Rotation, at: datetime, tz: ZoneInfo) -> int:
    """Index of the turn whose [start, next start) holds `at` (negative before the anchor)."""
    k = (to_wall(at, tz) - rotation.anchor) // rotation.step
    for _ in range(_MAX_CORRECTION):
        if at < _turn_start(rotation, k, tz):
            k -= 1
        elif at >= _turn_start(rotation, k + 1, tz):
            k += 1
        else:
            return k
    return k


def turns(rotation: Rotation, tz: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The rotation's turns overlapping [start, end), clipped to it, ignoring restrictions."""
    if not rotation.participants or start >= end:
        return []
    k = max(_turn_at(rotation, start, tz), 0)
    shifts = []
    while True:
        begin, finish = _turn_start(rotation, k, tz), _turn_start(rotation, k + 1, tz)
        if begin >= end:
            return shifts
        if finish > begin and finish > start:  # a turn can vanish inside a skipped hour
            who = rotation.participants[k % len(rotation.participants)]
            shifts.append(Shift(who, max(begin, start), min(finish, end), rotation.name))
        k += 1


def restriction_windows(restriction: Restriction, tz: ZoneInfo, start: datetime,
                        end: datetime) -> list[tuple[datetime, datetime]]:
    """Instants the restriction allows within [start, end), merged where windows touch."""
    first = to_wall(start, tz).date() - timedelta(days=1)
    last = to_wall(end, tz).date()
    windows = []
    day = first
    while day <= last:
        if not restriction.weekdays or day.weekday() in restriction.weekdays:
            windows.append(_window(restriction, tz, day))
        day += timedelta(days=1)
    clipped = [(max(a, start), min(b, end)) for a, b in windows if b > start and a < end]
    return _merge_intervals(clipped)


def _window(restriction: Restriction, tz: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    begin = datetime.combine(day, restriction.start)
    finish = datetime.combine(day, restriction.end)
    if finish <= begin:
        finish += timedelta(days=1)
    return to_instant(begin, tz, START), to_instant(finish, tz, END)


def _merge_intervals(intervals):
    merged = []
    for a, b in sorted(intervals):
        if a >= b:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def layer_shifts(rotation: Rotation, tz: ZoneInfo, start: datetime,
                 end: datetime) -> list[Shift]:
    """Who this layer puts on call within [start, end): its turns cut to its restriction."""
    shifts = turns(rotation, tz, start, end)
    if rotation.restriction is None:
        return shifts
    windows = restriction_windows(rotation.restriction, tz, start, end)
    cut = []
    for shift in shifts:
        for a, b in windows:
            lo, hi = max(a, shift.start), min(b, shift.end)
            if lo < hi:
                cut.append(Shift(shift.who, lo, hi, shift.source))
    return cut


# --- The final schedule -----------------------------------------------------------------------

def final_shifts(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """The schedule as people live it within [start, end): overrides over the top layer over the
    layers below. Adjacent pieces for the same person are joined; gaps stay gaps."""
    sources = [layer_shifts(layer, spec.tz, start, end) for layer in spec.layers]
    sources.append([Shift(o.who, max(o.start, start), min(o.end, end), "override")
                    for o in spec.overrides if o.start < end and o.end > start])
    cuts = sorted({t for shifts in sources for s in shifts for t in (s.start, s.end)})
    pieces = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        winner = _top_covering(sources, a)
        if winner is not None:
            pieces.append(Shift(winner.who, a, b, winner.source))
    return _join(pieces)


def _top_covering(sources, at: datetime) -> Shift | None:
    for shifts in reversed(sources):
        for shift in shifts:
            if shift.start <= at < shift.end:
                return shift
    return None


def _join(pieces: list[Shift]) -> list[Shift]:
    joined: list[Shift] = []
    for piece in pieces:
        last = joined[-1] if joined else None
        if last and last.who == piece.who and last.end == piece.start:
            joined[-1] = Shift(last.who, last.start, piece.end, last.source)
        else:
            joined.append(piece)
    return joined


def who_is_on_call(spec: ScheduleSpec, at: datetime):
    """The person on call at `at`, or None when the schedule has a gap there."""
    shifts = final_shifts(spec, at, at + timedelta(microseconds=1))
    return shifts[0].who if shifts else None


def gaps(spec: ScheduleSpec, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Periods within [start, end) when nobody is on call."""
    holes, cursor = [], start
    for shift in final_shifts(spec, start, end):
        if shift.start > cursor:
            holes.append((cursor, shift.start))
        cursor = max(cursor, shift.end)
    if cursor < end:
        holes.append((cursor, end))
    return holes
