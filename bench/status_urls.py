"""Relay's URLs plus the baseline of bench/status_page.py: a bare Django endpoint answering a
constant JSON body without touching the database, the most this stack serves per request.

Until comms.status.urls_v2 has Statuspage's summary.json, a stand-in below answers it the same
way the real one must (through comms.status.cache, from comms.status.public) so the bench can run;
it is mounted only while Relay has no view at that address."""

import json

from django.http import JsonResponse
from django.urls import Resolver404, path, resolve

from comms.status import cache, public
from config.urls import urlpatterns as relay_urlpatterns

BODY = {"page": {"id": "bench", "name": "Baseline"}, "status": {"indicator": "none",
                                                             "description": "OK"}}


def baseline(request):
    return JsonResponse(BODY)


def _summary() -> tuple[bytes, str]:
    rows = public.components()
    incidents = public.active_incidents()
    body = {
        "status": {"indicator": public.overall(rows, incidents).indicator},
        "components": [{"id": c.code, "name": c.name, "status": c.status} for c in rows],
        "incidents": [{"id": i.code, "name": i.name, "status": i.status,
                       "incident_updates": [{"status": u.status, "body": u.body,
                                             "created_at": u.created_at.isoformat()}
                                            for u in i.updates]} for i in incidents],
    }
    return json.dumps(body).encode(), "application/json"


def stand_in_summary(request):
    return cache.cached(request, "bench:summary.json", _summary)


def _relay_has_summary() -> bool:
    try:
        resolve("/status/api/v2/summary.json", urlconf="config.urls")
    except Resolver404:
        return False
    return True


urlpatterns = [path("bench/baseline/", baseline)]
if not _relay_has_summary():
    urlpatterns.append(path("status/api/v2/summary.json", stand_in_summary))
urlpatterns += relay_urlpatterns
