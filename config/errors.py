"""How Relay answers when something goes wrong: the domain errors every app raises, the one DRF
exception handler that turns them (and ValidationError) into HTTP answers, and the answer for a
URL that matches no route.

A domain error is a request the rules refuse, in a sentence a person can read. Its subclass
carries the HTTP meaning, so every surface (API, portal, signed links, email replies) answers
alike: `Conflict` (409, the current state forbids it), `NotAllowed` (403, this person may not, or
no longer), `Invalid` (400, the request itself makes no sense)."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

# Intake's answer for an unknown key or route, in PagerDuty's shape (no hint whether a key exists).
NOT_FOUND = {"status": "not found", "message": "Not found."}


class DomainError(Exception):
    """A request the domain's rules refuse; raise one of the subclasses below."""

    status = status.HTTP_409_CONFLICT

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the input it is about, when there is one (a form shows it there)


class Conflict(DomainError):
    """The current state forbids it (an incident already resolved, a swap already taken)."""

    status = status.HTTP_409_CONFLICT


class NotAllowed(DomainError):
    """The person acting may not (or may no longer) do this."""

    status = status.HTTP_403_FORBIDDEN


class Invalid(DomainError):
    """The request itself cannot be acted on, whatever the state."""

    status = status.HTTP_400_BAD_REQUEST


def api_exception_handler(exc, context):
    """DRF's handler, plus ValidationError (400) and domain errors (their status); both roll the
    request's transaction back, as DRF does for its own errors."""
    if isinstance(exc, ValidationError):
        set_rollback()
        return Response(_validation_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DomainError):
        set_rollback()
        body = {"detail": exc.message}
        if exc.field:
            body[exc.field] = [exc.message]
        return Response(body, status=exc.status)
    return drf_exception_handler(exc, context)


def _validation_body(error: ValidationError) -> dict:
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    body = error.message_dict
    if "__all__" in body:
        body[api_settings.NON_FIELD_ERRORS_KEY] = body.pop("__all__")
    return body


def not_found(request, exception):
    """API and intake clients read every answer as JSON, also when a malformed incident number,
    slug or key matches no route; people get the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    if request.path.startswith("/integrations/"):
        return JsonResponse(NOT_FOUND, status=404)
    return page_not_found(request, exception)
