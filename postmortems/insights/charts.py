"""A small SVG chart writer for the insights page: horizontal bars for categories, stacked
columns and lines for weekly series.

Charts are drawn on the server so they need no JavaScript and no CDN and read the same in every
browser, printed or saved. Each is an <svg> 100% wide with a fixed height. Horizontal positions
are percentages of that width and text has a fixed size, so a chart fills a phone or a wide
card alike and its text stays readable: a viewBox would scale the text with the chart (a chart
legible in a wide card is unreadable on a phone). Lines are drawn in a nested viewport stretched
to the plot area (their stroke does not stretch).

Every label is escaped (service and team names are people's text), and the numbers drawn are
also in a table beside each chart, so the chart is never the only way to read them.
"""

import math
from dataclasses import dataclass
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = 12
SMALL = 11
CHAR = 6.6  # average advance of a character at FONT, in px, to lay out legends
NARROWEST = 280  # px: the width of a chart on a phone, for what must fit there
INK = "#1d2330"
MUTED = "#667085"
GRID = "#dde1e7"
# Distinct on white and for the common colour-vision deficiencies (Okabe–Ito, darkened).
PALETTE = ("#2f5bea", "#d55e00", "#009e73", "#cc79a7", "#0072b2", "#e69f00")
LABEL_MAX = 14  # characters: what fits left of the bars on a phone
EMPTY = "No data in this range"

_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: list  # numbers or None (nothing to draw), one per label
    color: str = PALETTE[0]


def scale(maximum: float, ticks: int = 4, *, whole: bool = False) -> tuple[float, float]:
    """(top of the axis, step between ticks): the lowest top that about `ticks` (±1) steps of
    1, 2, 2.5 or 5 × 10ⁿ reach from 0 to `maximum`. Counts (`whole`) get whole steps."""
    if maximum <= 0:
        return float(ticks), 1.0
    tops = [_steps(maximum, n, whole) for n in (ticks, ticks + 1, ticks - 1) if n >= 2]
    return min(tops, key=lambda top_step: top_step[0])  # the first of equals: `ticks` steps


def _steps(maximum: float, ticks: int, whole: bool) -> tuple[float, float]:
    magnitude = 10 ** math.floor(math.log10(maximum / ticks))
    for multiple in (1, 2, 2.5, 5, 10, 20):
        step = multiple * magnitude
        if whole and (step < 1 or step != int(step)):
            continue
        if step * ticks >= maximum:
            return step * ticks, step
    raise AssertionError("unreachable: 20 × 10ⁿ steps always reach the maximum")


def number(value) -> str:
    """12 → "12", 12.5 → "12.5", 12.26 → "12.3"."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def short(label: str, limit: int = LABEL_MAX) -> str:
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1] + "…"


# --- horizontal bars -----------------------------------------------------------------------------

# Percent of the width: labels end at LABEL_END, bars run from PLOT_START to PLOT_END, the value
# follows the bar's end.
LABEL_END, PLOT_START, PLOT_END = 40, 42, 86


def hbars(title: str, desc: str, labels: list[str], series: list[Series], *,
          whole: bool = True) -> SafeString:
    """One row per label, one bar per series in it, the value at each bar's end."""
    if not labels or not any(v for s in series for v in s.values):
        return empty(title, desc)
    legend, legend_height = _legend(series)
    top, bar, gap = legend_height + 24, 11, 8
    row = bar * len(series) + gap
    height = top + row * len(labels) + 4
    high, step = _bar_scale(max(v or 0 for s in series for v in s.values), whole)
    x = _linear(0, high, PLOT_START, PLOT_END)
    parts = legend
    for k in range(round(high / step) + 1):
        value = k * step
        parts.append(_vline(x(value), top - 4, height - 2))
        parts.append(_text(x(value), top - 8, number(value), anchor="middle", size=SMALL,
                           color=MUTED))
    for i, label in enumerate(labels):
        y = top + i * row
        parts.append(_text(LABEL_END, y + row / 2 + 4, short(label), anchor="end", title=label))
        for j, s in enumerate(series):
            value = s.values[i] or 0
            by = y + gap / 2 + j * bar
            width = x(value) - PLOT_START
            parts.append(f'<rect x="{PLOT_START}%" y="{by:.1f}" width="{width:.2f}%" '
                         f'height="{bar - 1}" fill="{s.color}"><title>{escape(label)} · '
                         f'{escape(s.name)}: {number(value)}</title></rect>')
            parts.append(_text(x(value), by + bar - 2, number(value), size=SMALL - 1,
                               color=MUTED, dx=3))
    return _svg(title, desc, height, parts)


def _bar_scale(maximum: float, whole: bool) -> tuple[float, float]:
    """Four steps, or two when four tick labels would run into each other on a phone."""
    room = NARROWEST * (PLOT_END - PLOT_START) / 100
    high, step = scale(maximum, whole=whole)
    if len(number(high)) * 7 + 6 > room / 4:
        high, step = scale(maximum, 2, whole=whole)
    return high, step


# --- weekly columns and lines --------------------------------------------------------------------


class _Area:
    """The plot area of a weekly chart: y axis with ticks on the left, labels below."""

    left, right, plot_height, below = 9.0, 99.0, 150, 20

    def __init__(self, labels, series, maximum, *, whole):
        self.labels = labels
        self.legend, legend_height = _legend(series)
        self.top = legend_height + 8
        self.base = self.top + self.plot_height
        self.height = self.base + self.below
        self.high, self.step = scale(maximum, whole=whole)
        self.band = (self.right - self.left) / len(labels)
        self.y = _linear(0, self.high, self.base, self.top)

    def cx(self, i: int) -> float:
        return self.left + self.band * (i + 0.5)

    def frame(self) -> list[str]:
        parts = list(self.legend)
        for k in range(round(self.high / self.step) + 1):
            value = k * self.step
            y = self.y(value)
            parts.append(f'<line x1="{self.left}%" x2="{self.right}%" y1="{y:.1f}" '
                         f'y2="{y:.1f}" stroke="{GRID}"/>')
            parts.append(_text(self.left, y + 4, number(value), anchor="end", size=SMALL,
                               color=MUTED, dx=-4))
        # As many week labels as fit on a phone (about 40 px each).
        room = NARROWEST * (self.right - self.left) / 100
        every = max(1, math.ceil(len(self.labels) * 40 / room))
        for i, label in enumerate(self.labels):
            if i % every == 0:
                parts.append(_text(self.cx(i), self.base + 15, label, anchor="middle",
                                   size=SMALL, color=MUTED))
        return parts


def columns(title: str, desc: str, labels: list[str], series: list[Series]) -> SafeString:
    """Stacked columns, one per label (a week), series stacked bottom-up in order."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return empty(title, desc)
    area = _Area(labels, series, max(totals), whole=True)
    parts = area.frame()
    width = area.band * 0.7
    for i, label in enumerate(labels):
        base = 0
        for s in series:
            value = s.values[i] or 0
            if value:
                y0, y1 = area.y(base), area.y(base + value)
                parts.append(f'<rect x="{area.cx(i) - width / 2:.2f}%" y="{y1:.1f}" '
                             f'width="{width:.2f}%" height="{y0 - y1:.1f}" fill="{s.color}">'
                             f'<title>{escape(label)} · {escape(s.name)}: {number(value)}'
                             f'</title></rect>')
            base += value
    return _svg(title, desc, area.height, parts)


def lines(title: str, desc: str, labels: list[str], series: list[Series]) -> SafeString:
    """A line per series across the labels (weeks); a gap where a value is None."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return empty(title, desc)
    area = _Area(labels, series, max(values), whole=False)
    parts = area.frame()
    # The lines' viewport spans the plot area: x 0–1000 across it, y in the chart's own px.
    parts.append(f'<svg x="{area.left}%" y="0" width="{area.right - area.left}%" '
                 f'height="{area.height}" viewBox="0 0 1000 {area.height}" '
                 'preserveAspectRatio="none">')
    for s in series:
        run: list[str] = []
        for i, value in enumerate([*s.values, None]):
            if value is not None:
                run.append(f"{1000 * (i + 0.5) / len(labels):.1f},{area.y(value):.1f}")
            elif run:
                if len(run) > 1:
                    parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                                 f'stroke="{s.color}" stroke-width="2" '
                                 'vector-effect="non-scaling-stroke"/>')
                run = []
    parts.append("</svg>")
    for s in series:
        for i, value in enumerate(s.values):
            if value is not None:
                parts.append(f'<circle cx="{area.cx(i):.2f}%" cy="{area.y(value):.1f}" r="3" '
                             f'fill="{s.color}"><title>{escape(labels[i])} · {escape(s.name)}: '
                             f'{number(value)}</title></circle>')
    return _svg(title, desc, area.height, parts)


def empty(title: str, desc: str) -> SafeString:
    parts = [_text(50, 34, EMPTY, anchor="middle", color=MUTED)]
    return _svg(title, f"{desc} {EMPTY}.", 56, parts)


# --- pieces --------------------------------------------------------------------------------------


def _linear(low, high, start, end):
    span = (high - low) or 1
    return lambda value: start + (end - start) * (value - low) / span


def _vline(x: float, top: float, bottom: float) -> str:
    return f'<line x1="{x:.2f}%" x2="{x:.2f}%" y1="{top}" y2="{bottom}" stroke="{GRID}"/>'


def _legend(series) -> tuple[list[str], int]:
    """Swatches and names (none for a single series), on one line when they fit on a phone,
    else one per line; with its height in px."""
    if len(series) < 2:
        return [], 0
    widths = [22 + CHAR * len(s.name) for s in series]
    one_line = sum(widths) <= NARROWEST
    parts, x, y = [], 0.0, 0
    for s, width in zip(series, widths, strict=True):
        parts.append(f'<rect x="{x + 1:.0f}" y="{y + 3}" width="10" height="10" '
                     f'fill="{s.color}"/>')
        parts.append(f'<text x="{x + 15:.0f}" y="{y + 12}" font-size="{SMALL}" fill="{INK}">'
                     f'{escape(s.name)}</text>')
        if one_line:
            x += width
        else:
            y += 16
    return parts, (18 if one_line else 16 * len(series) + 2)


def _text(x: float, y: float, text, *, anchor="start", size=FONT, color=INK, title=None,
          dx: float = 0) -> str:
    """Text at x percent of the width (shifted dx px) and y px."""
    hover = f"<title>{escape(title)}</title>" if title and title != text else ""
    shift = f' dx="{dx}"' if dx else ""
    return (f'<text x="{x:.2f}%" y="{y:.1f}"{shift} font-size="{size}" fill="{color}" '
            f'text-anchor="{anchor}">{hover}{escape(text)}</text>')


def _svg(title: str, desc: str, height: float, parts: list[str]) -> SafeString:
    key = next(_ids)
    return mark_safe(  # noqa: S308 - every piece of text above went through escape()
        f'<svg class="chart" width="100%" height="{height:.0f}" role="img" '
        f'aria-label="{escape(title)}" aria-describedby="chart-desc-{key}" '
        f'font-family="system-ui, sans-serif" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(title)}</title><desc id="chart-desc-{key}">{escape(desc)}</desc>'
        + "".join(parts) + "</svg>")
