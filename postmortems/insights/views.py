"""The insights page for leads and the CSV export of each of its charts.

Every chart is a Figure below: how to compute its table (postmortems.insights.figures) and how
to draw it (postmortems.insights.charts). The page and the exports read the same figures with
the same filters, so a CSV always holds the numbers its chart shows.
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from accounts.guards import has_role_perm
from config.spreadsheet import cell
from incidents.models import Severity
from incidents.permissions import VIEW
from postmortems.insights import charts, figures
from postmortems.insights.figures import Filters, Table
from postmortems.insights.forms import FilterForm

TOP = 12  # categories drawn; the table and the CSV have them all
SEVERITY_COLORS = {"P1": "#b42318", "P2": "#dc6803", "P3": "#ca8504", "P4": "#475467"}
GOOD, BAD, NEUTRAL, WARN = "#12855e", "#c9302c", "#98a2b3", "#dc6803"


@dataclass(frozen=True)
class Figure:
    slug: str
    title: str
    about: str
    compute: Callable  # (user, filters, today, memo) -> Table
    draw: Callable  # (title, table) -> list of SVG charts


def _week(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def _column(table: Table, name: str) -> list:
    index = table.columns.index(name)
    return [row[index] for row in table.rows]


def _draw_response(title: str, table: Table) -> list:
    labels = [_week(row[0]) for row in table.rows]
    drawn = []
    for what, label in (("MTTA", "Time to acknowledge"), ("MTTR", "Time to resolve")):
        series = [charts.Series(f"{label}, {p}", _column(table, f"{what} {p} (min)"), color)
                  for p, color in (("median", charts.PALETTE[0]), ("p90", charts.PALETTE[1]))]
        drawn.append(charts.lines(f"{label} in minutes, per week",
                                  f"{label} (median and 90th percentile) of the incidents "
                                  "that started each ISO week, in minutes.", labels, series))
    return drawn


def _draw_severity(title: str, table: Table) -> list:
    labels = [_week(row[0]) for row in table.rows]
    series = [charts.Series(s, _column(table, s), SEVERITY_COLORS[s]) for s in Severity.values]
    return [charts.columns(title, "Incidents that started each ISO week, stacked by severity.",
                           labels, series)]


def _bars(*names_colors: tuple[str, str], label: Callable = lambda row: row[0]) -> Callable:
    """A drawer of grouped horizontal bars: one bar per (column, colour), first TOP rows."""

    def draw(title: str, table: Table) -> list:
        rows = table.rows[:TOP]
        series = [charts.Series(name, [row[table.columns.index(name)] for row in rows], color)
                  for name, color in names_colors]
        shown = f" The first {TOP} of {len(table.rows)}." if len(table.rows) > TOP else ""
        return [charts.hbars(title, f"{title}.{shown}", [label(r) for r in rows], series)]

    return draw


def _sla(key: str) -> Callable:
    def compute(user, filters, today, memo):
        if "sla" not in memo:
            memo["sla"] = figures.sla(user, filters)
        return memo["sla"][key]

    return compute


def _simple(function: Callable) -> Callable:
    return lambda user, filters, today, memo: function(user, filters)


FIGURES = {f.slug: f for f in [
    Figure("response-times", "Time to acknowledge and to resolve",
           "Median and 90th percentile per ISO week (UTC), from the start of the incident.",
           _simple(figures.response_times), _draw_response),
    Figure("severity", "Incidents by severity", "Incidents that started each ISO week.",
           _simple(figures.by_severity), _draw_severity),
    Figure("services", "Incidents by service",
           "An incident on several services counts for each.",
           _simple(figures.by_service), _bars(("Incidents", charts.PALETTE[0]))),
    Figure("teams", "Incidents by team",
           "Through the incident's services; an incident on several teams' services counts "
           "for each.", _simple(figures.by_team), _bars(("Incidents", charts.PALETTE[4]))),
    Figure("sla-tiers", "SLA compliance by tier",
           "Clocks that started in the range, every team. Met % is of those met or breached.",
           _sla("tiers"), _bars(("Met", GOOD), ("Breached", BAD), ("Open", NEUTRAL))),
    Figure("sla-customers", "SLA compliance by customer",
           "Clocks that started in the range, every team, by the customer they are for.",
           _sla("customers"), _bars(("Met", GOOD), ("Breached", BAD), ("Open", NEUTRAL))),
    Figure("oncall", "On-call load",
           "Pages per person (each page is one person on one contact method).",
           _simple(figures.oncall_load),
           _bars(("Pages", charts.PALETTE[0]), ("Outside working hours", WARN),
                 ("In sleep hours", BAD))),
    Figure("alert-sources", "Noisiest alert sources",
           "Integrations by alert events (repeats of an alert count as events).",
           _simple(figures.alert_sources),
           _bars(("Events", charts.PALETTE[3]), ("Alerts", charts.PALETTE[0]),
                 label=lambda row: f"{row[0]} · {row[1]}")),
    Figure("alert-services", "Noisiest services", "Services by alert events.",
           _simple(figures.alert_services),
           _bars(("Events", charts.PALETTE[3]), ("Alerts", charts.PALETTE[0]))),
    Figure("action-items", "Action items",
           "Items created in the range and where they stand today; overdue: open past the due "
           "date.", lambda user, filters, today, memo: figures.action_items(user, filters, today),
           _bars(("Done", GOOD), ("Accepted", NEUTRAL), ("Open", charts.PALETTE[0]),
                 ("Overdue", BAD))),
]}


def _require_viewer(user) -> None:
    if not has_role_perm(user, VIEW):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")


def _filters(request, today: date) -> FilterForm:
    return FilterForm(request.GET or None, today=today)


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


@login_required
@require_GET
def index(request):
    """Every figure over the chosen days and team: a chart, its numbers and a CSV link each."""
    _require_viewer(request.user)
    today = _today()
    form = _filters(request, today)
    if form.is_bound and not form.is_valid():
        return render(request, "postmortems/insights/index.html", {"form": form}, status=400)
    chosen = form.filters()
    if not form.is_bound:
        form = FilterForm(initial={"start": chosen.start, "end": chosen.end}, today=today)
    memo: dict = {}
    cards = [_card(f, f.compute(request.user, chosen, today, memo), chosen)
             for f in FIGURES.values()]
    severity = next(card["table"] for card in cards if card["slug"] == "severity")
    incidents = sum(row[-1] for row in severity.rows)
    return render(request, "postmortems/insights/index.html", {
        "form": form, "filters": chosen, "cards": cards, "incidents": incidents,
        "working_hours": "Monday to Friday {}:00–{}:00".format(*settings.RELAY_WORKING_HOURS),
        "sleep_hours": "{}:00–{}:00".format(*settings.RELAY_SLEEP_HOURS),
        "working_tz": settings.RELAY_WORKING_HOURS_TZ})


def _card(figure: Figure, table: Table, filters: Filters) -> dict:
    url = reverse("insights:export", args=[figure.slug]) + "?" + urlencode(filters.params())
    return {"slug": figure.slug, "title": figure.title, "about": figure.about,
            "charts": figure.draw(figure.title, table), "table": table, "csv_url": url}


@login_required
@require_GET
def export(request, chart: str):
    """One chart's numbers as CSV, with the page's filters and permissions."""
    _require_viewer(request.user)
    figure = FIGURES.get(chart)
    if figure is None:
        raise Http404("No such chart.")
    today = _today()
    form = _filters(request, today)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(messages)}"
                           for name, messages in form.errors.items())
        return HttpResponse(f"Invalid filters. {errors}\n", status=400,
                            content_type="text/plain; charset=utf-8")
    chosen = form.filters()
    table = figure.compute(request.user, chosen, today, {})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"relay-{figure.slug}-{chosen.start:%Y%m%d}-{chosen.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows([cell(value) for value in row] for row in table.rows)
    return response

