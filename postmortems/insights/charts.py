"""A small SVG chart writer for the insights page: horizontal bars for categories, stacked
columns and lines for weekly series.

Charts are drawn on the server so they need no JavaScript and no CDN and read the same in every
browser, printed or saved. Each is an <svg> with a viewBox and width 100%: it shrinks to a phone
without sideways scroll. Every label is escaped (service and team names are people's text), and
the numbers drawn are also in a table beside each chart, so the chart is never the only way to
read them.
"""

import math
from dataclasses import dataclass
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 400
FONT = 12
SMALL = 11
INK = "#1d2330"
MUTED = "#667085"
GRID = "#dde1e7"
# Distinct on white and for the common colour-vision deficiencies (Okabe–Ito, darkened).
PALETTE = ("#2f5bea", "#d55e00", "#009e73", "#cc79a7", "#0072b2", "#e69f00")
LABEL_MAX = 22
EMPTY = "No data in this range"

_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: list  # numbers or None (nothing to draw), one per label
    color: str = PALETTE[0]


def scale(maximum: float, ticks: int = 4, *, whole: bool = False) -> tuple[float, float]:
    """(top of the axis, step between ticks): the smallest 1-2-2.5-5 step whose `ticks` steps
    reach `maximum`. Counts (`whole`) get whole steps."""
    if maximum <= 0:
        return float(ticks), 1.0
    magnitude = 10 ** math.floor(math.log10(maximum / ticks))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if whole and (step < 1 or step != int(step)):
            continue
        if step * ticks >= maximum:
            return step * ticks, step
    return 10 * magnitude * ticks, 10 * magnitude  # not reached: 10× always covers


def number(value) -> str:
    """12 → "12", 12.5 → "12.5", 12.25 → "12.3"."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def short(label: str, limit: int = LABEL_MAX) -> str:
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def hbars(title: str, desc: str, labels: list[str], series: list[Series], *,
          whole: bool = True) -> SafeString:
    """One row per label, one bar per series in it, the value at each bar's end."""
    if not labels or not any(v for s in series for v in s.values):
        return empty(title, desc)
    left, right, top = 150, WIDTH - 34, 26 + _legend_height(series)
    bar, gap = 10, 8
    row = bar * len(series) + gap
    height = top + row * len(labels) + 6
    high, step = scale(max(v or 0 for s in series for v in s.values), whole=whole)
    x = _linear(0, high, left, right)
    parts = _axis_x(x, high, step, top - 4, height - 4) + _legend(series, 0)
    for i, label in enumerate(labels):
        y = top + i * row
        parts.append(_text(left - 6, y + row / 2 + 1, short(label), anchor="end", title=label))
        for j, s in enumerate(series):
            value = s.values[i] or 0
            by = y + j * bar + gap / 2
            width = x(value) - left
            parts.append(f'<rect x="{left}" y="{by:.1f}" width="{width:.1f}" height="{bar - 1}" '
                         f'fill="{s.color}"><title>{escape(label)} · {escape(s.name)}: '
                         f'{number(value)}</title></rect>')
            parts.append(_text(x(value) + 3, by + bar - 2, number(value), size=SMALL - 1,
                               color=MUTED))
    return _svg(title, desc, height, parts)


def columns(title: str, desc: str, labels: list[str], series: list[Series]) -> SafeString:
    """Stacked columns, one per label (a week), series stacked bottom-up in order."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return empty(title, desc)
    area = _Area(labels, series, max(totals), whole=True)
    parts = area.frame()
    width = max(1.0, area.band * 0.7)
    for i, label in enumerate(labels):
        base = 0
        cx = area.cx(i)
        for s in series:
            value = s.values[i] or 0
            if value:
                y0, y1 = area.y(base), area.y(base + value)
                parts.append(f'<rect x="{cx - width / 2:.1f}" y="{y1:.1f}" width="{width:.1f}" '
                             f'height="{y0 - y1:.1f}" fill="{s.color}"><title>{escape(label)} · '
                             f'{escape(s.name)}: {number(value)}</title></rect>')
            base += value
    return _svg(title, desc, area.height, parts)


def lines(title: str, desc: str, labels: list[str], series: list[Series]) -> SafeString:
    """A line per series across the labels (weeks); a gap where a value is None."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return empty(title, desc)
    area = _Area(labels, series, max(values), whole=False)
    parts = area.frame()
    for s in series:
        run: list[str] = []
        for i, value in enumerate([*s.values, None]):
            if value is not None:
                run.append(f"{area.cx(i):.1f},{area.y(value):.1f}")
                parts.append(f'<circle cx="{area.cx(i):.1f}" cy="{area.y(value):.1f}" r="2.5" '
                             f'fill="{s.color}"><title>{escape(labels[i])} · {escape(s.name)}: '
                             f'{number(value)}</title></circle>')
            elif run:
                if len(run) > 1:
                    parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                                 f'stroke="{s.color}" stroke-width="2"/>')
                run = []
    return _svg(title, desc, area.height, parts)


def empty(title: str, desc: str) -> SafeString:
    parts = [_text(WIDTH / 2, 44, EMPTY, anchor="middle", color=MUTED)]
    return _svg(title, f"{desc} {EMPTY}.", 80, parts)


class _Area:
    """The plot area of a weekly chart: y axis with ticks on the left, labels below."""

    left, right, bottom_space = 40, WIDTH - 8, 22

    def __init__(self, labels, series, maximum, *, whole):
        self.labels, self.series = labels, series
        self.top = 10 + _legend_height(series)
        self.height = self.top + 150 + self.bottom_space
        self.high, self.step = scale(maximum, whole=whole)
        self.band = (self.right - self.left) / len(labels)
        self.y = _linear(0, self.high, self.height - self.bottom_space, self.top)

    def cx(self, i: int) -> float:
        return self.left + self.band * (i + 0.5)

    def frame(self) -> list[str]:
        parts = _legend(self.series, 0)
        ticks = round(self.high / self.step)
        for k in range(ticks + 1):
            value = k * self.step
            y = self.y(value)
            parts.append(f'<line x1="{self.left}" x2="{self.right}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{GRID}"/>')
            parts.append(_text(self.left - 4, y + 4, number(value), anchor="end", size=SMALL,
                               color=MUTED))
        every = max(1, math.ceil(len(self.labels) * 44 / (self.right - self.left)))
        base = self.height - self.bottom_space
        for i, label in enumerate(self.labels):
            if i % every == 0:
                parts.append(_text(self.cx(i), base + 15, label, anchor="middle", size=SMALL,
                                   color=MUTED))
        return parts


def _linear(low, high, start, end):
    span = (high - low) or 1
    return lambda value: start + (end - start) * (value - low) / span


def _axis_x(x, high, step, top, bottom) -> list[str]:
    parts = []
    for k in range(round(high / step) + 1):
        value = k * step
        parts.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{bottom}" '
                     f'stroke="{GRID}"/>')
        parts.append(_text(x(value), top - 3, number(value), anchor="middle", size=SMALL,
                           color=MUTED))
    return parts


def _legend_height(series) -> int:
    return 18 if len(series) > 1 else 0


def _legend(series, y) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], 4
    for s in series:
        parts.append(f'<rect x="{x}" y="{y + 3}" width="10" height="10" fill="{s.color}"/>')
        parts.append(_text(x + 14, y + 12, short(s.name, 18), size=SMALL))
        x += 22 + 6.5 * len(short(s.name, 18))
    return parts


def _text(x, y, text, *, anchor="start", size=FONT, color=INK, title=None) -> str:
    hover = f"<title>{escape(title)}</title>" if title and title != text else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" '
            f'text-anchor="{anchor}">{hover}{escape(text)}</text>')


def _svg(title: str, desc: str, height: float, parts: list[str]) -> SafeString:
    key = next(_ids)
    return mark_safe(  # noqa: S308 - every piece of text above went through escape()
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-label="{escape(title)}" aria-describedby="chart-desc-{key}" '
        f'font-family="system-ui, sans-serif" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(title)}</title><desc id="chart-desc-{key}">{escape(desc)}</desc>'
        + "".join(parts) + "</svg>")
