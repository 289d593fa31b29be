"""Statuspage's public v2 JSON (summary.json, status.json, components.json, incidents and
scheduled maintenances), field for field, so widgets, aggregators and scripts written against
Statuspage read ours unchanged.

Everything comes from comms.status.public (published words only; no restricted incident, no
internal component) and leaves through the response cache: a warm request runs no query. Times
are in the page's time zone with milliseconds and an offset ("Z" for UTC), as Statuspage writes
them; ids are the opaque codes, the page's own derived from the secret key.
"""

import hashlib
import hmac
import json
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.views.decorators.http import require_safe

from comms.models import Component, ComponentGroup, StatusPage
from comms.status import cache, public
from comms.status.public import IncidentView, MaintenanceView, Update

CONTENT_TYPE = "application/json"
# Statuspage's API is read by browsers on other sites (status widgets): any origin may read it.
HEADERS = {"Access-Control-Allow-Origin": "*"}
UTC_ZONES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu",
             "Etc/Zulu"}


def page_code() -> str:
    """The page's public id: stable for one secret key, and nothing internal in it."""
    return hmac.new(settings.SECRET_KEY.encode(), b"status-page", hashlib.sha256).hexdigest()[:12]


def page_url() -> str:
    return settings.SITE_URL + reverse("status:v2-summary").removesuffix("api/v2/summary.json")


class Writer:
    """Turns public.py's views into Statuspage's dictionaries for one page (its id and zone)."""

    def __init__(self, page: StatusPage):
        self.page = page
        self.page_id = page_code()
        self.zone = zoneinfo.ZoneInfo(page.time_zone)
        self.utc = page.time_zone in UTC_ZONES

    def time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        local = value.astimezone(self.zone)
        text = local.isoformat(timespec="milliseconds")
        return text.removesuffix("+00:00") + "Z" if self.utc else text

    def page_dict(self, *stamps: datetime) -> dict:
        return {"id": self.page_id, "name": self.page.name, "url": page_url(),
                "time_zone": self.page.time_zone,
                "updated_at": self.time(max([self.page.updated_at, *stamps]))}

    # --- Components -----------------------------------------------------------------------

    def component(self, component: Component) -> dict:
        group = component.group
        return {
            "id": component.code, "name": component.name, "status": component.status,
            "created_at": self.time(component.created_at),
            "updated_at": self.time(component.updated_at),
            "position": component.position, "description": component.description or None,
            "showcase": True,
            "start_date": component.created_at.astimezone(self.zone).date().isoformat(),
            "group_id": group.code if group else None, "page_id": self.page_id, "group": False,
            "only_show_if_degraded": False,
        }

    def group(self, group: ComponentGroup, children: list[Component]) -> dict:
        return {
            "id": group.code, "name": group.name,
            "status": public.worst_status(c.status for c in children),
            "created_at": self.time(group.created_at), "updated_at": self.time(group.updated_at),
            "position": group.position, "description": group.description or None,
            "showcase": False, "start_date": None, "group_id": None, "page_id": self.page_id,
            "group": True, "only_show_if_degraded": False,
            "components": [c.code for c in children],
        }

    def components(self, rows: list[Component]) -> list[dict]:
        """Components in the page's order, each group just before its members (a group with no
        public member is not shown)."""
        out, members = [], {}
        for row in rows:
            if row.group_id is not None:
                members.setdefault(row.group_id, []).append(row)
        for row in rows:
            if row.group_id is not None and members[row.group_id][0] is row:
                out.append(self.group(row.group, members[row.group_id]))
            out.append(self.component(row))
        return out

    # --- Incidents and maintenance --------------------------------------------------------

    def update(self, update: Update, parent_code: str, affected: list[Component]) -> dict:
        return {
            "id": update.code, "status": update.status, "body": update.body,
            "incident_id": parent_code, "created_at": self.time(update.created_at),
            "updated_at": self.time(update.created_at),
            "display_at": self.time(update.created_at),
            # We record which components an incident touches, not each update's before/after.
            "affected_components": [{"code": c.code, "name": c.name} for c in affected] or None,
            "deliver_notifications": True, "custom_tweet": None, "tweet_id": None,
        }

    def incident(self, view: IncidentView) -> dict:
        return {
            "id": view.code, "name": view.name, "status": view.status,
            "created_at": self.time(view.created_at), "updated_at": self.time(view.updated_at),
            "monitoring_at": self.time(view.monitoring_at),
            "resolved_at": self.time(view.resolved_at), "impact": view.impact,
            "shortlink": view.shortlink, "started_at": self.time(view.started_at),
            "page_id": self.page_id,
            "incident_updates": [self.update(u, view.code, view.components)
                                 for u in view.updates],
            "components": [self.component(c) for c in view.components],
        }

    def maintenance(self, view: MaintenanceView) -> dict:
        return {
            "id": view.code, "name": view.name, "status": view.status,
            "created_at": self.time(view.created_at), "updated_at": self.time(view.updated_at),
            "monitoring_at": None, "resolved_at": self.time(view.resolved_at),
            "impact": view.impact, "shortlink": view.shortlink,
            "started_at": self.time(view.started_at or view.scheduled_for),
            "page_id": self.page_id,
            "incident_updates": [self.update(u, view.code, view.components)
                                 for u in view.updates],
            "components": [self.component(c) for c in view.components],
            "scheduled_for": self.time(view.scheduled_for),
            "scheduled_until": self.time(view.scheduled_until),
        }


def _stamps(components=(), incidents=(), maintenances=()) -> list[datetime]:
    return ([c.updated_at for c in components] + [i.updated_at for i in incidents]
            + [m.updated_at for m in maintenances])


def _status(components, incidents, maintenances) -> dict:
    overall = public.overall(components, incidents, maintenances)
    return {"indicator": overall.indicator, "description": overall.description}


# --- Documents: each a function of what the page shows, never of the request ------------------

def summary_document() -> dict:
    writer = Writer(public.page())
    components = public.components()
    incidents = public.active_incidents()
    active = public.active_maintenances()
    maintenances = public.upcoming_maintenances() + active
    return {
        "page": writer.page_dict(*_stamps(components, incidents, maintenances)),
        "components": writer.components(components),
        "incidents": [writer.incident(i) for i in incidents],
        "scheduled_maintenances": [writer.maintenance(m) for m in maintenances],
        "status": _status(components, incidents, active),
    }


def status_document() -> dict:
    writer = Writer(public.page())
    components = public.components()
    incidents = public.active_incidents()
    active = public.active_maintenances()
    return {"page": writer.page_dict(*_stamps(components, incidents, active)),
            "status": _status(components, incidents, active)}


def components_document() -> dict:
    writer = Writer(public.page())
    components = public.components()
    return {"page": writer.page_dict(*_stamps(components)),
            "components": writer.components(components)}


def _incidents_document(incidents: list[IncidentView]) -> dict:
    writer = Writer(public.page())
    return {"page": writer.page_dict(*_stamps(incidents=incidents)),
            "incidents": [writer.incident(i) for i in incidents]}


def _maintenances_document(maintenances: list[MaintenanceView]) -> dict:
    writer = Writer(public.page())
    return {"page": writer.page_dict(*_stamps(maintenances=maintenances)),
            "scheduled_maintenances": [writer.maintenance(m) for m in maintenances]}


DOCUMENTS = {
    "summary": summary_document,
    "status": status_document,
    "components": components_document,
    "incidents": lambda: _incidents_document(public.recent_incidents()),
    "incidents-unresolved": lambda: _incidents_document(public.active_incidents()),
    "maintenances": lambda: _maintenances_document(public.recent_maintenances()),
    "maintenances-upcoming": lambda: _maintenances_document(public.upcoming_maintenances()),
    "maintenances-active": lambda: _maintenances_document(public.active_maintenances()),
}


def render(name: str) -> tuple[bytes, str]:
    body = json.dumps(DOCUMENTS[name](), separators=(",", ":"))
    return body.encode(), CONTENT_TYPE


@require_safe
def document(request, name: str):
    return cache.cached(request, f"v2:{name}", lambda: render(name), headers=HEADERS)
