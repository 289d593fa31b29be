"""503 with Retry-After, never 500, while the database cannot be reached.

A PostgreSQL restart or failover takes seconds; clients that are told to come back (alert
senders, the API, htmx polls, browsers) lose nothing, where a 500 says the request itself was
wrong. The error can come from anywhere in the stack: the view (process_exception), or another
middleware — the session loaded by the user lookup, the session saved on the way out. Django
turns an exception in a middleware into a 500 response before the middleware above it sees the
exception, so the request is marked from Django's `got_request_exception` signal instead, and this
middleware, outside the others, swaps the 500 for the 503. Django's own "Internal Server Error"
line with its traceback is dropped for such requests (DropUnavailableTraceback on
`django.request`): an outage is logged once, as a warning, and once again when it is over.

The broken connection is not reused: Django closes a connection on which an error occurred at the
end of the request when it is no longer usable (close_if_unusable_or_obsolete), and
CONN_HEALTH_CHECKS checks a persistent connection before its first use in a request.
"""

import logging
import sys
import threading

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
JSON_PREFIXES = ("/api/", "/integrations/")
MESSAGE = f"The database is unavailable. Please retry in {RETRY_AFTER_SECONDS} seconds."
# No template: rendering one may need the session, the user or the database.
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Relay is briefly unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Relay is briefly unavailable</h1><p>{MESSAGE}</p></body></html>
"""
_MARK = "_relay_database_unavailable"


def is_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


class _Outage:
    """Whether the last request found the database down, so an outage logs two lines, not one
    per request (a benign race between threads can add a line, never a traceback)."""

    def __init__(self):
        self.down = False
        self.lock = threading.Lock()

    def failed(self, request, error: BaseException) -> None:
        with self.lock:
            if self.down:
                return
            self.down = True
        log.warning("Database unavailable (%s: %s); answering 503 until it is back "
                    "(first: %s %s)", type(error).__name__, str(error).strip().splitlines()[0]
                    if str(error).strip() else "", request.method, request.path)

    def succeeded(self) -> None:
        if not self.down:
            return
        with self.lock:
            if not self.down:
                return
            self.down = False
        log.warning("Database reachable again")


outage = _Outage()


def unavailable_response(request) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse({"error": MESSAGE}, status=503)
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Logged once per outage (above), not once per request by Django's handler.
    response._has_been_logged = True
    return response


def _mark_request(sender, request=None, **kwargs) -> None:
    """Called by Django inside its `except` for an exception no view or middleware handled."""
    error = sys.exc_info()[1]
    if request is not None and is_unavailable(error):
        setattr(request, _MARK, True)
        outage.failed(request, error)


class DatabaseUnavailableMiddleware:
    """Place near the top of MIDDLEWARE, above every middleware that may use the database."""

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_mark_request, dispatch_uid="relay-database-unavailable")

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, _MARK, False):
            return unavailable_response(request)
        if response.status_code < 500:
            outage.succeeded()
        return response

    def process_exception(self, request, exception):
        if not is_unavailable(exception):
            return None
        outage.failed(request, exception)
        return unavailable_response(request)


class DropUnavailableTraceback(logging.Filter):
    """On `django.request`: drops the 500 line (and traceback) Django logs for a request that
    this middleware answers with a 503."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not getattr(request, _MARK, False)
