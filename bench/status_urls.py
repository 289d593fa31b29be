"""Relay's URLs plus the baseline of bench/status_page.py: a bare Django endpoint answering a
constant JSON body without touching the database, the most this stack serves per request."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as relay_urlpatterns

BODY = {"page": {"id": "bench", "name": "Baseline"}, "status": {"indicator": "none",
                                                             "description": "OK"}}


def baseline(request):
    return JsonResponse(BODY)


urlpatterns = [path("bench/baseline/", baseline), *relay_urlpatterns]
