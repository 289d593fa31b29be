"""The portal's navigation: every area, shown only to those its view lets in.

Each entry asks the same permission (or the same helper) its target view checks, so the menu
never offers a page that answers 403. config sits above the apps (like config/api_urls.py), so
it may read their permission constants; the apps never import this module."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from accounts.guards import has_role_perm
from comms.customers import views as customers
from comms.sla import views as sla
from comms.status import manage as status
from incidents import permissions as incidents
from oncall import permissions as oncall
from postmortems import permissions as postmortems


def _perm(name: str) -> Callable:
    return lambda user: has_role_perm(user, name)


@dataclass(frozen=True)
class Area:
    label: str
    url_name: str
    allowed: Callable
    primary: bool = False  # on the desktop bar itself; the rest sit under "More"


AREAS = [
    # What people use while an incident runs is on the bar ...
    Area("Incidents", "incidents:dashboard", _perm(incidents.VIEW), primary=True),
    Area("Declare", "incidents:declare", incidents.can_declare, primary=True),
    Area("Report an issue", "customers:report", _perm(customers.REPORT), primary=True),
    Area("On call", "oncall:index", oncall.can_view, primary=True),
    Area("Services", "intake:services", incidents.can_view_intake, primary=True),
    Area("Customers", "customers:list", _perm(customers.VIEW), primary=True),
    Area("SLA", "sla:index", _perm(sla.VIEW_PERM), primary=True),
    Area("Status page", "status:manage", _perm(status.VIEW), primary=True),
    Area("Post-mortems", "postmortems:list", postmortems.can_view, primary=True),
    # ... setting up and looking back is under "More".
    Area("Action items", "items:mine", _perm(postmortems.VIEW_ITEMS)),
    Area("Insights", "insights:index", _perm(incidents.VIEW)),
    Area("Rules", "intake:rules", incidents.can_view_intake),
    Area("Webhooks", "webhooks:webhooks", incidents.can_view_intake),
    Area("Audit", "incidents:audit-log", incidents.can_view_audit_log),
    Area("API docs", "api-docs", lambda user: user.is_authenticated),
    Area("Admin", "admin:index", lambda user: user.is_active and user.is_staff),
]


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    primary: bool
    current: bool


def _current(path: str, urls: list[str]) -> str | None:
    """The area a path belongs to: the longest area URL it starts with ("/" only for itself,
    and incident pages belong to Incidents)."""
    if path.startswith("/incidents/") and not path.startswith("/incidents/declare/"):
        return "/"
    matches = [url for url in urls if path == url or (url != "/" and path.startswith(url))]
    return max(matches, key=len, default=None)


@dataclass(frozen=True)
class Menu:
    links: list[Link]

    @property
    def primary(self) -> list[Link]:
        return [link for link in self.links if link.primary]

    @property
    def more(self) -> list[Link]:
        return [link for link in self.links if not link.primary]

    @property
    def more_is_current(self) -> bool:
        return any(link.current for link in self.more)


def menu_for(request) -> Menu:
    user = request.user
    if not user.is_authenticated:
        return Menu([])
    shown = [(area, reverse(area.url_name)) for area in AREAS if area.allowed(user)]
    current = _current(request.path, [url for _, url in shown])
    return Menu([Link(area.label, url, area.primary, url == current) for area, url in shown])


def navigation(request) -> dict:
    """Context processor. Lazy: an htmx fragment that never shows the menu asks nothing."""
    return {"menu": SimpleLazyObject(lambda: menu_for(request))}
