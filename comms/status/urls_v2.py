"""Statuspage's public v2 JSON, at Statuspage's paths (clients only change the host)."""

from django.urls import path

from comms.status import v2

ENDPOINTS = {
    "summary.json": "summary",
    "status.json": "status",
    "components.json": "components",
    "incidents.json": "incidents",
    "incidents/unresolved.json": "incidents-unresolved",
    "scheduled-maintenances.json": "maintenances",
    "scheduled-maintenances/upcoming.json": "maintenances-upcoming",
    "scheduled-maintenances/active.json": "maintenances-active",
}

urlpatterns = [path(f"api/v2/{route}", v2.document, {"name": name}, name=f"v2-{name}")
               for route, name in ENDPOINTS.items()]
