"""The SVG chart writer: accessible markup, escaping, empty data, scales and gaps."""

import re
from xml.etree import ElementTree

import pytest

from postmortems.insights import charts
from postmortems.insights.charts import Series

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(svg))  # well-formed XML, or this raises


def texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in parse(svg).iter(f"{SVG}text")]


def test_chart_is_an_accessible_scalable_image():
    svg = charts.hbars("Incidents by service", "Incidents per service.", ["Checkout", "Auth"],
                       [Series("Incidents", [3, 1])])
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Incidents by service"
    # As wide as its card, text at a fixed size: no viewBox scaling the text down on a phone.
    assert root.get("width") == "100%" and root.get("viewBox") is None
    assert re.fullmatch(r"\d+", root.get("height"))
    assert root.find(f"{SVG}title").text == "Incidents by service"
    desc = root.find(f"{SVG}desc")
    assert desc.text == "Incidents per service." and root.get("aria-describedby") == desc.get("id")


def test_bars_carry_labels_values_and_a_numbered_axis():
    svg = charts.hbars("t", "d", ["Checkout", "Auth"], [Series("Incidents", [3, 1])])
    labels = texts(svg)
    assert "Checkout" in labels and "Auth" in labels
    # Axis 0–3 in whole steps, and each bar's value at its end.
    for tick in ("0", "1", "2", "3"):
        assert tick in labels
    assert "4" not in labels
    widths = [float(r.get("width").rstrip("%")) for r in parse(svg).iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.01)
    # The whole axis (three steps of one), from 42 % to 86 % of the width.
    assert widths[0] == pytest.approx(86 - 42, abs=0.01)


def test_labels_are_escaped():
    hostile = '<script>alert("x")</script> & "quotes"'
    for svg in (charts.hbars(hostile, hostile, [hostile], [Series(hostile, [2])]),
                charts.columns(hostile, hostile, [hostile], [Series(hostile, [2])]),
                charts.lines(hostile, hostile, [hostile], [Series(hostile, [2])])):
        assert "<script" not in svg
        assert "&lt;script&gt;" in svg
        parse(svg)


def test_long_labels_are_shortened_with_the_full_name_kept():
    name = "A very long service name that would not fit"
    svg = charts.hbars("t", "d", [name], [Series("n", [1])])
    label = next(t for t in parse(svg).iter(f"{SVG}text") if t.find(f"{SVG}title") is not None)
    title = label.find(f"{SVG}title")
    assert title.text == name  # what a pointer shows
    assert title.tail == "A very long s…" == charts.short(name)


@pytest.mark.parametrize(("draw", "labels", "values"), [
    (draw, labels, values)
    for draw in (charts.hbars, charts.columns, charts.lines)
    for labels, values in (([], []), (["W1"], [None]), (["W1", "W2"], [None, None]))
] + [(charts.hbars, ["a", "b"], [0, 0]), (charts.columns, ["W1", "W2"], [0, 0])])
def test_empty_data_says_so(draw, labels, values):
    svg = draw("Pages", "Pages per person.", labels, [Series("Pages", values)])
    assert texts(svg) == [charts.EMPTY]
    assert "Pages per person. No data in this range." in svg
    assert parse(svg).get("role") == "img"


def test_a_line_of_zeros_is_data():
    # Zero minutes to acknowledge is a figure, not an absence of one.
    svg = charts.lines("t", "d", ["W1", "W2"], [Series("median", [0, 0])])
    assert charts.EMPTY not in svg
    assert len(list(parse(svg).iter(f"{SVG}polyline"))) == 1


@pytest.mark.parametrize(("maximum", "whole", "expected"), [
    (0, True, (4.0, 1.0)),
    (1, True, (3, 1)),  # whole steps: 0, 1, 2, 3
    (3, True, (3, 1)),
    (7, True, (8, 2)),
    (9, True, (10, 2)),  # five steps of 2 rather than four of 5
    (100, True, (100, 25)),
    (1234, True, (1250, 250)),
    (1, False, (1.0, 0.25)),
    (17.5, False, (20, 5)),
    (0.3, False, (0.3, 0.1)),
    (86400, False, (100000, 25000)),
])
def test_scale_steps_are_round(maximum, whole, expected):
    top, step = charts.scale(maximum, whole=whole)
    assert (top, step) == pytest.approx(expected)
    assert top >= maximum


def test_stacked_columns_stack_in_order():
    svg = charts.columns("t", "d", ["2 Mar", "9 Mar"],
                         [Series("P1", [1, 0], "#b42318"), Series("P2", [2, 3], "#dc6803")])
    rects = [r for r in parse(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [r.find(f"{SVG}title").text for r in rects] == [
        "2 Mar · P1: 1", "2 Mar · P2: 2", "9 Mar · P2: 3"]
    # P2 of the first week sits on top of P1: its bottom is P1's top.
    p1, p2 = rects[0], rects[1]
    assert float(p2.get("y")) + float(p2.get("height")) == pytest.approx(float(p1.get("y")),
                                                                         abs=0.1)
    assert "P1" in texts(svg) and "P2" in texts(svg)  # the legend


def test_lines_break_where_a_week_has_no_value():
    svg = charts.lines("t", "d", ["a", "b", "c", "d", "e"],
                       [Series("median", [1.5, 2, None, 4, 5])])
    polylines = list(parse(svg).iter(f"{SVG}polyline"))
    assert [len(p.get("points").split()) for p in polylines] == [2, 2]
    assert len(list(parse(svg).iter(f"{SVG}circle"))) == 4


def test_numbers_are_short():
    assert charts.number(12.0) == "12" and charts.number(12.26) == "12.3"
    assert charts.number(None) == "—" and charts.number(3) == "3"


def test_wide_tick_labels_get_fewer_steps():
    # 0, 250, 500, 750, 1000 would run into each other on a phone: 0, 500, 1000.
    ticks = [t for t in texts(charts.hbars("t", "d", ["a"], [Series("n", [813])]))
             if t.isdigit()]
    assert ticks == ["0", "500", "1000", "813"]
