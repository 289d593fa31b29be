"""Relay's URLs plus the baseline of bench/ingest.py: a bare Django endpoint that parses the JSON
body and inserts one row, the most this stack can do per request on this machine."""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as relay_urlpatterns

TABLE = "bench_ingest_baseline"


@csrf_exempt
@require_POST
def baseline(request):
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (body) VALUES (%s::jsonb)",  # noqa: S608
                       [json.dumps(body)])
    return JsonResponse({"status": "success"}, status=202)


urlpatterns = [path("bench/baseline/", baseline), *relay_urlpatterns]
