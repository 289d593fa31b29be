"""The status page in HTML: the page itself, its monthly history, incident and maintenance pages
(public), and the internal page (staff).

Public pages are rendered without the request (no context processors, no CSRF token, no user),
so their bytes are the same for everyone, and answered through cache.cached: a warm request runs
no query. What a view needs before it can pick a cache key (the page's time zone, which codes
exist, the logo's origin for the CSP) is remembered per cache generation for the same reason.
An unknown code answers a cached 404 without a query; a code that exists but is not shown (a
restricted incident) gets its own cached 404, one per existing code at most.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import wraps
from time import time as wall_time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from comms.models import ComponentStatus, Maintenance, PublicIncident
from comms.status import cache, public, uptime

HTML = "text/html; charset=utf-8"
FIRST_YEAR = 2000  # history months before this are not a page (404)


@dataclass(frozen=True)
class Branding:
    name: str
    about: str
    logo_url: str
    logo_origin: str
    accent: str
    support_url: str
    tz: ZoneInfo

    def today(self) -> date:
        return timezone.localtime(timezone.now(), self.tz).date()


def _load_branding() -> Branding:
    page = public.page()
    origin = ""
    if page.logo_url:
        parts = urlsplit(page.logo_url)
        origin = f"{parts.scheme}://{parts.netloc}"
    return Branding(name=page.name, about=page.about, logo_url=page.logo_url, logo_origin=origin,
                    accent=page.accent_colour, support_url=page.support_url,
                    tz=ZoneInfo(page.time_zone))


def branding() -> Branding:
    return cache.remembered("branding", _load_branding)


def allows_logo(view):
    """The page's logo may come from its own origin: django-csp's csp_update adds it to img-src
    on this response only (the origin is data, so the decorator is applied per response)."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        origin = branding().logo_origin
        if origin:
            response = csp_update({"img-src": [origin]})(lambda: response)()
        return response
    return wrapped


# --- Public pages -------------------------------------------------------------------------------

@require_safe
@allows_logo
def page(request):
    brand = branding()
    return cache.cached(request, _page_key(brand.tz),
                        lambda: _html("status/page.html", _page_context(brand)))


_page_keys: dict[tuple[int, str], str] = {}


def _page_key(zone: ZoneInfo) -> str:
    """Keyed by the local hour as well: today's uptime bar grows while nothing else changes.
    Worked out once a minute, not per request (it is on the stampede's path)."""
    minute = int(wall_time() // 60)
    found = _page_keys.get((minute, zone.key))
    if found is None:
        _page_keys.clear()
        found = f"page:{timezone.localtime(timezone.now(), zone):%Y-%m-%dT%H}"
        _page_keys[(minute, zone.key)] = found
    return found


@require_safe
@allows_logo
def history(request):
    today = branding().today()
    return _history(request, today.year, today.month)


@require_safe
@allows_logo
def history_month(request, year: int, month: int):
    today = branding().today()
    if not 1 <= month <= 12 or not (FIRST_YEAR, 1) <= (year, month) <= (today.year, today.month):
        return _not_found(request)
    return _history(request, year, month)


@require_safe
@allows_logo
def incident(request, code: str):
    codes = cache.remembered("incident-codes", lambda: frozenset(
        PublicIncident.objects.values_list("code", flat=True)))
    if code not in codes:
        return _not_found(request)

    def render_incident():
        view = public.incident(code)
        if view is None:  # exists, but is not shown (restricted)
            return _not_found_body()
        return _html("status/incident.html", {**_base(branding()), "incident": view})
    return cache.cached(request, f"incident:{code}", render_incident)


@require_safe
@allows_logo
def maintenance(request, code: str):
    codes = cache.remembered("maintenance-codes", lambda: frozenset(
        Maintenance.objects.values_list("code", flat=True)))
    if code not in codes:
        return _not_found(request)

    def render_maintenance():
        view = public.maintenance(code)
        if view is None:
            return _not_found_body()
        return _html("status/maintenance.html", {**_base(branding()), "maintenance": view})
    return cache.cached(request, f"maintenance:{code}", render_maintenance)


def _history(request, year: int, month: int):
    key = f"history:{year:04d}-{month:02d}"
    return cache.cached(request, key, lambda: _html(
        "status/history.html", _history_context(branding(), year, month)))


def _not_found(request):
    return cache.cached(request, "not-found", _not_found_body)


def _not_found_body():
    body, content_type = _html("status/not_found.html", _base(branding()))
    return body, content_type, 404


def _html(template: str, context: dict) -> tuple[bytes, str]:
    return render_to_string(template, context).encode(), HTML


# --- What the pages show ------------------------------------------------------------------------

def _base(brand: Branding) -> dict:
    root = reverse("status:page")
    return {"brand": brand, "root": root, "history_url": reverse("status:history"),
            "atom_url": f"{root}history.atom", "rss_url": f"{root}history.rss",
            "subscribe_url": f"{root}subscribe/", "json_url": f"{root}api/v2/summary.json"}


def _page_context(brand: Branding, *, internal: bool = False) -> dict:
    rows = public.components(internal=internal)
    incidents = public.active_incidents()
    active = public.active_maintenances(internal=internal)
    return {**_base(brand), "overall": public.overall(rows, incidents, active),
            "groups": grouped(rows, uptime.bars(rows, brand.tz)), "incidents": incidents,
            "active_maintenances": active,
            "upcoming_maintenances": public.upcoming_maintenances(internal=internal),
            "days": uptime.DAYS}


@dataclass
class GroupRow:
    name: str  # "" for components outside any group
    description: str
    status: str  # its worst component's
    components: list  # [(component, Uptime)]

    @property
    def status_label(self) -> str:
        return ComponentStatus(self.status).label


def grouped(rows: list, bars: dict) -> list[GroupRow]:
    """Components in their groups, in the order public.components() gives them."""
    groups: list[GroupRow] = []
    for component in rows:
        name = component.group.name if component.group else ""
        if not groups or groups[-1].name != name:
            groups.append(GroupRow(name, component.group.description if component.group else "",
                                   component.status, []))
        group = groups[-1]
        group.components.append((component, bars[component.pk]))
        group.status = public.worst_status([group.status, component.status])
    return groups


def month_bounds(tz: ZoneInfo, year: int, month: int) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in UTC."""
    following = (year + month // 12, month % 12 + 1)
    start = datetime.combine(date(year, month, 1), time.min, tzinfo=tz)
    end = datetime.combine(date(*following, 1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _history_context(brand: Branding, year: int, month: int) -> dict:
    start, end = month_bounds(brand.tz, year, month)
    today = brand.today()
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return {**_base(brand), "month": date(year, month, 1),
            "incidents": public.incidents_between(start, end),
            "maintenances": public.maintenances_between(start, end),
            "previous": (reverse("status:history-month", args=previous)
                         if previous >= (FIRST_YEAR, 1) else None),
            "next": (reverse("status:history-month", args=following)
                     if following <= (today.year, today.month) else None)}


# --- The internal page --------------------------------------------------------------------------

@require_safe
@login_required
@permission_required("comms.view_component", raise_exception=True)
def internal(request):
    """Staff see every component, internal-only ones too; never kept by a shared cache."""
    response = render(request, "status/internal.html",
                      _page_context(branding(), internal=True))
    patch_cache_control(response, private=True, no_store=True)
    return response
